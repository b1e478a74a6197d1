"""Face-identity datasets for pretraining, and verification pairs in LFW's format.

Adapters read the datasets as distributed (see ../shared/spec/pretrain.md):
    * `folder` — any tree with one folder per identity (`<root>/<identity>/.../*.jpg`);
    * `casia` — CASIA-WebFace, a `folder` tree with 7-digit identity folders (`0000045/001.jpg`);
    * `vggface2` — `train/n000002/0001_01.jpg` (or `test/...`) listed in `train_list.txt` / `test_list.txt`;
    * `lfw` — `lfw/<Name>/<Name>_0001.jpg` with the verification protocol file `pairs.txt`.
They follow the expression adapters' rules: a malformed annotation line raises `AnnotationError` with file
and line, a path from an annotation file may not leave the dataset root, and unusable media become recorded
`Skip`s. `prepare_faces` sends the records through the alignment stage into packed stores.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferflow.config import DatasetParams, Params
from ferflow.data.adapters import AnnotationError, safe_relative
from ferflow.data.align import Backend, align_frames
from ferflow.data.frames import MediaError, read_image
from ferflow.data.records import IMAGE_EXTENSIONS, Record, Skip, check_skip_fraction, write_rows
from ferflow.data.store import write_store
from ferflow.data.synthetic.faceid import HELDOUT_DIR, PAIRS_FILE, TRAIN_DIR
from ferflow.parallel import map_with_progress

TRAIN_STORE = "train"
VERIFY_STORE = "verify"
PAIRS = "verify_pairs.csv"
MANIFEST = "faces_manifest.csv"
METRICS = "faces_metrics.json"
PAIR_COLUMNS = ("fold", "first", "second", "same")


@dataclass(frozen=True)
class FaceIdSet:
    """The images of a face-identity dataset: `label` indexes `identities`, `identity` is its name."""

    dataset: str
    records: tuple[Record, ...]
    identities: tuple[str, ...]
    skipped: tuple[Skip, ...] = ()
    sources: tuple[Path, ...] = ()


@dataclass(frozen=True)
class VerificationSet:
    """Verification pairs: `pairs[k]` are two sample ids of `records`, `same[k]` whether they show one
    person, `folds[k]` the protocol's fold (0-based). Pairs whose images are unusable are dropped."""

    records: tuple[Record, ...]
    pairs: tuple[tuple[str, str], ...]
    same: tuple[bool, ...]
    folds: tuple[int, ...]
    skipped: tuple[Skip, ...] = ()
    sources: tuple[Path, ...] = ()


def _image_problem(path: Path) -> str | None:
    if not path.is_file():
        return "missing: file not found" if not path.exists() else "not a file"
    if path.stat().st_size == 0:
        return "empty: file has 0 bytes"
    return None


def _identity_set(
    dataset: str,
    images: dict[str, list[tuple[str, Path]]],
    min_images: int,
    source: Path,
    skipped: list[Skip],
) -> FaceIdSet:
    """Records from identity -> [(sample id, image)]; identities with too few usable images are skipped."""
    records: list[Record] = []
    names: list[str] = []
    for name in sorted(images):
        usable = []
        for sample_id, path in images[name]:
            problem = _image_problem(path)
            if problem:
                skipped.append(Skip(sample_id, path, problem))
            else:
                usable.append((sample_id, path))
        if len(usable) < min_images:
            skipped += [
                Skip(s, p, f"too few images: identity {name!r} has {len(usable)}, fewer than {min_images}")
                for s, p in usable
            ]
            continue
        label = len(names)
        names.append(name)
        records += [Record(s, p, "image", label, "train", dataset, name) for s, p in usable]
    if not names:
        raise AnnotationError(source, None, f"no identity with at least {min_images} usable images")
    return FaceIdSet(dataset, tuple(records), tuple(names), tuple(skipped), (source,))


