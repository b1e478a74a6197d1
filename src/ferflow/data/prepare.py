"""The data stages: from a dataset's records to packed stores of aligned faces.

`prepare_shard` reads one shard of a dataset (every `shards`-th record), samples and decodes each clip's
frames (PyAV, or frame folders), aligns the faces, and writes a shard store; samples it cannot use are
recorded with the reason. `pack_shards` joins the shards into one store per dataset branch, writes the
manifest of skipped samples and the stage's metrics (detection rate, borrowed frames, and on the embedded
benchmark the landmark NME against ground truth), and fails with a summary only when more than
`data.max_skip_fraction` of the samples were unusable — the shards stay on disk either way.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ferflow.config import Params
from ferflow.data.adapters.synthetic import SYNTHETIC_IMAGE_SPLITS
from ferflow.data.align import align_frames, normalised_mean_error
from ferflow.data.branches import Kind, adapter_name, dataset_root, load_all_records, section
from ferflow.data.frames.decoding import MediaError
from ferflow.data.frames.extraction import read_clip
from ferflow.data.frames.sampling import ClipSampler
from ferflow.data.records import Record, Skip, check_skip_fraction, write_rows
from ferflow.data.store import open_store, write_store
from ferflow.dataset_names import class_names
from ferflow.errors import UserError

SKIP_COLUMNS = ("sample_id", "path", "reason")


@dataclass
class AlignStats:
    """Counts the alignment stage reports (summed over shards)."""

    samples: int = 0
    frames: int = 0
    frames_detected: int = 0
    frames_borrowed: int = 0
    nme: list[float] = field(default_factory=list)  # per detected frame with ground truth

    def add(self, other: AlignStats) -> None:
        self.samples += other.samples
        self.frames += other.frames
        self.frames_detected += other.frames_detected
        self.frames_borrowed += other.frames_borrowed
        self.nme += other.nme


class GroundTruth:
    """True landmarks of the embedded benchmark, for NME; absent for real datasets."""

    def __init__(self, root: Path, kind: Kind, options: dict[str, object]) -> None:
        self.clip_dir = root / "ground_truth" / "clips"
        self.images: dict[str, np.ndarray] = {}
        if kind == "images" and options.get("media", "original") == "original":
            split = SYNTHETIC_IMAGE_SPLITS[str(options.get("test_identities", "seen"))]
            truth = np.load(root / split.landmarks)
            self.images = {
                Path(str(n)).stem: lm for n, lm in zip(truth["names"], truth["landmarks"], strict=True)
            }

    def landmarks(self, record: Record, indices: np.ndarray) -> np.ndarray | None:
        if record.media_kind == "image":
            found = self.images.get(record.sample_id)
            return None if found is None else found[None]
        path = self.clip_dir / f"{record.sample_id}.npz"
        return np.load(path)["landmarks"][indices] if path.is_file() else None


def _index_row(record: Record, indices: np.ndarray) -> dict[str, str]:
    return {
        "sample_id": record.sample_id,
        "label": str(record.label),
        "identity": record.identity or "",
        "split": record.split,
        "fold": "" if record.fold is None else str(record.fold),
        "frame_indices": " ".join(map(str, indices.tolist())),
        "source": str(record.media),
    }


def prepare_shard(params: Params, kind: Kind, shard: int, out: Path, synthetic_root: Path) -> AlignStats:
    """Sample, decode and align one shard of a branch's dataset into a shard store at `out`."""
    d = params.data
    if not 0 <= shard < d.shards:
        raise UserError(
            f"--shard {shard} is outside 0..{d.shards - 1} (data.shards = {d.shards}); pass one of those"
        )
    dataset = section(kind, params)
    root = dataset_root(kind, params, synthetic_root)
    records, adapter_skips = load_all_records(kind, params, root)
    mine = records[shard :: d.shards]
    size = d.clip_size if kind == "clips" else d.image_size
    backend = d.align_backend if kind == "clips" else d.image_align_backend
    sampler = ClipSampler(d.frames, d.sampling, d.stride)
    truth = GroundTruth(root, kind, dataset.options) if dataset.dataset == "synthetic" else None

    aligned, rows, skipped, stats = [], [], [], AlignStats()
    for record in tqdm(mine, desc=f"prepare {kind} shard {shard}", unit=kind[:-1], dynamic_ncols=True):
        try:
            clip = read_clip(record.media, record.media_kind, sampler, strategy=d.decode)
        except MediaError as err:
            skipped.append(Skip(record.sample_id, record.media, err.reason))
            continue
        result = align_frames(clip.frames, size, backend, d.upsample, d.smooth_sigma)
        if result.frames is None:
            skipped.append(
                Skip(record.sample_id, record.media, "no face: the detector found none in any frame")
            )
            continue
        aligned.append(result.frames if kind == "clips" else result.frames[0])
        rows.append(_index_row(record, clip.indices))
        stats.samples += 1
        stats.frames += len(result.detected)
        if backend == "dlib":
            stats.frames_detected += int(result.detected.sum())
            stats.frames_borrowed += result.borrowed
            true = truth.landmarks(record, clip.indices) if truth else None
            if true is not None:
                stats.nme += normalised_mean_error(result.landmarks, true)[result.detected].tolist()
    meta = {
        "kind": kind,
        "dataset": adapter_name(kind, dataset),
        "classes": list(class_names(adapter_name(kind, dataset))),
        "shard": shard,
        "records": len(mine),
        "stats": asdict(stats),
        "align_backend": backend,
        "skipped": [s.to_row() for s in skipped + (adapter_skips if shard == 0 else [])],
    }
    array = np.stack(aligned) if aligned else np.zeros((0,), np.uint8)
    write_store(out, [(array, rows)], meta, allow_empty=True)
    return stats


def pack_shards(
    params: Params, kind: Kind, shards: list[Path], out: Path, metrics: Path, manifest: Path
) -> dict:
    """Join shard stores into one store; write the skip manifest and the stage's metrics."""
    started = time.perf_counter()
    stores = [open_store(s, kind, "pack") for s in shards]
    stats, skipped = AlignStats(), []
    for store in stores:
        stats.add(AlignStats(**store.meta["stats"]))
        skipped += [Skip(r["sample_id"], Path(r["path"]), r["reason"]) for r in store.meta["skipped"]]
    write_rows(manifest, (s.to_row() for s in skipped), SKIP_COLUMNS)
    total = stats.samples + len(skipped)
    what = f"data stage ({kind}; every skip is listed in {manifest}, the shards are kept)"
    check_skip_fraction(total, skipped, params.data.max_skip_fraction, what)
    first = stores[0].meta
    write_store(
        out,
        [(s.samples, s.index) for s in stores],
        {k: first[k] for k in ("kind", "dataset", "classes", "align_backend")},
    )
    nme = np.array(stats.nme)
    result = {
        "dataset": first["dataset"],
        "kind": kind,
        "samples": stats.samples,
        "skipped": len(skipped),
        "frames": stats.frames,
        "align_backend": first["align_backend"],
        "detection_rate": round(stats.frames_detected / stats.frames, 4) if stats.frames else None,
        "frames_borrowed": stats.frames_borrowed,
        "nme_mean": round(float(nme.mean()), 4) if len(nme) else None,
        "nme_median": round(float(np.median(nme)), 4) if len(nme) else None,
        "nme_frames": len(nme),
        "pack_seconds": round(time.perf_counter() - started, 2),
    }
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(json.dumps(result, indent=2))
    return result
