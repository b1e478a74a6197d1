"""Data-stage benchmark: frame extraction, face alignment and DataLoader throughput.

Every figure is measured here, on data generated under `workdir`:

- Extraction (clips/s), on short clips (the tiny embedded benchmark's clips, drawn by its own renderer) and
  on long clips (the same renderer, `long_frames` frames, a keyframe every `keyframe_interval`), separately:
  ferflow's `read_clip` (probe, plan, decode) with 16-frame "uniform" and centred "contiguous" samplers,
  against a naive decode of every frame and a sequential decode that stops after the last needed frame
  (given the indices for free). All decoders run single-threaded.
- Alignment (frames/s): `align_frames` (dlib) on decoded short clips, per crop size.
- DataLoader (clips/s): batches of `ClipDataset` with `ClipAugment` over a packed store of random clips,
  with `workers` worker processes, plus a single-threaded breakdown of one sample's cost by step (what
  each worker does).

Machines are noisy (other jobs share the cores): methods compared with each other run interleaved, in a
rotating order, several times; clips/s come from median times and each ratio is the median of the ratios
measured in the same round. The issue's targets are recorded beside the figures; nothing here asserts them.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate
from torchvision import tv_tensors

from ferflow.bench.timing import interleaved_times, machine_info, rate, ratio
from ferflow.config import SyntheticParams
from ferflow.core.atomic import write_json
from ferflow.data.align import Alignment, align_frames
from ferflow.data.datasets import ClipAugment, ClipDataset, frame_positions
from ferflow.data.frames.decoding import VideoInfo, decode_video, probe_video
from ferflow.data.frames.extraction import read_clip
from ferflow.data.frames.sampling import ClipSampler
from ferflow.data.store import INDEX_COLUMNS, write_store
from ferflow.data.synthetic.plan import DFEW_CLASSES, make_plan
from ferflow.data.synthetic.render import render_clip

#: The issue's targets (figures to compare against, never asserted).
EXTRACTION_MAX_TIME_OVER_UP_TO_LAST = 1.2
LOADER_MIN_CLIPS_PER_S = 100.0
LOADER_TARGET_SIZE = 112


@dataclass(frozen=True)
class BenchSettings:
    """How much work each measurement does.

    Attributes:
        quick: The shrunken variant (for tests).
        workers: DataLoader worker processes.
        seed: Seed of the rendered clips, the random store and the augmentation.
        repeats: Timed rounds of the extraction methods (after one warm-up round).
        short_clips: Clips taken from the tiny benchmark's plan (it has 35, of 16-20 frames).
        long_clips: Long clips rendered.
        long_frames: Frames per long clip.
        keyframe_interval: Encoder GOP length of every clip.
        frame_size: Side of the rendered frames.
        num_frames: Frames per sampled clip.
        align_clips: Short clips aligned.
        align_repeats: Timed rounds of alignment per crop size.
        crop_sizes: Crop sizes for alignment and for the DataLoader.
        store_clips: Clips in each DataLoader store.
        batch_size: DataLoader batch size.
        epochs: Epochs timed, after one warm-up epoch.
        profile_clips: Samples in the per-step profile.
    """

    quick: bool
    workers: int
    seed: int = 0
    repeats: int = 5
    short_clips: int = 35
    long_clips: int = 6
    long_frames: int = 300
    keyframe_interval: int = 12
    frame_size: int = 128
    num_frames: int = 16
    align_clips: int = 6
    align_repeats: int = 3
    crop_sizes: tuple[int, ...] = (112, 224)
    store_clips: int = 128
    batch_size: int = 16
    epochs: int = 4
    profile_clips: int = 32


def bench_settings(quick: bool = False, workers: int = 2) -> BenchSettings:
    """The full settings, or the quick ones (seconds, for tests)."""
    if not quick:
        return BenchSettings(quick=False, workers=workers)
    return BenchSettings(
        quick=True,
        workers=workers,
        repeats=2,
        short_clips=4,
        long_clips=2,
        long_frames=96,
        align_clips=1,
        align_repeats=1,
        store_clips=32,
        epochs=2,
        profile_clips=4,
    )


# ------------------------------------------------------------------------------------------------ timing


# ------------------------------------------------------------------------------------------------ clips


def _render_clips(root: Path, s: BenchSettings) -> tuple[list[Path], list[Path]]:
    """Render the short and long clips with the embedded benchmark's renderer; return their paths."""
    p = SyntheticParams(
        size="tiny", seed=s.seed, frame_size=s.frame_size, keyframe_interval=s.keyframe_interval
    )
    plan = make_plan(p)
    sets = {
        "short": list(plan.clips[: s.short_clips]),
        # Content is irrelevant to decoding speed: the same timelines, drawn longer.
        "long": [replace(c, n_frames=s.long_frames) for c in plan.clips[: s.long_clips]],
    }
    paths: dict[str, list[Path]] = {}
    for name, specs in sets.items():
        video_dir, truth_dir = root / "clips" / name, root / "truth" / name
        video_dir.mkdir(parents=True)
        truth_dir.mkdir(parents=True)
        for spec in specs:
            render_clip(spec, plan.identities[spec.identity], p, video_dir, truth_dir)
        paths[name] = sorted(video_dir.glob("*.mp4"))
    return paths["short"], paths["long"]


