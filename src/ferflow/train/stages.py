"""The stage loop DICE-FER, its ResNet-18 baseline and the image controls train through (`run_stages`).

A stage is a name, a loader, the parameter groups of its Adam optimisers and a step function; the loop runs
the stages in order with bf16 autocast on CUDA, a progress bar per epoch and a checkpoint written atomically
after every epoch (stage, epoch, model, the stage's optimiser states, history, random generators), so
re-running the same call resumes, also in the middle of a stage, and ends with the weights an uninterrupted
run would have. A NaN or infinite loss stops the run with `NonFiniteLossError` naming the stage, epoch and
step, and leaves the last good checkpoint alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from timm.scheduler import CosineLRScheduler
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ferflow.core.atomic import write_json
from ferflow.core.checkpoint import save_checkpoint
from ferflow.core.runtime import Runtime
from ferflow.train.common import (
    Live,
    NonFiniteLossError,
    check_finite,
    restore_rng,
    resumable_rng,
    resumable_state,
)

__all__ = ["CHECKPOINT", "HISTORY", "Stage", "StepContext", "StepFn", "run_stages"]

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"


class StepContext:
    """What a stage's step function does with its losses: check them, then update named optimisers.

    Args:
        label: The stage as named in error messages, e.g. ``"DICE-FER stage 2 (identity)"``.
        epoch: Epoch within the stage, 0-based.
        step: Step within the epoch, 0-based.
        checkpoint: The checkpoint file (named in the NaN error).
        optimizers: The stage's optimisers by group name.
    """

    def __init__(
        self,
        label: str,
        epoch: int,
        step: int,
        checkpoint: Path,
        optimizers: dict[str, torch.optim.Optimizer],
    ) -> None:
        self.label = label
        self.epoch = epoch
        self.step = step
        self.checkpoint = checkpoint
        self.optimizers = optimizers

    def update(self, loss: Tensor, *groups: str, what: str = "loss") -> None:
        """Stop on a non-finite ``loss``; otherwise zero the groups' gradients, back-propagate, step them.

        Raises:
            NonFiniteLossError: ``loss`` is NaN or infinite (no optimiser has stepped on it).
        """
        try:
            check_finite(loss.detach().float(), self.epoch, self.step, self.checkpoint)
        except NonFiniteLossError as err:
            raise NonFiniteLossError(f"{self.label}, {what}: {err}") from None
        for name in groups:
            self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        for name in groups:
            self.optimizers[name].step()


#: One training step: a batch from the stage's loader and the context -> detached terms to log.
StepFn = Callable[[Sequence[Tensor], StepContext], dict[str, Tensor]]


@dataclass
class Stage:
    """One stage of training.

    Attributes:
        name: Short name, used in metric names (``expression``, ``identity``, ``classifier``, ``baseline``).
        label: Name in progress bars and errors.
        epochs: Number of epochs (0 skips the stage).
        loader: Training batches.
        groups: Parameters of each of the stage's Adam optimisers.
        step: Trains on one batch.
        prepare: Called before the stage's first epoch (freezing, train mode).
        unit: What one sample is, for throughput (``pair`` or ``image``).
        schedule: Makes a step-wise learning-rate schedule for one of the stage's optimisers (given the
            steps per epoch); None keeps the learning rate fixed.
    """

    name: str
    label: str
    epochs: int
    loader: DataLoader
    groups: dict[str, list[nn.Parameter]]
    step: StepFn
    prepare: Callable[[], object]
    unit: str
    schedule: Callable[[torch.optim.Optimizer, int], CosineLRScheduler] | None = None


def run_stages(
    stages: list[Stage],
    model: nn.Module,
    lr: float,
    runtime: Runtime,
    out: Path,
    run_key: str,
) -> list[dict[str, Any]]:
    """Train the stages in order, resuming from ``out/checkpoint.pt`` when it was written for ``run_key``.

    Returns:
        The history: one entry per (stage, epoch) with the epoch means of the step terms.
    """
    checkpoint_path = out / CHECKPOINT
    first_stage, first_epoch, history, optimizer_state = 0, 0, [], None
    state = resumable_state(checkpoint_path, run_key, runtime)
    if state is not None:
        model.load_state_dict(state["model"])
        history = state["history"]
        restore_rng(state["rng"])
        first_stage, first_epoch = state["stage"], state["epoch"] + 1
        if first_epoch >= stages[first_stage].epochs:  # that stage was complete: start the next one
            first_stage, first_epoch = first_stage + 1, 0
        else:
            optimizer_state = state["optimizers"]
        where = (
            f"stage {first_stage + 1}, epoch {first_epoch + 1}" if first_stage < len(stages) else "the end"
        )
        print(f"resuming {out} at {where}")

    live = Live(out / "live", enabled=True, resume=state is not None)
    offsets = [sum(s.epochs for s in stages[:k]) for k in range(len(stages))]
    for index in range(first_stage, len(stages)):
        stage = stages[index]
        if stage.epochs == 0:
            continue
        stage.prepare()
        optimizers = {name: torch.optim.Adam(params, lr=lr) for name, params in stage.groups.items()}
        schedules = (
            [stage.schedule(opt, len(stage.loader)) for opt in optimizers.values()] if stage.schedule else []
        )
        start = 0
        if index == first_stage and optimizer_state is not None:
            for name, opt in optimizers.items():
                opt.load_state_dict(optimizer_state[name])
            start = first_epoch
        for epoch in range(start, stage.epochs):
            entry = _train_epoch(stage, epoch, optimizers, runtime, checkpoint_path, schedules)
            history.append({"stage": index + 1, "name": stage.name, "epoch": epoch + 1, **entry})
            live.log({f"{stage.name}/{k}": v for k, v in entry.items()}, offsets[index] + epoch)
            save_checkpoint(
                checkpoint_path,
                {
                    "run_key": run_key,
                    "model": model.state_dict(),
                    "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
                    "stage": index,
                    "epoch": epoch,
                    "history": history,
                    "rng": resumable_rng(),
                },
            )
            write_json(out / HISTORY, history)
    live.close()
    return history


def _train_epoch(
    stage: Stage,
    epoch: int,
    optimizers: dict[str, torch.optim.Optimizer],
    runtime: Runtime,
    checkpoint: Path,
    schedules: Sequence[CosineLRScheduler] = (),
) -> dict[str, float]:
    """One epoch of a stage; returns the mean of every step term, the time and the throughput. Schedules set
    each step's learning rate from the step's number alone, so a resumed epoch gets the same rates."""
    started = time.perf_counter()
    sums: dict[str, float] = {}
    steps = samples = 0
    bar = tqdm(
        stage.loader,
        desc=f"{stage.label} epoch {epoch + 1}/{stage.epochs}",
        unit="batch",
        dynamic_ncols=True,
        leave=False,
    )
    for step, batch in enumerate(bar):
        for schedule in schedules:
            schedule.step_update(epoch * len(stage.loader) + step)
        batch = [b.to(runtime.device, non_blocking=True) for b in batch]
        terms = stage.step(batch, StepContext(stage.label, epoch, step, checkpoint, optimizers))
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value)
        steps += 1
        samples += len(batch[0])
        bar.set_postfix(loss=f"{sums['loss'] / steps:.3f}")
    seconds = time.perf_counter() - started
    return {
        **{key: total / max(steps, 1) for key, total in sums.items()},
        "seconds": seconds,
        f"{stage.unit}s_per_second": samples / seconds,
    }
