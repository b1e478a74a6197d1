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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from timm.scheduler.scheduler import Scheduler
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from ferflow.config import IFDDParams, MixupParams, ParamsError, variant_family
from ferflow.core.atomic import write_json
from ferflow.core.checkpoint import file_digest, load_checkpoint, save_checkpoint, source_fingerprint
from ferflow.core.runtime import Runtime, seed_everything, setup_runtime, teardown_runtime
from ferflow.data.datasets import ClipAugment, ClipDataset
from ferflow.data.store import Store, StoreError, open_store
from ferflow.evaluate.metrics import uar, war
from ferflow.jobs import ifdd_key, torch_threads
from ferflow.model_names import VIDEO_MODELS, LiftingReduction
from ferflow.models import copy_backbone, create_model, model_arguments, resolved_arguments
from ferflow.models.losses import lifting_loss
from ferflow.models.pretrained import describe_init, init_state_dict
from ferflow.train.common import (
    Live,
    init_fingerprint,
    make_loader,
    make_schedule,
    restore_rng,
    resumable_rng,
    resumable_state,
    split_validation,
    train_epoch,
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


def _loaders(
    p: IFDDParams, store: Store, rows: dict[str, np.ndarray], runtime: Runtime
) -> tuple[DataLoader, dict[str, DataLoader], Callable[[Tensor], Tensor] | None]:
    """The training loader, the evaluation loaders by split name, and the batch augmentation to run on the
    device (None when the loader augments: `augment.where`)."""
    t = p.train
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
        name: ClipDataset(store, r, p.num_frames, p.img_size) for name, r in rows.items() if name != "train"
    }
    train_loader = make_loader(train_set, t.batch_size, True, runtime, t.num_workers)
    eval_loaders = {
        name: make_loader(d, t.batch_size, False, runtime, t.num_workers) for name, d in eval_sets.items()
    }
    return train_loader, eval_loaders, augment.on_batch if on_device else None


def make_mixup(m: MixupParams, num_classes: int) -> Mixup | None:
    """timm's batch Mixup/CutMix with label smoothing, or None when disabled."""
    if not m.enabled:
        return None
    return Mixup(
        mixup_alpha=m.mixup_alpha,
        cutmix_alpha=m.cutmix_alpha,
        prob=m.prob,
        switch_prob=m.switch_prob,
        mode="batch",
        label_smoothing=m.label_smoothing,
        num_classes=num_classes,
    )


def _objective(
    model: nn.Module,
    mixup: Mixup | None,
    lifting_weight: float,
    reduction: LiftingReduction | None,
    on_batch: Callable[[Tensor], Tensor] | None,
    runtime: Runtime,
) -> Callable[[Tensor, Tensor], Tensor]:
    """The training loss of a batch (augmented on the device first when `on_batch`), under autocast:
    cross-entropy (on Mixup/CutMix targets when `mixup`) plus the weighted lifting loss (none for a model
    without lifting, `reduction` None)."""
    soft_ce = SoftTargetCrossEntropy()

    def loss(x: Tensor, y: Tensor) -> Tensor:
        if on_batch is not None:
            x = on_batch(x)
        with runtime.autocast():
            if mixup is not None:
                x, soft = mixup(x, y)
            logits, features = model(x, return_features=True)
            cls = soft_ce(logits.float(), soft) if mixup is not None else F.cross_entropy(logits.float(), y)
            lift = (
                lifting_loss(features, lifting_weight, reduction)
                if lifting_weight and reduction is not None
                else 0.0
            )
            return cls + lift

    return loss


def _run_key(p: IFDDParams, variant: str, fold: int | None, inner_fold: int | None, store: Store) -> str:
    """What must match for a checkpoint to be resumed: the values this job's result depends on."""
    return json.dumps(
        {
            "params": ifdd_key(p, variant),
            "variant": variant,
            "fold": fold,
            "inner_fold": inner_fold,
            "store": store.meta.get("shape"),
            "code": source_fingerprint(),
            "init": init_fingerprint(p.init_for(variant), variant_family(variant)),
            "init_backbone_from": file_digest(src) if (src := init_backbone_path(p, variant, fold)) else None,
        },
        sort_keys=True,
    )


