"""The face-identity data stage: pretraining identities and verification pairs into packed stores.

The adapters (`ferflow.data.adapters`: `folder`, `casia_webface`, `vggface2`, `lfw`; see
../shared/spec/pretrain.md) read the datasets as distributed; `prepare_faces` sends their records through the
alignment stage into a `train/` and a `verify/` store, with the pairs whose two faces survived.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ferflow.config import DatasetParams, Params
from ferflow.data.adapters.base import FaceIdSet
from ferflow.data.adapters.casia_webface import load_casia
from ferflow.data.adapters.lfw import VerificationSet, load_lfw
from ferflow.data.adapters.registry import IDENTITY_LOADERS, check_options, keyword_options
from ferflow.data.align import Backend, align_frames
from ferflow.data.frames.decoding import MediaError, read_image
from ferflow.data.records import Record, Skip, check_skip_fraction, write_rows
from ferflow.data.store import write_store
from ferflow.data.synthetic.faceid import TRAIN_DIR
from ferflow.parallel import map_with_progress

TRAIN_STORE = "train"
VERIFY_STORE = "verify"
PAIRS = "verify_pairs.csv"
MANIFEST = "faces_manifest.csv"
METRICS = "faces_metrics.json"
PAIR_COLUMNS = ("fold", "first", "second", "same")


def load_identities(section: DatasetParams, min_images: int, synthetic_root: Path) -> FaceIdSet:
    """The pretraining dataset named by `pretrain.data` (the embedded corpus: its CASIA-WebFace folder)."""
    if section.dataset == "synthetic":
        return load_casia(synthetic_root / TRAIN_DIR, min_images=min_images)
    loader = IDENTITY_LOADERS[section.dataset]
    check_options(section.dataset, sorted(keyword_options(loader)), section.options)
    return loader(section.root, **{"min_images": min_images, **section.options})


def load_verification(section: DatasetParams, synthetic_root: Path) -> VerificationSet | None:
    """The verification pairs named by `pretrain.verification`, or None for `dataset: none`."""
    if section.dataset == "none":
        return None
    root = synthetic_root if section.dataset == "synthetic" else Path(section.root)  # type: ignore[arg-type]
    options = {} if section.dataset == "synthetic" else section.options
    check_options("lfw", sorted(keyword_options(load_lfw)), options)
    return load_lfw(root, **options)


def resolved_backend(section: DatasetParams) -> Backend:
    """`auto`: none for the embedded corpus (aligned as it ships), dlib for real datasets."""
    backend = getattr(section, "align_backend", "auto")
    if backend == "auto":
        return "none" if section.dataset == "synthetic" else "dlib"
    return backend


# ------------------------------------------------------------------------------------------ the stage


def _align_one(record: Record, size: int, backend: Backend, upsample: int) -> np.ndarray | str:
    """The aligned face of one image, or why it is unusable."""
    try:
        image = read_image(record.media)
    except MediaError as err:
        return err.reason
    result = align_frames(image[None], size, backend, upsample, smooth_sigma=0.0)
    if result.frames is None:
        return "no face: the detector found none"
    return result.frames[0]


def _index_row(record: Record) -> dict[str, str]:
    return {
        "sample_id": record.sample_id,
        "label": str(record.label),
        "identity": record.identity or "",
        "split": record.split,
        "fold": "",
        "frame_indices": "0",
        "source": str(record.media),
    }


def _store_faces(
    records: Iterable[Record],
    dataset: str,
    classes: tuple[str, ...],
    out: Path,
    backend: Backend,
    p: Params,
    workers: int,
    what: str,
) -> tuple[int, list[Skip]]:
    records = list(records)
    faces = map_with_progress(
        _align_one, [(r, p.pretrain.image_size, backend, p.data.upsample) for r in records], workers, what
    )
    kept = [(r, f) for r, f in zip(records, faces, strict=True) if not isinstance(f, str)]
    skipped = [
        Skip(r.sample_id, r.media, f) for r, f in zip(records, faces, strict=True) if isinstance(f, str)
    ]
    array = np.stack([f for _, f in kept]) if kept else np.zeros((0,), np.uint8)
    meta = {"kind": "faces", "dataset": dataset, "classes": list(classes), "align_backend": backend}
    write_store(out, [(array, [_index_row(r) for r, _ in kept])], meta)
    return len(kept), skipped


def prepare_faces(p: Params, out: Path, synthetic_root: Path, workers: int = 1) -> dict[str, Any]:
    """Align the pretraining identities and the verification images into stores under `out`.

    Writes `train/` and `verify/` stores, `verify_pairs.csv` (pairs whose two faces survived), the manifest of
    skipped samples and the stage's metrics. Fails, after writing the manifest, when more than
    `data.max_skip_fraction` of either set was unusable.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    identities = load_identities(p.pretrain.data, p.pretrain.min_images, synthetic_root)
    backend = resolved_backend(p.pretrain.data)
    n_train, train_skips = _store_faces(
        identities.records,
        identities.dataset,
        identities.identities,
        out / TRAIN_STORE,
        backend,
        p,
        workers,
        "align faces",
    )
    skipped = list(identities.skipped) + train_skips
    metrics: dict[str, Any] = {
        "dataset": identities.dataset,
        "identities": len({r.identity for r in identities.records}),
        "images": n_train,
        "align_backend": backend,
    }
    verification = load_verification(p.pretrain.verification, synthetic_root)
    if verification is not None:
        verify_backend = resolved_backend(p.pretrain.verification)
        names = tuple(sorted({r.identity or "" for r in verification.records}))
        n_verify, verify_skips = _store_faces(
            verification.records, "lfw", names, out / VERIFY_STORE, verify_backend, p, workers, "align pairs"
        )
        usable = {r.sample_id for r in verification.records} - {s.sample_id for s in verify_skips}
        rows = [
            {"fold": str(f), "first": a, "second": b, "same": str(int(s))}
            for (a, b), s, f in zip(verification.pairs, verification.same, verification.folds, strict=True)
            if a in usable and b in usable
        ]
        write_rows(out / PAIRS, rows, PAIR_COLUMNS)
        skipped += list(verification.skipped) + verify_skips
        metrics |= {
            "verification_images": n_verify,
            "verification_pairs": len(rows),
            "verification_pairs_listed": len(verification.pairs),
            "verification_align_backend": verify_backend,
        }
    write_rows(out / MANIFEST, (s.to_row() for s in skipped), ("sample_id", "path", "reason"))
    metrics["skipped"] = len(skipped)
    (out / METRICS).write_text(json.dumps(metrics, indent=2))
    check_skip_fraction(
        len(identities.records) + len(identities.skipped),
        list(identities.skipped) + train_skips,
        p.data.max_skip_fraction,
        f"face-ID data stage ({identities.dataset})",
    )
    return metrics


def read_pairs(folder: str | Path) -> list[dict[str, str]]:
    """The verification pairs written by `prepare_faces`."""
    with (Path(folder) / PAIRS).open(newline="") as f:
        return list(csv.DictReader(f))


__all__ = [
    "load_identities",
    "load_verification",
    "prepare_faces",
    "read_pairs",
    "resolved_backend",
]
