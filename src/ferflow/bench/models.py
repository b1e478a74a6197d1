"""Model throughput: training and inference clips/s of IFDD and of its backbone alone (the baseline),
measured side by side in one run so their ratio is IFDD's overhead."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ferflow.bench.timing import interleaved_times, machine_info, rate, ratio
from ferflow.core.atomic import write_json
from ferflow.data.datasets import ClipAugment
from ferflow.models import create_model, model_arguments
from ferflow.models.losses import lifting_loss

PAIRS = {"mobilenetv2": ("ifdd_mobilenetv2", "baseline_mobilenetv2"), "mvit": ("ifdd_mvit", "baseline_mvit")}


def bench_device(device: str) -> torch.device:
    """The device a benchmark runs on: "auto" is CUDA where available, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def device_info(device: torch.device) -> dict[str, Any]:
    """`machine_info`, with the GPU's name when the benchmark runs on one."""
    return machine_info() | ({"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {})


def step_fns(
    name: str,
    batch: int,
    num_frames: int,
    img_size: int,
    device: torch.device,
    amp: torch.dtype | None,
    model_kwargs: dict[str, Any],
    compile: bool = False,
    augment: ClipAugment | None = None,
) -> tuple[Callable[[int], None], ...]:
    """A training step (forward, both losses, backward, AdamW) and an inference step for one model, both
    on a ready float batch, and a training step that first augments a uint8 batch on the device with
    `augment` (`ClipAugment.on_batch`, as `ifdd.augment.where: device` does)."""
    accepted = model_arguments(name)  # e.g. embed_dim reaches IFDD, not its baseline
    kwargs = {k: v for k, v in model_kwargs.items() if k in accepted}
    model = create_model(name, num_classes=7, num_frames=num_frames, img_size=img_size, **kwargs)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    run = torch.compile(model) if compile else model  # compiled on the warm-up round (untimed)
    x = torch.rand(batch, 3, num_frames, img_size, img_size, device=device)
    raw = torch.randint(0, 256, x.shape, dtype=torch.uint8, device=device)
    y = torch.randint(0, 7, (batch,), device=device)
    augment = augment or ClipAugment()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step(inputs: torch.Tensor) -> None:
        run.train()
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits, features = run(inputs, return_features=True)
            loss = F.cross_entropy(logits.float(), y) + lifting_loss(features)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()

    def train(_: int) -> None:
        step(x)

    def train_augmented(_: int) -> None:
        step(augment.on_batch(raw))

    @torch.no_grad()
    def infer(_: int) -> None:
        run.eval()
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            run(x)
        sync()

    return train, infer, train_augmented


def bench_models(
    out: Path,
    *,
    families: Sequence[str] = ("mobilenetv2",),
    batch: int = 8,
    num_frames: int = 16,
    img_size: int = 112,
    steps: int = 3,
    repeats: int = 3,
    device: str = "auto",
    amp: bool = True,
    compile: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    phases: Sequence[str] = ("train", "inference"),
) -> dict[str, Any]:
    """Train and inference clips/s of each IFDD variant and its baseline, interleaved step by step.

    Args:
        out: JSON file for the figures.
        families: backbone families to measure ("mobilenetv2", "mvit").
        batch, num_frames, img_size: the clip batch.
        steps: timed steps per round (after one warm-up round); repeats: rounds (the median is kept).
        device: "auto", "cpu" or "cuda".
        amp: bf16 autocast on CUDA.
        compile: `torch.compile` both models (compiled in the untimed warm-up round).
        model_kwargs: extra factory arguments (e.g. width_mult) for both models of a family.
        phases: what to time, "train" and/or "inference" (each compiles its own graph).
    """
    dev = bench_device(device)
    dtype = torch.bfloat16 if amp and dev.type == "cuda" else None
    result: dict[str, Any] = {
        "settings": {
            "batch": batch,
            "num_frames": num_frames,
            "img_size": img_size,
            "steps": steps,
            "repeats": repeats,
            "device": str(dev),
            "amp": str(dtype),
            "compile": compile,
            "model_kwargs": model_kwargs or {},
        },
        "machine": device_info(dev),
    }
    for family in families:
        ifdd, baseline = PAIRS[family]
        fns = {
            name: step_fns(name, batch, num_frames, img_size, dev, dtype, model_kwargs or {}, compile)
            for name in (ifdd, baseline)
        }
        for phase, k in (("train", 0), ("inference", 1)):
            if phase not in phases:
                continue
            times, _ = interleaved_times({name: f[k] for name, f in fns.items()}, steps, repeats)
            result.setdefault(family, {})[phase] = {
                f"{ifdd}_clips_per_s": rate(batch * steps, times[ifdd]),
                f"{baseline}_clips_per_s": rate(batch * steps, times[baseline]),
                "ifdd_overhead": ratio(times[ifdd], times[baseline]),  # time ratio: 1.15 = 15% slower
            }
    write_json(Path(out), result)
    return result
