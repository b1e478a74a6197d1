"""Train IFDD (or its static baseline) on one fold of a clip store.

A plain epoch loop in the manner of torchvision's references: AdamW with warm-up and cosine decay, Mixup/
CutMix with label smoothing, the lifting loss, bf16 autocast on CUDA, optional `torch.compile`, DDP under
torchrun (only rank 0 writes). A checkpoint is written atomically after every epoch; re-running the same
command resumes from it and ends where an uninterrupted run would. A NaN loss stops the run with a clear
error and leaves the last good checkpoint alone.

Outputs in the job folder: `checkpoint.pt` (resumable state), `model.pt` (the selected weights and how to
rebuild the model), `history.json` (per-epoch metrics) and `live/` (dvclive).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from ferflow.config import IFDDParams, ParamsError, variant_family
from ferflow.core.atomic import write_json
from ferflow.core.checkpoint import file_digest, load_checkpoint, save_checkpoint, source_fingerprint
from ferflow.core.runtime import Runtime, seed_everything, setup_runtime, teardown_runtime
from ferflow.data.datasets import ClipAugment, ClipDataset
from ferflow.data.store import Store, StoreError, open_store
from ferflow.evaluate.metrics import uar, war
from ferflow.jobs import ifdd_key, torch_threads
from ferflow.model_names import VIDEO_MODELS
from ferflow.models import copy_backbone, create_model, model_arguments, resolved_arguments
from ferflow.models.losses import lifting_loss
from ferflow.models.pretrained import describe_init, init_state_dict
from ferflow.train.common import (
    Live,
    check_finite,
    init_fingerprint,
    make_loader,
    make_schedule,
    restore_rng,
    resumable_rng,
    resumable_state,
    split_validation,
)

CHECKPOINT = "checkpoint.pt"
MODEL = "model.pt"
HISTORY = "history.json"


def model_kwargs(p: IFDDParams, variant: str, num_classes: int) -> dict[str, Any]:
    """Factory arguments for a variant: shared ones, IFDD's switches and its per-variant settings for the
    IFDD models, and the entries of `ifdd.model` that the variant's factory takes (e.g. `embed_dim` reaches
    IFDD, not the baseline)."""
    accepted = model_arguments(variant)
    # Checked against every video model: a job is given its own variant only (ferflow.jobs).
    unknown = sorted(k for k in p.model if not any(k in model_arguments(v) for v in VIDEO_MODELS))
    if unknown:
        raise ParamsError(f"ifdd.model: {unknown} is taken by no video model; remove the key")
    kwargs: dict[str, Any] = {
        "num_classes": num_classes,
        "num_frames": p.num_frames,
        "img_size": p.img_size,
        "dropout": p.dropout,
        **{k: v for k, v in p.model.items() if k in accepted},
    }
    settings = p.settings_for(variant)
    if settings is not None:
        kwargs |= {
            "drop_path": p.drop_path,
            "split": p.split,
            "use_ladm": p.use_ladm,
            "issm_sampling": settings.issm_sampling,
            "mlp_residual": settings.mlp_residual,
            "pool_init": settings.pool_init,
            "ladm_input_norm": settings.ladm_input_norm,
        }
    return kwargs


def init_backbone_path(p: IFDDParams, variant: str, fold: int | None) -> Path | None:
    """The model file whose backbone starts `variant` on `fold` (`ifdd.init_backbone_from`), if any."""
    template = p.init_backbone_from.get(variant)
    return None if template is None else Path(template.format(fold=fold or 0))


def build_model(p: IFDDParams, variant: str, num_classes: int, fold: int | None) -> nn.Module:
    """The variant with its backbone started from `ifdd.init`, then from `init_backbone_from` if given."""
    kwargs = model_kwargs(p, variant, num_classes)
    choice, family = p.init_for(variant), variant_family(variant)
    weights = init_state_dict(choice, family)
    if weights is not None:
        kwargs["backbone_weights"] = weights
    model = create_model(variant, **kwargs)
    print(f"{variant}: backbone starts from {describe_init(choice, family)}")
    init = init_backbone_path(p, variant, fold)
    if init is not None:
        print(f"{variant}: {copy_backbone(model, init)} backbone tensors from {init}")
    return model


def fold_rows(
    store: Store, fold: int | None, p: IFDDParams, inner_fold: int | None = None
) -> dict[str, np.ndarray]:
    """Train, test and (with selection = val) validation rows of a fold.

    With `inner_fold`, a validation split of the training identities for choosing settings: fold
    `inner_fold`'s identities validate, the fold's other training identities train, and the test fold is
    left out (never read).
    """
    if inner_fold is not None:
        if fold is None or inner_fold == fold:
            raise StoreError(f"inner fold {inner_fold}: give another fold of a 5-fold store than {fold}")
        rows = {
            "train": np.setdiff1d(store.rows("train", fold), store.rows("test", inner_fold)),
            "val": store.rows("test", inner_fold),
        }
    else:
        rows = {"train": store.rows("train", fold), "test": store.rows("test", fold)}
    if p.train.selection == "val" and inner_fold is None:
        rows["train"], rows["val"] = split_validation(
            store.labels, rows["train"], p.train.val_fraction, p.train.seed
        )
    for name, r in rows.items():
        if not len(r):
            folds = sorted({int(f) for f in (row["fold"] for row in store.index) if f})
            held = f"folds {folds}" if folds else "one fixed split (fold 0)"
            raise StoreError(f"{store.root}: fold {fold} has no {name} samples; the store holds {held}")
    return rows


@torch.no_grad()
def predict(
    model: nn.Module, loader: torch.utils.data.DataLoader, runtime: Runtime
) -> tuple[np.ndarray, ...]:
    """Logits and labels of every sample in a loader (in order)."""
    model.eval()
    logits, labels = [], []
    for x, y in loader:
        with runtime.autocast():
            logits.append(model(x.to(runtime.device, non_blocking=True)).float().cpu())
        labels.append(y)
    return torch.cat(logits).numpy(), torch.cat(labels).numpy()


def _selection_score(metrics: dict[str, float], selection: str) -> float | None:
    return {"val": metrics.get("val/uar"), "test": metrics.get("test/uar")}.get(selection)


def permuted_labels(labels: np.ndarray, seed: int) -> np.ndarray:
    """The null control's training labels: the same labels shuffled across the training clips (class
    counts kept, any link between a clip and its label broken), reproducibly from the seed."""
    return np.random.default_rng([seed, 0x5EED]).permutation(labels)


def train_ifdd(
    p: IFDDParams,
    store_dir: Path,
    variant: str,
    fold: int | None,
    out: Path,
    inner_fold: int | None = None,
) -> dict[str, Any]:
    """Train one variant on one fold; returns the final epoch's metrics. With `inner_fold`, train on the
    other training identities and validate on that fold's (`fold_rows`): the test fold is not read."""
    t = p.train
    runtime = setup_runtime(t.device, t.amp)
    torch.set_num_threads(torch_threads(t.threads))
    out = Path(out)
    checkpoint_path = out / CHECKPOINT
    try:
        seed_everything(t.seed)
        store = open_store(store_dir, "clips", "train-ifdd")
        rows = fold_rows(store, fold, p, inner_fold)
        augment = ClipAugment(
            scale=(p.augment.scale.low, p.augment.scale.high), flip=p.augment.flip, jitter=p.augment.jitter
        )
        on_device = p.augment.where == "device"  # the loader only reads and resizes; on_batch augments
        train_set = ClipDataset(
            store, rows["train"], p.num_frames, p.img_size, augment=augment, deferred=on_device
        )
        if t.permute_labels:
            train_set.labels = permuted_labels(train_set.labels, t.seed)
        eval_sets = {
            name: ClipDataset(store, r, p.num_frames, p.img_size)
            for name, r in rows.items()
            if name != "train"
        }
        train_loader = make_loader(train_set, t.batch_size, True, runtime, t.num_workers)
        eval_loaders = {
            name: make_loader(d, t.batch_size, False, runtime, t.num_workers) for name, d in eval_sets.items()
        }

        num_classes = len(store.classes)
        model = build_model(p, variant, num_classes, fold).to(runtime.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        schedule = make_schedule(optimizer, t, len(train_loader))
        mixup = (
            Mixup(
                mixup_alpha=p.mixup.mixup_alpha,
                cutmix_alpha=p.mixup.cutmix_alpha,
                prob=p.mixup.prob,
                switch_prob=p.mixup.switch_prob,
                mode="batch",
                label_smoothing=p.mixup.label_smoothing,
                num_classes=num_classes,
            )
            if p.mixup.enabled
            else None
        )
        soft_ce = SoftTargetCrossEntropy()
        settings = p.settings_for(variant)
        reduction = settings.lifting_reduction if settings is not None else None  # a baseline has no lifting

        start_epoch, history, best = 0, [], {"score": -1.0, "epoch": -1}
        # What must match for a checkpoint to be resumed: the values this job's result depends on.
        run_key = json.dumps(
            {
                "params": ifdd_key(p, variant),
                "variant": variant,
                "fold": fold,
                "inner_fold": inner_fold,
                "store": store.meta.get("shape"),
                "code": source_fingerprint(),
                "init": init_fingerprint(p.init_for(variant), variant_family(variant)),
                "init_backbone_from": file_digest(src)
                if (src := init_backbone_path(p, variant, fold))
                else None,
            },
            sort_keys=True,
        )
        state = resumable_state(checkpoint_path, run_key, runtime)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            start_epoch, history, best = state["epoch"] + 1, state["history"], state["best"]
            restore_rng(state["rng"])
            if runtime.is_main:
                print(f"resuming {out} after epoch {start_epoch}")

        trained = torch.compile(model) if t.compile else model
        if runtime.distributed:
            trained = DistributedDataParallel(
                trained, device_ids=[runtime.device] if runtime.device.type == "cuda" else None
            )
        live = Live(out / "live", runtime.is_main, resume=start_epoch > 0)
        live.log_params({"variant": variant, "fold": fold or 0})

        for epoch in range(start_epoch, t.epochs):
            started = time.perf_counter()
            trained.train()
            if runtime.distributed:
                train_loader.sampler.set_epoch(epoch)
            losses = []
            bar = tqdm(
                train_loader,
                desc=f"{variant} fold {fold} epoch {epoch + 1}/{t.epochs}",
                disable=not runtime.is_main,
                dynamic_ncols=True,
                leave=False,
            )
            for step, (x, y) in enumerate(bar):
                x, y = x.to(runtime.device, non_blocking=True), y.to(runtime.device, non_blocking=True)
                if on_device:
                    x = augment.on_batch(x)
                with runtime.autocast():
                    if mixup is not None:
                        x, soft = mixup(x, y)
                    logits, features = trained(x, return_features=True)
                    cls = (
                        soft_ce(logits.float(), soft)
                        if mixup is not None
                        else F.cross_entropy(logits.float(), y)
                    )
                    lift = (
                        lifting_loss(features, p.lifting_weight, reduction)
                        if p.lifting_weight and reduction is not None
                        else 0.0
                    )
                    loss = cls + lift
                check_finite(loss, epoch, step, checkpoint_path)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step_update(epoch * len(train_loader) + step + 1)
                losses.append(loss.item())
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")

            metrics = {
                "train/loss": float(np.mean(losses)),
                "lr": optimizer.param_groups[0]["lr"],
                "epoch_seconds": time.perf_counter() - started,
            }
            for name, loader in eval_loaders.items():
                logits, labels = predict(model, loader, runtime)
                metrics |= {
                    f"{name}/war": war(labels, logits.argmax(1)),
                    f"{name}/uar": uar(labels, logits.argmax(1)),
                }
            history.append({"epoch": epoch + 1, **metrics})
            score = _selection_score(metrics, t.selection)
            if runtime.is_main:
                live.log(metrics, epoch)
                if score is not None and score > best["score"]:
                    best = {"score": score, "epoch": epoch + 1}
                    save_checkpoint(out / "best.pt", {"model": model.state_dict()})
                save_checkpoint(
                    checkpoint_path,
                    {
                        "run_key": run_key,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "epoch": epoch,
                        "history": history,
                        "best": best,
                        "rng": resumable_rng(),
                    },
                )
                write_json(out / HISTORY, history)
        live.close()

        if runtime.is_main:
            weights = model.state_dict()
            selected_epoch = t.epochs
            if t.selection != "last" and (out / "best.pt").is_file():
                weights = load_checkpoint(out / "best.pt")["model"]
                selected_epoch = best["epoch"]
            save_checkpoint(
                out / MODEL,
                {
                    "model": weights,
                    "variant": variant,
                    "kwargs": resolved_arguments(variant, model_kwargs(p, variant, num_classes)),
                    "classes": list(store.classes),
                    "data": {"shape": store.meta["shape"], "align_backend": store.meta.get("align_backend")},
                    "fold": fold or 0,
                    "selection": t.selection,
                    "selected_epoch": selected_epoch,
                },
            )
        return history[-1] if history else {}
    finally:
        teardown_runtime(runtime)