def load_identity_folders(
    root: str | Path, *, image_dir: str | Path = ".", min_images: int = 2, dataset: str = "folder"
) -> FaceIdSet:
    """Any tree with one folder per identity: every image below `<root>/<image_dir>/<identity>/`.

    Args:
        root: The dataset's folder.
        image_dir: The folder holding the identity folders, relative to `root` (or absolute).
        min_images: Identities with fewer usable images are skipped (recorded).
        dataset: The name recorded in each `Record`.
    """
    base = Path(root) / image_dir
    if not base.is_dir():
        raise AnnotationError(base, None, "identity folder tree not found (one folder per identity expected)")
    images: dict[str, list[tuple[str, Path]]] = {}
    for entry in sorted(os.scandir(base), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        files = sorted(
            p for p in Path(entry.path).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir()
        )
        images[entry.name] = [(p.relative_to(base).as_posix(), p) for p in files]
    if not images:
        raise AnnotationError(base, None, "no identity folders found (one folder per identity expected)")
    return _identity_set(dataset, images, min_images, base, [])


def load_casia(root: str | Path, *, image_dir: str | Path = ".", min_images: int = 2) -> FaceIdSet:
    """CASIA-WebFace: `<root>/0000045/001.jpg` (10,575 identities, 494,414 images as distributed)."""
    return load_identity_folders(root, image_dir=image_dir, min_images=min_images, dataset="casia")


def load_vggface2(
    root: str | Path, *, split: str = "train", list_file: str | Path | None = None, min_images: int = 2
) -> FaceIdSet:
    """VGGFace2: images `<root>/<split>/n000002/0001_01.jpg` listed in `<root>/<split>_list.txt`.

    Raises:
        AnnotationError: The list file is missing, or a line is not one relative path `identity/file`.
    """
    if split not in ("train", "test"):
        raise ValueError(f"vggface2: split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    path = root / (list_file or f"{split}_list.txt")
    if not path.is_file():
        raise AnnotationError(path, None, f"VGGFace2 list file not found (expected {split}_list.txt)")
    images: dict[str, list[tuple[str, Path]]] = {}
    with path.open(encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 1:
                raise AnnotationError(
                    path, lineno, f"expected one path like n000002/0001_01.jpg, got {line!r}"
                )
            rel = safe_relative(tokens[0], path, lineno)
            if len(rel.parts) < 2:
                raise AnnotationError(path, lineno, f"expected identity/file, got {tokens[0]!r}")
            images.setdefault(rel.parts[0], []).append((rel.as_posix(), root / split / rel))
    if not images:
        raise AnnotationError(path, None, "no images listed")
    return _identity_set("vggface2", images, min_images, path, [])


def _pair_number(path: Path, lineno: int, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise AnnotationError(path, lineno, f"image number must be a positive integer, got {text!r}")
    return int(text)


def _pair_name(path: Path, lineno: int, text: str) -> str:
    if safe_relative(text, path, lineno).as_posix() != text:
        raise AnnotationError(path, lineno, f"person name {text!r} must be one folder name")
    return text


def parse_lfw_pairs(path: str | Path) -> tuple[list[tuple[str, int, str, int]], list[int]]:
    """Read LFW's `pairs.txt`: header `folds<TAB>n`, then per fold n matched lines `name n1 n2` and n
    mismatched lines `name1 n1 name2 n2`. Returns the pairs (name, number, name, number) and their folds.

    Raises:
        AnnotationError: A missing file, a bad header, a line with the wrong fields for its place, or a
            line count that does not match the header.
    """
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "pairs file not found (LFW's pairs.txt)")
    lines = [
        (i, line.split()) for i, line in enumerate(path.read_text().splitlines(), start=1) if line.strip()
    ]
    if not lines:
        raise AnnotationError(path, None, "empty pairs file")
    lineno, header = lines[0]
    if len(header) != 2 or not all(t.isdigit() and int(t) > 0 for t in header):
        raise AnnotationError(
            path, lineno, f"expected the header 'folds<TAB>pairs', e.g. '10 300', got {header}"
        )
    n_folds, n = map(int, header)
    body = lines[1:]
    if len(body) != 2 * n * n_folds:
        raise AnnotationError(
            path,
            None,
            f"header promises {n_folds} folds x {2 * n} pairs = {2 * n * n_folds} lines, found {len(body)}",
        )
    pairs, folds = [], []
    for k, (lineno, tokens) in enumerate(body):
        matched = k % (2 * n) < n
        if matched and len(tokens) == 3:
            name = _pair_name(path, lineno, tokens[0])
            pairs.append(
                (name, _pair_number(path, lineno, tokens[1]), name, _pair_number(path, lineno, tokens[2]))
            )
        elif not matched and len(tokens) == 4:
            pairs.append(
                (
                    _pair_name(path, lineno, tokens[0]),
                    _pair_number(path, lineno, tokens[1]),
                    _pair_name(path, lineno, tokens[2]),
                    _pair_number(path, lineno, tokens[3]),
                )
            )
        else:
            expected = "a matched pair 'name n1 n2'" if matched else "a mismatched pair 'name1 n1 name2 n2'"
            raise AnnotationError(path, lineno, f"expected {expected} here, got {' '.join(tokens)!r}")
        folds.append(k // (2 * n))
    return pairs, folds


def load_lfw(
    root: str | Path,
    *,
    pairs: str | Path = PAIRS_FILE,
    image_dir: str | Path = HELDOUT_DIR,
    image_ext: str = ".jpg",
) -> VerificationSet:
    """LFW's verification protocol: `<root>/<pairs>` over images `<root>/<image_dir>/<Name>/<Name>_0001.jpg`.

    A pair whose image is missing or empty is dropped; the image is recorded as a skip.
    """
    root = Path(root)
    pairs_path = root / pairs
    base = root / image_dir
    listed, folds = parse_lfw_pairs(pairs_path)
    records: dict[str, Record] = {}
    skipped: dict[str, Skip] = {}
    names = sorted({p[0] for p in listed} | {p[2] for p in listed})
    label = {name: i for i, name in enumerate(names)}
    kept_pairs, same, kept_folds = [], [], []
    for (a, i, b, j), fold in zip(listed, folds, strict=True):
        ids = []
        for name, number in ((a, i), (b, j)):
            sample_id = f"{name}/{name}_{number:04d}"
            media = base / f"{sample_id}{image_ext}"
            if sample_id not in records and sample_id not in skipped:
                problem = _image_problem(media)
                if problem:
                    skipped[sample_id] = Skip(sample_id, media, problem)
                else:
                    records[sample_id] = Record(sample_id, media, "image", label[name], "test", "lfw", name)
            ids.append(sample_id)
        if all(s in records for s in ids):
            kept_pairs.append((ids[0], ids[1]))
            same.append(a == b)
            kept_folds.append(fold)
    if not kept_pairs:
        raise AnnotationError(pairs_path, None, f"no pair has both images under {base}")
    return VerificationSet(
        tuple(records.values()),
        tuple(kept_pairs),
        tuple(same),
        tuple(kept_folds),
        tuple(skipped.values()),
        (pairs_path,),
    )


IDENTITY_LOADERS: dict[str, Callable[..., FaceIdSet]] = {
    "folder": load_identity_folders,
    "casia": load_casia,
    "vggface2": load_vggface2,
}


def _check_options(name: str, loader: Callable[..., Any], options: dict[str, Any]) -> None:
    accepted = {k for k, p in inspect.signature(loader).parameters.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; accepted: {', '.join(sorted(accepted))}")


def load_identities(section: DatasetParams, min_images: int, synthetic_root: Path) -> FaceIdSet:
    """The pretraining dataset named by `pretrain.data` (the embedded corpus: its CASIA-WebFace folder)."""
    if section.dataset == "synthetic":
        return load_casia(synthetic_root / TRAIN_DIR, min_images=min_images)
    loader = IDENTITY_LOADERS[section.dataset]
    _check_options(section.dataset, loader, section.options)
    return loader(section.root, **{"min_images": min_images, **section.options})


def load_verification(section: DatasetParams, synthetic_root: Path) -> VerificationSet | None:
    """The verification pairs named by `pretrain.verification`, or None for `dataset: none`."""
    if section.dataset == "none":
        return None
    root = synthetic_root if section.dataset == "synthetic" else Path(section.root)  # type: ignore[arg-type]
    options = {} if section.dataset == "synthetic" else section.options
    _check_options("lfw", load_lfw, options)
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
    "FaceIdSet",
    "VerificationSet",
    "load_casia",
    "load_identities",
    "load_identity_folders",
    "load_lfw",
    "load_verification",
    "load_vggface2",
    "parse_lfw_pairs",
    "prepare_faces",
    "read_pairs",
    "resolved_backend",
]
