"""Does the data loader keep up with training? Clips/s of both at the same clip size, in one run.

- Loader: a DataLoader with `workers` processes over a store of random T x S x S clips (stored at the
  model's size S), in both placements of the augmentation (`ifdd.augment.where`): `loader` (ClipAugment's
  torchvision transform in the workers) and `device` (the workers only read and resize; the batch is
  augmented on the training device by `ClipAugment.on_batch`).
- Training: one variant's training step (forward, both losses, backward, AdamW; `bench.models`) on the
  device, bf16 autocast on CUDA, optionally compiled: on a ready float batch (`loader` placement) and on a
  uint8 batch augmented on the device first (`device` placement); the device augmentation alone too.
- Per placement, loader clips/s over training clips/s: 1 or more means the loader keeps up.

The loader and training are timed one after the other (the loader on the CPU cores, training on the
device); in a real run they overlap, and the training process needs a core of its own. Nothing asserts a
speed: the figures go to JSON with the issue's targets beside them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ferflow.bench.data import BenchSettings, random_store, time_loader
from ferflow.bench.models import bench_device, device_info, step_fns
from ferflow.bench.timing import interleaved_times, rate
from ferflow.core.atomic import write_json
from ferflow.data.datasets import ClipAugment, ClipDataset

#: The issue's target for ifdd_mvit, batch 16, 16 x 224^2, bf16 on one H100 (recorded, never asserted).
TRAIN_TARGET_CLIPS_PER_S = 300.0
PLACEMENTS = ("loader", "device")


def _loader_rates(
    s: BenchSettings, img_size: int, augment: ClipAugment, workdir: Path | None
) -> dict[str, dict[str, Any]]:
    """Loader clips/s, clips and seconds per augmentation placement, over a random store made for the
    purpose (in `workdir`, removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="ferflow-feed-", dir=workdir) as tmp:
        root = random_store(Path(tmp) / "store", img_size, s)
        rows = np.arange(s.store_clips)
        loader: dict[str, dict[str, Any]] = {}
        for where in PLACEMENTS:
            torch.manual_seed(s.seed)
            dataset = ClipDataset(root, rows, s.num_frames, img_size, augment, deferred=where == "device")
            clips, seconds = time_loader(dataset, s)
            loader[where] = {
                "clips_per_s": round(clips / seconds, 3),
                "clips": clips,
                "seconds": round(seconds, 3),
            }
        shutil.rmtree(root)
    return loader


def _training_rates(
    variant: str,
    s: BenchSettings,
    img_size: int,
    dev: torch.device,
    dtype: torch.dtype | None,
    model_kwargs: dict[str, Any],
    compile: bool,
    augment: ClipAugment,
    steps: int,
    repeats: int,
) -> dict[str, float]:
    """Training clips/s per placement (a ready float batch; a uint8 batch augmented on the device first),
    and of the device augmentation alone (``augment``)."""
    batch, num_frames = s.batch_size, s.num_frames
    torch.manual_seed(s.seed)
    train, _, train_augmented = step_fns(
        variant, batch, num_frames, img_size, dev, dtype, model_kwargs, compile, augment
    )
    raw = torch.randint(0, 256, (batch, 3, num_frames, img_size, img_size), dtype=torch.uint8, device=dev)

    def augment_only(_: int) -> None:
        augment.on_batch(raw)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    jobs = {"loader": train, "device": train_augmented, "augment": augment_only}
    times, _ = interleaved_times(jobs, steps, repeats)
    return {name: rate(batch * steps, times[name]) for name in jobs}


def bench_feed(
    out: Path,
    *,
    variant: str = "ifdd_mvit",
    batch: int = 16,
    num_frames: int = 16,
    img_size: int = 224,
    workers: int | None = None,
    store_clips: int = 128,
    epochs: int = 2,
    steps: int = 4,
    repeats: int = 3,
    device: str = "auto",
    amp: bool = True,
    compile: bool = False,
    model_kwargs: dict[str, Any] | None = None,
    workdir: Path | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure loader and training clips/s in both augmentation placements; write them to `out` (JSON).

    Args:
        variant: The model trained (a registered video model).
        batch, num_frames, img_size: The clip batch (the store holds clips of `img_size`).
        workers: DataLoader workers (default: every usable core).
        store_clips: Clips in the random store; epochs: loader epochs timed after one warm-up epoch.
        steps, repeats: Timed training steps per round and rounds (after one warm-up round; the median).
        device, amp, compile: Where and how training runs ("auto": CUDA when available; bf16 on CUDA).
        model_kwargs: Extra factory arguments (e.g. width_mult).
        workdir: Folder for the random store (default: a temporary one; removed afterwards).
        seed: Seed of the store, the loader's shuffling and the augmentation.
    """
    s = BenchSettings(
        quick=False,
        workers=len(os.sched_getaffinity(0)) if workers is None else workers,
        seed=seed,
        num_frames=num_frames,
        store_clips=store_clips,
        batch_size=batch,
        epochs=epochs,
    )
    augment = ClipAugment()  # the paper's recipe: scale 0.5-1, flip 0.5, jitter 0.4
    loader = _loader_rates(s, img_size, augment, workdir)
    dev = bench_device(device)
    dtype = torch.bfloat16 if amp and dev.type == "cuda" else None
    training = _training_rates(
        variant, s, img_size, dev, dtype, model_kwargs or {}, compile, augment, steps, repeats
    )
    augment_rate = training.pop("augment")
    ratios = {where: round(loader[where]["clips_per_s"] / training[where], 4) for where in PLACEMENTS}
    result = {
        "benchmark": "feed",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": device_info(dev),
        "settings": {
            "variant": variant,
            "batch": batch,
            "num_frames": num_frames,
            "img_size": img_size,
            "workers": s.workers,
            "store_clips": store_clips,
            "epochs": epochs,
            "steps": steps,
            "repeats": repeats,
            "device": str(dev),
            "amp": str(dtype),
            "compile": compile,
            "model_kwargs": model_kwargs or {},
            "augment": {"scale": list(augment.scale), "flip": augment.flip, "jitter": augment.jitter},
        },
        "loader_clips_per_s": {where: loader[where]["clips_per_s"] for where in PLACEMENTS},
        "training_clips_per_s": training,
        "device_augment_clips_per_s": augment_rate,
        "loader_over_training": ratios,
        "loader_keeps_up": {where: ratios[where] >= 1.0 for where in PLACEMENTS},
        "targets": {"ifdd_mvit_train_clips_per_s_h100_bf16_16x224_batch16": TRAIN_TARGET_CLIPS_PER_S},
        "loader": loader,
    }
    write_json(Path(out), result)
    return result
