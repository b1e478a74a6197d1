"""Face-recognition pretraining: the starting point both papers train from (`init: faceid`).

A trunk (DICE-FER's ResNet-18 or IFDD's MobileNetV2, at the sizes those sections use) learns face identities
with a margin loss from pytorch-metric-learning (ArcFace or CosFace; the loss owns the class weights, which
the optimiser updates with the network). After every epoch the trunk is scored by face verification on
held-out identities (LFW's 10-fold protocol, TAR at FAR 1e-3); the scores are monitored, never used to pick
an epoch: the last epoch's trunk is written.

Resumable and NaN-guarded like the other trainers (`checkpoint.pt` every epoch, keyed on the parameters,
data and code); bf16 autocast on CUDA. Outputs in the job folder: `trunk.pt` (the trunk's weights in
torchvision's key layout), `model_card.json` / `model_card.md`, `metrics.json` (verification),
`verification_scores.csv`, `history.json` and `live/` (dvclive).
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_metric_learning
import torch
from pytorch_metric_learning import losses
from torch import nn
from tqdm import tqdm

from ferflow import __version__
from ferflow.config import PretrainParams, TrunkSpec
from ferflow.core.atomic import write_json
from ferflow.core.checkpoint import save_checkpoint, source_fingerprint
from ferflow.core.runtime import Runtime, seed_everything, setup_single_device, teardown_runtime
from ferflow.data.datasets import ImageDataset
from ferflow.data.prepare_faces import PAIRS, TRAIN_STORE, VERIFY_STORE, read_pairs
from ferflow.data.store import Store, open_store
from ferflow.evaluate.verification import verification_metrics
from ferflow.jobs import pretrain_key, torch_threads
from ferflow.models.faceid import FaceIdNet, embed
from ferflow.train.common import (
    Live,
    make_loader,
    make_schedule,
    restore_rng,
    resumable_rng,
    resumable_state,
    train_epoch,
)

CHECKPOINT = "checkpoint.pt"
TRUNK = "trunk.pt"
CARD = "model_card.json"
CARD_MD = "model_card.md"
METRICS = "metrics.json"
SCORES = "verification_scores.csv"
HISTORY = "history.json"
#: The papers' margins: ArcFace 0.5 rad (Deng et al. 2019), CosFace 0.35 (Wang et al. 2018).
PAPER_MARGIN = {"arcface": 0.5, "cosface": 0.35}
FAR = 1e-3


def margin_of(p: PretrainParams) -> float:
    """The margin in the paper's unit: radians for ArcFace, a cosine offset for CosFace."""
    return p.margin if p.margin is not None else PAPER_MARGIN[p.loss]


def margin_loss(p: PretrainParams, num_classes: int) -> nn.Module:
    """pytorch-metric-learning's ArcFaceLoss (which takes its margin in degrees) or CosFaceLoss."""
    if p.loss == "arcface":
        return losses.ArcFaceLoss(
            num_classes, p.embedding_dim, margin=math.degrees(margin_of(p)), scale=p.scale
        )
    return losses.CosFaceLoss(num_classes, p.embedding_dim, margin=margin_of(p), scale=p.scale)


def set_margin(loss: nn.Module, margin: float) -> None:
    """Change the margin a pytorch-metric-learning margin loss applies. Both losses apply `.margin` (ArcFace
    converts its degrees to radians at construction), so 0 makes either a normalised softmax."""
    loss.margin = margin


def describe_loss(p: PretrainParams) -> str:
    m = margin_of(p)
    if p.loss == "arcface":
        margin = f"additive angular margin {m} rad (pml ArcFaceLoss margin={math.degrees(m):.2f} degrees)"
    else:
        margin = f"cosine margin {m} (pml CosFaceLoss)"
    warm = f", margin 0 for the first {p.margin_warmup_epochs} epoch(s)" if p.margin_warmup_epochs else ""
    return f"{p.loss}: {margin}, scale {p.scale}, {p.embedding_dim}-d embedding{warm}"


class Verifier:
    """Scores a model on the verification pairs `prepare_faces` kept (absent when none were configured)."""

    def __init__(self, faces_dir: Path, spec: TrunkSpec, grey: bool, runtime: Runtime, batch: int) -> None:
        store = open_store(faces_dir / VERIFY_STORE)
        rows = read_pairs(faces_dir)
        where = {r["sample_id"]: i for i, r in enumerate(store.index)}
        self.first = torch.tensor([where[r["first"]] for r in rows])
        self.second = torch.tensor([where[r["second"]] for r in rows])
        self.same = np.array([r["same"] == "1" for r in rows])
        self.folds = np.array([int(r["fold"]) for r in rows])
        dataset = ImageDataset(store, np.arange(len(store.index)), spec.img_size, train=False, grey=grey)
        self.loader = make_loader(dataset, batch, False, runtime, 0)
        self.device = runtime.device

    def scores(self, model: FaceIdNet) -> np.ndarray:
        """Cosine similarity of every pair."""
        e = embed(model, self.loader, self.device)
        return (e[self.first] * e[self.second]).sum(1).numpy()

    def __call__(self, model: FaceIdNet) -> dict[str, Any]:
        return verification_metrics(self.scores(model), self.same, self.folds, FAR)


