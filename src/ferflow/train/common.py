"""Pieces every training loop shares: loaders, schedules, logging, finiteness checks, resumable state."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from timm.scheduler import CosineLRScheduler
from timm.scheduler.scheduler import Scheduler
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from ferflow.config import OptimParams
from ferflow.core.checkpoint import file_digest, load_checkpoint, rng_state, set_rng_state
from ferflow.core.runtime import Runtime
from ferflow.models.pretrained import TORCHVISION_WEIGHTS
from ferflow.paths import init_file


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is left untouched."""


def check_finite(loss: torch.Tensor, epoch: int, step: int, checkpoint: Path) -> None:
    if not torch.isfinite(loss).all():
        kept = (
            f"the last good checkpoint is kept: {checkpoint}" if checkpoint.is_file() else "no checkpoint yet"
        )
        raise NonFiniteLossError(
            f"loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}; stopping ({kept}). "
            "Lower the learning rate, turn off AMP, or check the inputs."
        )


def train_epoch(
    model: nn.Module,
    bar: tqdm,
    loss_of: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    schedule: Scheduler,
    runtime: Runtime,
    epoch: int,
    checkpoint: Path,
) -> list[float]:
    """One epoch over the (x, y) batches of `bar` (a progress bar over the loader): the loss of each batch
    (`loss_of` runs the model, under autocast where it wants it), a stop on a non-finite one
    (`check_finite`), a step, and the schedule set from the step's number. Returns every step's loss."""
    model.train()
    losses = []
    for step, (x, y) in enumerate(bar):
        x, y = x.to(runtime.device, non_blocking=True), y.to(runtime.device, non_blocking=True)
        loss = loss_of(x, y)
        check_finite(loss, epoch, step, checkpoint)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step_update(epoch * len(bar) + step + 1)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return losses


def split_validation(
    labels: np.ndarray, rows: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Carve a stratified validation split out of the training rows (for honest model selection)."""
    train, val = train_test_split(rows, test_size=fraction, random_state=seed, stratify=labels[rows])
    return np.sort(train), np.sort(val)


def make_loader(dataset: Dataset, batch_size: int, train: bool, runtime: Runtime, workers: int) -> DataLoader:
    """A DataLoader. Distributed runs shard training data by rank; evaluation data is not sharded, so every
    rank (rank 0 writes) scores the whole split. Training drops the last batch (Mixup needs it even)."""
    sampler = DistributedSampler(dataset, shuffle=True) if runtime.distributed and train else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=train and sampler is None,
        sampler=sampler,
        drop_last=train and len(dataset) >= batch_size,
        num_workers=workers,
        pin_memory=runtime.device.type == "cuda",
        persistent_workers=False,
    )


def make_schedule(
    optimizer: torch.optim.Optimizer, t: OptimParams, steps_per_epoch: int
) -> CosineLRScheduler:
    """Linear warm-up from 1% of lr, then cosine to `min_lr_ratio`·lr, updated every step.

    The warm-up ends exactly at lr (no overshoot, unlike the IFDD reference's schedule).
    """
    total = t.epochs * steps_per_epoch
    warmup = round(t.warmup_epochs * steps_per_epoch)
    return CosineLRScheduler(
        optimizer,
        t_initial=max(1, total - warmup),
        lr_min=t.lr * t.min_lr_ratio,
        warmup_t=warmup,
        warmup_lr_init=t.lr * 0.01,
        warmup_prefix=True,
        t_in_epochs=False,
    )


def resumable_state(path: Path, run_key: str, runtime: Runtime) -> dict[str, Any] | None:
    """The checkpoint at `path` when it was written for `run_key` (same parameters, data and code), else
    None; a checkpoint of another run is left alone and not resumed, and rank 0 says so."""
    state = load_checkpoint(path, runtime.device) if path.is_file() else None
    if state is not None and state.get("run_key") != run_key:
        if runtime.is_main:
            print(f"{path}: written with other parameters, data or code; starting afresh")
        return None
    return state


def resumable_rng() -> dict[str, Any]:
    """Generators a resumed run must restore: torch's and numpy's (timm's Mixup draws from numpy)."""
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": rng_state(),
        "numpy_key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
        "numpy_pos": int(np_state["state"]["pos"]),
        "numpy_gauss": [int(np_state["has_gauss"]), float(np_state["gauss"])],
    }


def restore_rng(state: dict[str, Any]) -> None:
    set_rng_state(state["torch"])
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": state["numpy_key"].numpy().astype(np.uint32), "pos": state["numpy_pos"]},
            "has_gauss": state["numpy_gauss"][0],
            "gauss": state["numpy_gauss"][1],
        }
    )


class Live:
    """dvclive logging inside the job's own folder (no DVC experiment, no dvc.yaml: Snakemake owns those).
    A no-op on ranks other than 0."""

    def __init__(self, folder: Path, enabled: bool, resume: bool) -> None:
        self._live = None
        if enabled:
            from dvclive import Live as DvcLive

            self._live = DvcLive(str(folder), save_dvc_exp=False, dvcyaml=False, resume=resume, report=None)

    def log(self, metrics: dict[str, float], step: int) -> None:
        if self._live is None:
            return
        self._live.step = step
        for name, value in metrics.items():
            self._live.log_metric(name, value)
        self._live.next_step()

    def log_params(self, params: dict[str, Any]) -> None:
        if self._live is not None:
            self._live.log_params(params)

    def close(self) -> None:
        if self._live is not None:
            self._live.end()


def mean_of(values: Iterable[float]) -> float:
    values = list(values)
    return float(sum(values) / len(values)) if values else float("nan")


def init_fingerprint(choice: str, family: str) -> str | None:
    """What a resume key records of a trunk's start: the file's SHA-256, or the torchvision weights' name."""
    if (choice, family) in TORCHVISION_WEIGHTS:
        return str(TORCHVISION_WEIGHTS[choice, family])
    path = init_file(choice, family)
    return file_digest(path) if path is not None and path.is_file() else None