def _evaluate(model: nn.Module, loaders: dict[str, DataLoader], runtime: Runtime) -> dict[str, float]:
    """WAR and UAR on every evaluation split, named ``<split>/war`` and ``<split>/uar``."""
    metrics = {}
    for name, loader in loaders.items():
        logits, labels = predict(model, loader, runtime)
        metrics |= {
            f"{name}/war": war(labels, logits.argmax(1)),
            f"{name}/uar": uar(labels, logits.argmax(1)),
        }
    return metrics


def _write_model(
    out: Path,
    model: nn.Module,
    p: IFDDParams,
    variant: str,
    num_classes: int,
    store: Store,
    fold: int | None,
    best_epoch: int,
) -> None:
    """`model.pt`: the selected weights (the best epoch's under a selection other than `last`, when one was
    kept) and how to rebuild the model."""
    t = p.train
    weights = model.state_dict()
    selected_epoch = t.epochs
    if t.selection != "last" and (out / "best.pt").is_file():
        weights = load_checkpoint(out / "best.pt")["model"]
        selected_epoch = best_epoch
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


def _resume(
    checkpoint: Path,
    run_key: str,
    runtime: Runtime,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Scheduler,
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """Load the checkpoint's state into model, optimiser, schedule and random generators when it was written
    for `run_key`; returns the epoch to start at, the history so far and the best epoch so far."""
    state = resumable_state(checkpoint, run_key, runtime)
    if state is None:
        return 0, [], {"score": -1.0, "epoch": -1}
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    restore_rng(state["rng"])
    if runtime.is_main:
        print(f"resuming {checkpoint.parent} after epoch {state['epoch'] + 1}")
    return state["epoch"] + 1, state["history"], state["best"]


def _save_epoch(
    checkpoint: Path,
    run_key: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Scheduler,
    epoch: int,
    history: list[dict[str, Any]],
    best: dict[str, Any],
) -> None:
    """The resumable state after `epoch` (atomically), and the history beside it."""
    save_checkpoint(
        checkpoint,
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
    write_json(checkpoint.parent / HISTORY, history)


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
        train_loader, eval_loaders, on_batch = _loaders(
            p, store, fold_rows(store, fold, p, inner_fold), runtime
        )
        num_classes = len(store.classes)
        model = build_model(p, variant, num_classes, fold).to(runtime.device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        schedule = make_schedule(optimizer, t, len(train_loader))
        settings = p.settings_for(variant)
        reduction = settings.lifting_reduction if settings is not None else None  # a baseline has no lifting

        run_key = _run_key(p, variant, fold, inner_fold, store)
        start_epoch, history, best = _resume(checkpoint_path, run_key, runtime, model, optimizer, schedule)

        trained = torch.compile(model) if t.compile else model
        if runtime.distributed:
            trained = DistributedDataParallel(
                trained, device_ids=[runtime.device] if runtime.device.type == "cuda" else None
            )
        mixup = make_mixup(p.mixup, num_classes)
        loss_of = _objective(trained, mixup, p.lifting_weight, reduction, on_batch, runtime)
        live = Live(out / "live", runtime.is_main, resume=start_epoch > 0)
        live.log_params({"variant": variant, "fold": fold or 0})

        for epoch in range(start_epoch, t.epochs):
            started = time.perf_counter()
            if runtime.distributed:
                train_loader.sampler.set_epoch(epoch)
            desc = f"{variant} fold {fold} epoch {epoch + 1}/{t.epochs}"
            bar = tqdm(train_loader, desc=desc, disable=not runtime.is_main, dynamic_ncols=True, leave=False)
            losses = train_epoch(trained, bar, loss_of, optimizer, schedule, runtime, epoch, checkpoint_path)
            metrics = {
                "train/loss": float(np.mean(losses)),
                "lr": optimizer.param_groups[0]["lr"],
                "epoch_seconds": time.perf_counter() - started,
            }
            metrics |= _evaluate(model, eval_loaders, runtime)
            history.append({"epoch": epoch + 1, **metrics})
            score = _selection_score(metrics, t.selection)
            if runtime.is_main:
                live.log(metrics, epoch)
                if score is not None and score > best["score"]:
                    best = {"score": score, "epoch": epoch + 1}
                    save_checkpoint(out / "best.pt", {"model": model.state_dict()})
                _save_epoch(checkpoint_path, run_key, model, optimizer, schedule, epoch, history, best)
        live.close()

        if runtime.is_main:
            _write_model(out, model, p, variant, num_classes, store, fold, best["epoch"])
        return history[-1] if history else {}
    finally:
        teardown_runtime(runtime)