# ------------------------------------------------------------------------------------------- extraction


def _open_single_threaded(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.codec_context.thread_count = 1  # as read_clip's default, so only the method differs
    return container, stream


def decode_all(path: Path) -> np.ndarray:
    """Naive baseline: decode every frame of the file to RGB."""
    container, stream = _open_single_threaded(path)
    with container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])


def decode_up_to_last(path: Path, indices: np.ndarray) -> np.ndarray:
    """Sequential baseline, told the indices: decode from the start, convert only the needed frames, stop
    after the last one."""
    wanted, last = set(indices.tolist()), int(indices.max())
    got: dict[int, np.ndarray] = {}
    container, stream = _open_single_threaded(path)
    with container:
        for i, frame in enumerate(container.decode(stream)):
            if i in wanted:
                got[i] = frame.to_ndarray(format="rgb24")
            if i >= last:
                break
    return np.stack([got[int(i)] for i in indices])


def _ferflow_one(paths: Sequence[Path], sampler: ClipSampler, j: int) -> np.ndarray:
    return read_clip(paths[j], "video", sampler).frames


def _up_to_last_one(paths: Sequence[Path], indices: Sequence[np.ndarray], j: int) -> np.ndarray:
    return decode_up_to_last(paths[j], indices[j])


def _full_one(paths: Sequence[Path], j: int) -> np.ndarray:
    return decode_all(paths[j])


def _probe_one(paths: Sequence[Path], j: int) -> VideoInfo:
    return probe_video(paths[j])


def bench_extraction(paths: Sequence[Path], s: BenchSettings) -> dict[str, Any]:
    """Clips/s of ferflow's extraction, a full decode and a decode up to the last needed frame, and the
    time ratios, for each sampler, on one set of clips."""
    infos = [probe_video(p) for p in paths]
    samplers = {
        "uniform": ClipSampler(s.num_frames, "uniform"),
        "contiguous": ClipSampler(s.num_frames, "contiguous"),  # test time: the centred window
    }
    indices = {mode: [sm.indices(i.num_frames) for i in infos] for mode, sm in samplers.items()}
    jobs: dict[str, Callable[[int], object]] = {
        "full_decode": partial(_full_one, paths),
        "probe": partial(_probe_one, paths),  # the part of ferflow's cost spent before decoding
    }
    for mode, sampler in samplers.items():
        jobs[f"ferflow_{mode}"] = partial(_ferflow_one, paths, sampler)
        jobs[f"up_to_last_{mode}"] = partial(_up_to_last_one, paths, indices[mode])
    times, _ = interleaved_times(jobs, len(paths), s.repeats)

    lengths = np.array([i.num_frames for i in infos])
    n = len(paths)
    result: dict[str, Any] = {
        "clips": n,
        "frames_per_clip": {
            "min": int(lengths.min()),
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 2),
        },
        "keyframes_per_clip": round(float(np.mean([len(i.keyframes) for i in infos])), 2),
        "probe_ms_per_clip": round(1e3 * float(np.median(times["probe"])) / n, 3),
        "full_decode": {
            "clips_per_s": rate(n, times["full_decode"]),
            "frames_decoded_per_clip": round(float(lengths.mean()), 2),
        },
    }
    for mode in samplers:
        # Untimed: which strategy ferflow chose and how many frames it decoded.
        runs = [decode_video(i.path, idx, info=i) for i, idx in zip(infos, indices[mode], strict=True)]
        ours, seq = times[f"ferflow_{mode}"], times[f"up_to_last_{mode}"]
        result[mode] = {
            "ferflow_clips_per_s": rate(n, ours),
            "up_to_last_clips_per_s": rate(n, seq),
            "ferflow_time_over_up_to_last": ratio(ours, seq),
            "ferflow_time_over_full_decode": ratio(ours, times["full_decode"]),
            "probe_time_over_up_to_last": ratio(times["probe"], seq),
            "frames_decoded_per_clip": {
                "ferflow": round(float(np.mean([r.decoded_frames for r in runs])), 2),
                "up_to_last": round(float(np.mean([idx.max() + 1 for idx in indices[mode]])), 2),
            },
            "ferflow_strategies": dict(Counter(r.strategy for r in runs)),
        }
    result["seconds_per_round"] = {k: [round(t, 5) for t in v] for k, v in times.items()}
    return result


