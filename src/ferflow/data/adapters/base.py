"""What every dataset adapter shares: the errors, annotation paths, media checks and the finished `RecordSet`.

Errors, by kind:
    * a split file that is missing, malformed or empty raises `AnnotationError` (a `ValueError`) naming the
      file, the line and what was expected; nothing is skipped silently;
    * a path from an annotation file that is absolute or climbs out of its folder (`../x`) raises
      `UnsafePathError` (an `AnnotationError`);
    * a listed sample whose media is missing or empty becomes a `Skip` with the reason, and loading goes
      on; only when the skipped fraction exceeds `max_skip_fraction` does it raise `TooManySkipsError`
      with a summary (pipeline policy). `check_media=False` turns the media check off (no file-system
      access beyond the split files).

Expression adapters collect `Row`s and hand them to `finish`; face-identity adapters hand identity -> images
to `identity_set`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ferflow.data.records import (
    IMAGE_EXTENSIONS,
    SPLITS,
    MediaKind,
    Record,
    RecordSet,
    Skip,
    check_skip_fraction,
)
from ferflow.dataset_names import CLASSES, NUM_FOLDS
from ferflow.errors import UserError

DEFAULT_MAX_SKIP_FRACTION = 0.05


class AnnotationError(ValueError, UserError):
    """An annotation (split/label) file that cannot be read as the dataset's official format."""

    def __init__(self, path: Path | str, lineno: int | None, message: str) -> None:
        where = f"{path}, line {lineno}" if lineno is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.lineno = lineno


class UnsafePathError(AnnotationError):
    """An annotation path that is absolute or would escape the dataset root."""


# ----------------------------------------------------------------------------------------------- helpers


def under(root: Path, path: str | os.PathLike[str]) -> Path:
    """A configured path: absolute as given, otherwise relative to `root`."""
    p = Path(path)
    return p if p.is_absolute() else root / p


def safe_relative(text: str, source: Path | str, lineno: int | None) -> PurePosixPath:
    """Parse a path written in an annotation file; reject absolute paths and paths climbing out.

    The check is lexical (no symlinks are followed, so dataset folders may be symlinks). Backslashes count
    as separators.

    Raises:
        UnsafePathError: for an empty, absolute (`/x`, `C:\\x`) or escaping (`../x`, `a/../../x`) path.
    """
    s = text.strip().replace("\\", "/")
    if s.startswith("/") or re.match(r"^[A-Za-z]:", s):
        raise UnsafePathError(
            source,
            lineno,
            f"absolute path {text!r} not allowed; expected a path relative to the dataset root",
        )
    parts: list[str] = []
    for part in s.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafePathError(source, lineno, f"path {text!r} escapes the dataset root")
            parts.pop()
        else:
            parts.append(part)
    if not parts:
        raise UnsafePathError(source, lineno, f"empty path {text!r}")
    return PurePosixPath(*parts)


def media_problem(path: Path, kind: MediaKind) -> str | None:
    """Why `path` cannot serve as media of this kind, or None when it looks usable."""
    if kind == "frames":
        if not path.is_dir():
            return "missing: no frame folder" if not path.exists() else "not a folder: expected frames"
        with os.scandir(path) as it:
            if not any(e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS for e in it):
                return "empty: frame folder holds no images"
        return None
    if not path.is_file():
        return "missing: file not found" if not path.exists() else "not a file"
    if path.stat().st_size == 0:
        return "empty: file has 0 bytes"
    return None


def dotted_ext(video_ext: str) -> str:
    """A video extension with its leading dot (`mp4` -> `.mp4`)."""
    return video_ext if not video_ext or video_ext.startswith(".") else f".{video_ext}"


def read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers (BOM and CR removed)."""
    if not path.is_file():
        raise AnnotationError(path, None, "annotation file not found")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(i, line.rstrip("\r\n")) for i, line in enumerate(f, start=1) if line.strip()]


def check_split(split: str) -> str:
    """`split`, when it is "train" or "test"."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def check_fold(dataset: str, fold: int | None) -> int:
    """`fold`, when it is one of the dataset's folds (1-based)."""
    n = NUM_FOLDS[dataset]
    if isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold <= n:
        raise ValueError(f"{dataset}: fold must be an integer in 1..{n}, got {fold!r}")
    return fold