def _run_key(p: PretrainParams, spec: TrunkSpec, stores: list[Store]) -> str:
    recipe = pretrain_key(p)
    shapes = [s.meta.get("shape") for s in stores]
    return json.dumps(
        {"params": recipe, "spec": asdict(spec), "stores": shapes, "code": source_fingerprint()},
        sort_keys=True,
    )


def _start(p: PretrainParams) -> Runtime:
    t = p.train
    runtime = setup_single_device(t.device, t.amp, "pretraining runs", "pretrain.train.gpus")
    torch.set_num_threads(torch_threads(t.threads))
    seed_everything(t.seed)
    return runtime


def _resume(
    checkpoint: Path, run_key: str, runtime: Runtime, parts: dict[str, Any]
) -> tuple[int, list[dict[str, Any]]]:
    """Load the checkpoint's state into `parts` (anything with `load_state_dict`, by the checkpoint's key)
    and the random generators when it was written for `run_key`; returns the epoch to start at and the
    history so far."""
    state = resumable_state(checkpoint, run_key, runtime)
    if state is None:
        return 0, []
    for name, part in parts.items():
        part.load_state_dict(state[name])
    restore_rng(state["rng"])
    print(f"resuming {checkpoint.parent} after epoch {state['epoch'] + 1}")
    return state["epoch"] + 1, state["history"]


def pretrain(p: PretrainParams, spec: TrunkSpec, faces_dir: Path, out: Path) -> dict[str, Any]:
    """Pretrain one trunk on the stores `prepare_faces` wrote; returns the final verification metrics.

    Raises:
        NonFiniteLossError: The loss became NaN or infinite (the last good checkpoint is kept).
    """
    t = p.train
    faces_dir, out = Path(faces_dir), Path(out)
    checkpoint_path = out / CHECKPOINT
    runtime = _start(p)
    try:
        train_store = open_store(faces_dir / TRAIN_STORE)
        model = FaceIdNet(spec.trunk, p.embedding_dim, spec.width_mult).to(runtime.device)  # type: ignore[arg-type]
        loss_fn = margin_loss(p, len(train_store.classes)).to(runtime.device)
        rows = np.arange(len(train_store.index))
        dataset = ImageDataset(train_store, rows, spec.img_size, True, model.grey, p.max_rotation)
        loader = make_loader(dataset, t.batch_size, True, runtime, t.num_workers)
        verify = (
            Verifier(faces_dir, spec, model.grey, runtime, t.batch_size)
            if (faces_dir / PAIRS).is_file()
            else None
        )
        optimizer = torch.optim.AdamW(
            [*model.parameters(), *loss_fn.parameters()], lr=t.lr, weight_decay=t.weight_decay
        )
        schedule = make_schedule(optimizer, t, len(loader))
        stores = [train_store] + ([open_store(faces_dir / VERIFY_STORE)] if verify else [])
        run_key = _run_key(p, spec, stores)

        parts = {"model": model, "loss": loss_fn, "optimizer": optimizer, "schedule": schedule}
        start_epoch, history = _resume(checkpoint_path, run_key, runtime, parts)

        trained = torch.compile(model) if t.compile else model

        def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            with runtime.autocast():
                embedding = trained(x)
            return loss_fn(embedding.float(), y)

        live = Live(out / "live", True, resume=start_epoch > 0)
        live.log_params({"trunk": spec.trunk, "loss": p.loss})
        for epoch in range(start_epoch, t.epochs):
            started = time.perf_counter()
            set_margin(loss_fn, 0.0 if epoch < p.margin_warmup_epochs else margin_of(p))
            bar = tqdm(loader, desc=f"pretrain {spec.trunk} epoch {epoch + 1}/{t.epochs}", leave=False)
            losses_seen = train_epoch(
                trained, bar, loss_of, optimizer, schedule, runtime, epoch, checkpoint_path
            )
            metrics = {
                "train/loss": float(np.mean(losses_seen)),
                "lr": optimizer.param_groups[0]["lr"],
                "epoch_seconds": time.perf_counter() - started,
            }
            if verify is not None:
                v = verify(model)
                metrics |= {"verify/accuracy": v["accuracy"], "verify/tar": v["tar"]}
            history.append({"epoch": epoch + 1, **metrics})
            live.log(metrics, epoch)
            save_checkpoint(
                checkpoint_path,
                {"run_key": run_key, **{name: part.state_dict() for name, part in parts.items()}}
                | {"epoch": epoch, "history": history, "rng": resumable_rng()},
            )
            write_json(out / HISTORY, history)
        live.close()
        return _write_outputs(out, p, spec, model, train_store, verify, history)
    finally:
        teardown_runtime(runtime)


