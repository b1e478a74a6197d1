"""DICE-FER throughput: training pairs/s (stage 1) and images/s (stages 2, 3 and the ResNet-18 baseline),
and inference images/s of both models, measured side by side in one run.

Each training step is the trainer's own stage step (`ferflow.train.dicefer.dicefer_stages` and
`baseline_stage`, with a `ferflow.train.stages.StepContext`) on a fixed random batch, so the figures are
those of `ferflow train-dicefer` without the data loader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ferflow.bench.timing import interleaved_times, machine_info, rate
from ferflow.config import DiceFerParams
from ferflow.core.atomic import write_json
from ferflow.core.runtime import setup_runtime
from ferflow.models import create_model
from ferflow.train.dicefer import (
    BASELINE_MODEL,
    DICEFER_MODEL,
    baseline_stage,
    dicefer_kwargs,
    dicefer_stages,
)
from ferflow.train.stages import Stage, StepContext

NUM_CLASSES = 7


def _training_job(
    stage: Stage, batch: list[torch.Tensor], lr: float, sync: Callable[[], None]
) -> Callable[[int], None]:
    optimizers = {name: torch.optim.Adam(params, lr=lr) for name, params in stage.groups.items()}
    stage.prepare()

    def step(j: int) -> None:
        stage.step(batch, StepContext(stage.label, 0, j, Path("bench"), optimizers))
        sync()

    return step


def bench_dicefer(
    out: Path, p: DiceFerParams, batch: int = 32, steps: int = 5, repeats: int = 3
) -> dict[str, Any]:
    """Time every stage's training step and both models' inference; write the figures to `out` (JSON).

    Args:
        out: JSON file for the figures.
        p: The ``dicefer`` parameters (image size, losses, lr, runtime device and AMP).
        batch: Pairs (stage 1) or images per step.
        steps: Steps per timed round.
        repeats: Timed rounds (the median is reported).
    """
    runtime = setup_runtime(p.runtime.device, p.runtime.amp)
    device = runtime.device
    torch.manual_seed(p.runtime.seed)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def images() -> torch.Tensor:
        return torch.rand(batch, 1, p.img_size, p.img_size, device=device)

    labels = torch.randint(0, NUM_CLASSES, (batch,), device=device)
    dicefer = create_model(DICEFER_MODEL, **dicefer_kwargs(p, NUM_CLASSES)).to(device)
    baseline = create_model(BASELINE_MODEL, num_classes=NUM_CLASSES).to(device)
    stage1, stage2, stage3 = dicefer_stages(dicefer, p, None, None, runtime)  # type: ignore[arg-type]
    inputs = {
        "expression": [images(), images(), labels],
        "identity": [images(), labels],
        "classifier": [images(), labels],
        "baseline": [images(), labels],
    }
    stages = [stage1, stage2, stage3, baseline_stage(baseline, None, runtime, p.baseline_epochs)]  # type: ignore[arg-type]
    results: dict[str, Any] = {}
    for stage in stages:  # one at a time: each stage freezes the others' parts
        job = _training_job(stage, inputs[stage.name], p.lr, sync)
        times, _ = interleaved_times({stage.name: job}, steps, repeats)
        unit = "pairs" if stage.unit == "pair" else "images"
        results[f"train_{stage.name}"] = {f"{unit}_per_second": rate(batch * steps, times[stage.name])}

    x = images()

    @torch.no_grad()
    def infer(model: torch.nn.Module) -> Callable[[int], None]:
        def run(_: int) -> None:
            model.eval()
            with runtime.autocast():
                model(x)
            sync()

        return run

    times, _ = interleaved_times({"dicefer": infer(dicefer), "baseline": infer(baseline)}, steps, repeats)
    for name in times:
        results[f"infer_{name}"] = {"images_per_second": rate(batch * steps, times[name])}
    figures = {
        "machine": machine_info(),
        "device": str(device),
        "amp": str(runtime.amp_dtype) if runtime.amp_dtype is not None else None,
        "settings": {"img_size": p.img_size, "batch": batch, "steps": steps, "repeats": repeats},
        "results": results,
    }
    write_json(out, figures)
    return figures