# ------------------------------------------------------------------------------------ shared media scans

# Folder scans (`dfew.numbered_media`) and per-file verdicts shared inside `shared_media_scans` (None
# outside it).
_SCANS: contextvars.ContextVar[dict[tuple[Path, str, str | None], Any] | None] = contextvars.ContextVar(
    "ferflow_media_scans", default=None
)


@contextlib.contextmanager
def shared_media_scans() -> Iterator[None]:
    """Inside this block, every folder is scanned for numbered media once and every sample's media looked
    at once, however many splits and folds are loaded (outside it each load scans once)."""
    token = _SCANS.set({})
    try:
        yield
    finally:
        _SCANS.reset(token)


def scan_cache() -> dict[tuple[Path, str, str | None], Any] | None:
    """What `shared_media_scans` has looked at so far, or None outside it."""
    return _SCANS.get()


def _shared_media_problem(path: Path, kind: MediaKind) -> str | None:
    """`media_problem`, looked up once per file inside `shared_media_scans` (folds share their samples)."""
    cache = scan_cache()
    if cache is None:
        return media_problem(path, kind)
    key = (path, kind, "problem")
    if key not in cache:
        cache[key] = media_problem(path, kind)
    return cache[key]


@dataclass(frozen=True)
class Row:
    """One sample as an annotation file lists it, before its media is checked."""

    sample_id: str
    media: Path
    kind: MediaKind
    label: int
    source: Path
    lineno: int
    identity: str | None = None
    problem: str | None = None  # why the media cannot be used, when known before looking at it


def finish(
    dataset: str,
    split: str,
    fold: int | None,
    rows: list[Row],
    sources: tuple[Path, ...],
    *,
    check_media: bool,
    max_skip_fraction: float,
    dropped: int = 0,
    identity_of: Callable[[Row], str | None] | None = None,
    identity_source: Path | None = None,
    label_base: int | None = None,
) -> RecordSet:
    """The `RecordSet` of `rows`: duplicates refused, unusable media (and samples without an identity, when
    `identity_of` is given) skipped, the skipped fraction checked against `max_skip_fraction`."""
    if not rows:
        raise AnnotationError(sources[-1], None, f"no {split} samples listed (after dropping {dropped} rows)")
    seen: dict[str, int] = {}
    records: list[Record] = []
    skipped: list[Skip] = []
    for row in rows:
        if row.sample_id in seen:
            raise AnnotationError(
                row.source,
                row.lineno,
                f"duplicate sample {row.sample_id!r} (first listed on line {seen[row.sample_id]})",
            )
        seen[row.sample_id] = row.lineno
        problem = row.problem or (_shared_media_problem(row.media, row.kind) if check_media else None)
        if problem is not None:
            skipped.append(Skip(row.sample_id, row.media, problem))
            continue
        identity = row.identity
        if identity_of is not None:
            identity = identity_of(row)
            if identity is None:
                skipped.append(
                    Skip(
                        row.sample_id,
                        row.media,
                        f"no identity: {row.sample_id!r} not listed in {identity_source}",
                    )
                )
                continue
        records.append(Record(row.sample_id, row.media, row.kind, row.label, split, dataset, identity, fold))
    what = f"{dataset} {split}" + (f" fold {fold}" if fold is not None else "") + f" ({sources[-1]})"
    check_skip_fraction(len(rows), skipped, max_skip_fraction, what)
    return RecordSet(
        dataset, split, fold, CLASSES[dataset], tuple(records), tuple(skipped), dropped, sources, label_base
    )


# ---------------------------------------------------------------------------------- face-identity sets


@dataclass(frozen=True)
class FaceIdSet:
    """The images of a face-identity dataset: `label` indexes `identities`, `identity` is its name."""

    dataset: str
    records: tuple[Record, ...]
    identities: tuple[str, ...]
    skipped: tuple[Skip, ...] = ()
    sources: tuple[Path, ...] = ()


def identity_set(
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
            problem = media_problem(path, "image")
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