# -------------------------------------------------------------------------------------------- alignment


def _align_one(clips: Sequence[np.ndarray], size: int, j: int) -> Alignment:
    return align_frames(clips[j], size, backend="dlib")


def bench_alignment(paths: Sequence[Path], s: BenchSettings) -> dict[str, Any]:
    """Frames/s of dlib alignment on decoded clips, per crop size."""
    clips = [read_clip(p, "video").frames for p in paths[: s.align_clips]]
    frames = sum(len(c) for c in clips)
    jobs: dict[str, Callable[[int], object]] = {
        str(size): partial(_align_one, clips, size) for size in s.crop_sizes
    }
    times, first = interleaved_times(jobs, len(clips), s.align_repeats)
    aligned = cast(list[Alignment], first[str(s.crop_sizes[0])])
    return {
        "clips": len(clips),
        "frames": frames,
        "input_size": int(clips[0].shape[1]),
        "detected_fraction": round(float(np.mean(np.concatenate([a.detected for a in aligned]))), 4),
        "frames_per_s": {size: rate(frames, t) for size, t in times.items()},
        "seconds_per_round": {k: [round(t, 5) for t in v] for k, v in times.items()},
    }


# ------------------------------------------------------------------------------------------- DataLoader


def random_store(root: Path, size: int, s: BenchSettings) -> Path:
    """A store of `store_clips` random uint8 clips (content is irrelevant to augmentation speed); a small
    random pool repeated keeps building it cheap."""
    rng = np.random.default_rng(s.seed)
    pool = rng.integers(0, 256, (min(8, s.store_clips), s.num_frames, size, size, 3), dtype=np.uint8)
    shards = []
    for start in range(0, s.store_clips, len(pool)):
        chunk = pool[: min(len(pool), s.store_clips - start)]
        rows = [
            dict.fromkeys(INDEX_COLUMNS, "")
            | {
                "sample_id": f"clip{start + i:05d}",
                "label": str((start + i) % len(DFEW_CLASSES)),
                "split": "train",
                "source": "random",
            }
            for i in range(len(chunk))
        ]
        shards.append((chunk, rows))
    return write_store(root, shards, {"classes": list(DFEW_CLASSES), "source": "bench_data (random)"})


def _drain(batches: Any) -> int:
    return sum(len(labels) for _, labels in batches)