def _write_outputs(
    out: Path,
    p: PretrainParams,
    spec: TrunkSpec,
    model: FaceIdNet,
    train_store: Store,
    verify: Verifier | None,
    history: list[dict[str, Any]],
) -> dict[str, Any]:
    """The trunk in torchvision's layout, the verification scores and metrics, and the model card."""
    save_checkpoint(out / TRUNK, model.trunk_state_dict())
    metrics: dict[str, Any] = {"trunk": spec.trunk, "verification": None}
    if verify is not None:
        scores = verify.scores(model)
        metrics["verification"] = verification_metrics(scores, verify.same, verify.folds, FAR)
        lines = ["fold,same,score"] + [
            f"{f},{int(s)},{c:.6f}" for f, s, c in zip(verify.folds, verify.same, scores, strict=True)
        ]
        (out / SCORES).write_text("\n".join(lines) + "\n")
    write_json(out / METRICS, metrics)
    constructor = "resnet18()" if spec.trunk == "resnet18" else f"mobilenet_v2(width_mult={spec.width_mult})"
    card = {
        "trunk": spec.trunk,
        "layout": f"torchvision {constructor} state dict without its classifier",
        "input": (
            f"grey {spec.img_size}x{spec.img_size} in [0, 1], replicated to 3 channels, no normalisation"
            if model.grey
            else f"RGB {spec.img_size}x{spec.img_size} in [0, 1], ImageNet mean/std applied inside the model"
        ),
        "width_mult": spec.width_mult,
        "dataset": train_store.meta.get("dataset", ""),
        "align_backend": train_store.meta.get("align_backend"),
        "identities": len(train_store.classes),
        "images": len(train_store.index),
        "epochs": p.train.epochs,
        "batch_size": p.train.batch_size,
        "optimizer": f"AdamW lr {p.train.lr}, weight decay {p.train.weight_decay}, warm-up "
        f"{p.train.warmup_epochs} epoch(s), cosine to {p.train.min_lr_ratio} x lr",
        "loss": describe_loss(p),
        "seed": p.train.seed,
        "train_seconds": round(sum(h["epoch_seconds"] for h in history), 1),
        "verification": metrics["verification"],
        "versions": {
            "ferflow": __version__,
            "torch": torch.__version__,
            "pytorch-metric-learning": pytorch_metric_learning.__version__,
            "python": platform.python_version(),
        },
    }
    write_json(out / CARD, card)
    (out / CARD_MD).write_text(model_card_markdown(card))
    return metrics


def model_card_markdown(card: dict[str, Any]) -> str:
    """The model card as a Markdown table."""
    v = card["verification"]
    verification = (
        f"{v['accuracy']:.2%} ± {v['accuracy_std']:.2%} (10-fold, {v['pairs']} pairs); TAR {v['tar']:.2%} at "
        f"FAR ≤ {v['far']:g} (resolution {v['far_resolution']:.1e})"
        if v
        else "not measured (pretrain.verification.dataset: none)"
    )
    rows = [
        ("trunk", card["trunk"]),
        ("weights layout", card["layout"]),
        ("input", card["input"]),
        ("dataset", f"{card['dataset']} ({card['align_backend']} alignment)"),
        ("identities / images", f"{card['identities']} / {card['images']}"),
        ("epochs / batch", f"{card['epochs']} / {card['batch_size']}"),
        ("optimiser", card["optimizer"]),
        ("loss", card["loss"]),
        ("verification", verification),
        ("training time", f"{card['train_seconds']} s"),
    ]
    body = "\n".join(f"| {k} | {val} |" for k, val in rows)
    return f"# Face-recognition trunk: {card['trunk']}\n\n| | |\n|---|---|\n{body}\n"


def summarize_pretraining(metrics_files: list[Path], out: Path) -> dict[str, Any]:
    """One JSON of every pretrained trunk's verification figures (DVC tracks it as a metric)."""
    summary = {}
    for path in metrics_files:
        metrics = json.loads(Path(path).read_text())
        v = metrics.get("verification") or {}
        summary[metrics["trunk"]] = {
            k: v[k] for k in ("accuracy", "accuracy_std", "tar", "far", "pairs") if k in v
        }
    write_json(Path(out), summary)
    return summary