def _loader_profile(dataset: ClipDataset, s: BenchSettings) -> dict[str, float]:
    """Milliseconds per clip of each step of `ClipDataset.__getitem__`, single-threaded as in a DataLoader
    worker, and of collating a batch (done in the main process here, in shared memory by a worker)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    steps = ["read", *(type(t).__name__ for t in dataset.transform.transforms), "to_float"]
    spent = dict.fromkeys(steps, 0.0)
    try:
        for i in range(s.profile_clips):
            start = time.perf_counter()
            clip = dataset.store.samples[dataset.rows[i]]
            positions = frame_positions(len(clip), dataset.num_frames, dataset.sampling, random_start=True)
            video = tv_tensors.Video(
                torch.from_numpy(np.ascontiguousarray(clip[positions])).permute(0, 3, 1, 2)
            )
            spent["read"] += time.perf_counter() - start
            for transform in dataset.transform.transforms:
                start = time.perf_counter()
                video = transform(video)
                spent[type(transform).__name__] += time.perf_counter() - start
            start = time.perf_counter()
            video.permute(1, 0, 2, 3).float().div_(255.0)
            spent["to_float"] += time.perf_counter() - start
        batch = [dataset[i] for i in range(min(s.batch_size, len(dataset)))]
        start = time.perf_counter()
        default_collate(batch)
        collate = (time.perf_counter() - start) / len(batch)
    finally:
        torch.set_num_threads(threads)
    profile = {k: v / s.profile_clips * 1e3 for k, v in spent.items()}
    profile["collate"] = collate * 1e3
    profile["total"] = sum(profile.values())
    return {k: round(v, 3) for k, v in profile.items()}


def time_loader(dataset: ClipDataset, s: BenchSettings) -> tuple[int, float]:
    """Clips delivered and seconds taken by `s.epochs` epochs of a shuffling DataLoader with `s.workers`
    persistent workers, after one untimed epoch (worker start-up and the first page-ins: a whole epoch, so
    that no batch prefetched while warming up is counted; each timed epoch starts from idle workers)."""
    loader = DataLoader(
        dataset,
        batch_size=s.batch_size,
        shuffle=True,
        num_workers=s.workers,
        persistent_workers=s.workers > 0,
        drop_last=True,
        generator=torch.Generator().manual_seed(s.seed),
    )
    _drain(loader)
    start = time.perf_counter()
    clips = sum(_drain(loader) for _ in range(s.epochs))
    seconds = time.perf_counter() - start
    del loader  # ends the persistent workers (before a next store is built)
    return clips, seconds


def bench_loader(root: Path, size: int, s: BenchSettings) -> dict[str, Any]:
    """Augmented clips/s through a DataLoader over a random store of `size` x `size` clips."""
    random_store(root, size, s)
    torch.manual_seed(s.seed)
    dataset = ClipDataset(
        root, np.arange(s.store_clips), num_frames=s.num_frames, size=size, augment=ClipAugment()
    )
    clips, seconds = time_loader(dataset, s)
    profile = _loader_profile(dataset, s)
    shutil.rmtree(root)  # large and cheap to rebuild
    return {
        "clip_shape": [s.num_frames, size, size, 3],
        "batch_size": s.batch_size,
        "num_workers": s.workers,
        "clips_timed": clips,
        "seconds": round(seconds, 4),
        "clips_per_s": round(clips / seconds, 3),
        "profile_ms_per_clip": profile,
        "single_thread_bound_clips_per_s": round(1e3 / profile["total"], 3),
    }


# ------------------------------------------------------------------------------------------------ all


def _targets(extraction: dict[str, Any], loader: dict[str, Any]) -> dict[str, Any]:
    modes = ("uniform", "contiguous")
    worst = max(extraction[c][m]["ferflow_time_over_up_to_last"] for c in extraction for m in modes)
    long_vs_full = max(extraction["long"][m]["ferflow_time_over_full_decode"] for m in modes)
    target_loader = loader.get(str(LOADER_TARGET_SIZE))
    return {
        "extraction_max_time_over_up_to_last": EXTRACTION_MAX_TIME_OVER_UP_TO_LAST,
        "extraction_worst_time_over_up_to_last": worst,
        "extraction_within_up_to_last_target": worst <= EXTRACTION_MAX_TIME_OVER_UP_TO_LAST,
        "extraction_long_worst_time_over_full_decode": long_vs_full,
        "extraction_beats_full_decode_on_long_clips": long_vs_full < 1.0,
        "loader_min_clips_per_s": {str(LOADER_TARGET_SIZE): LOADER_MIN_CLIPS_PER_S},
        "loader_meets_target": (
            target_loader is not None and target_loader["clips_per_s"] >= LOADER_MIN_CLIPS_PER_S
        ),
    }


def bench_data(out: Path, workdir: Path, *, quick: bool = False, workers: int = 2) -> dict[str, Any]:
    """Measure extraction, alignment and DataLoader throughput; write the figures to `out` as JSON.

    Args:
        out: The JSON file (written atomically).
        workdir: Where the clips and stores are generated (under `workdir/bench_data`, replaced each run;
            the stores are deleted after use).
        quick: Shrink every measurement to seconds (for tests); the figures are then rough.
        workers: DataLoader worker processes.

    Returns:
        What was written: machine, settings, targets and the figures of each measurement.
    """
    s = bench_settings(quick, workers)
    root = Path(workdir) / "bench_data"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    machine = machine_info()
    short, long = _render_clips(root, s)
    extraction = {"short": bench_extraction(short, s), "long": bench_extraction(long, s)}
    alignment = bench_alignment(short, s)
    loader = {str(size): bench_loader(root / "stores" / str(size), size, s) for size in s.crop_sizes}
    result = {
        "benchmark": "data",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 2),
        "machine": machine | {"load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "settings": asdict(s),
        "targets": _targets(extraction, loader),
        "extraction": extraction,
        "alignment": alignment,
        "loader": loader,
    }
    result = json.loads(json.dumps(result))  # returned exactly as written (tuples become lists)
    write_json(Path(out), result)
    return result
