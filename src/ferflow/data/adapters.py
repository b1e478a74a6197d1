"""Dataset adapters: read DFEW, FERV39k, MAFW, RAF-DB basic and the embedded benchmark as distributed.

Every adapter returns a `RecordSet` of `Record`s with 0-based labels into the dataset's `CLASSES` tuple
(official order), so later stages never branch on the dataset. Every path is configurable: `root` is the
dataset's top folder; `split_dir`, `media_dir` (and `label_file` for RAF-DB) are taken relative to `root`
unless given absolute. `media` chooses between the official frame folders and the original videos.

Errors, by kind:
    * a split file that is missing, malformed or empty raises `AnnotationError` (a `ValueError`) naming the
      file, the line and what was expected; nothing is skipped silently;
    * a path from an annotation file that is absolute or climbs out of its folder (`../x`) raises
      `UnsafePathError` (an `AnnotationError`);
    * a listed sample whose media is missing or empty becomes a `Skip` with the reason, and loading goes
      on; only when the skipped fraction exceeds `max_skip_fraction` does it raise `TooManySkipsError`
      with a summary (pipeline policy). `check_media=False` turns the media check off (no file-system
      access beyond the split files).

Numeric labels (DFEW's split files, and the redistributed FERV39k and MAFW lists) come 1-based in the
official files and 0-based in some copies. The `label_base` option says which (`0`, `1`, or `auto`, the
default: read from the file's label range); `auto` refuses a file whose range fits both and names the option,
so labels are never shifted silently. `RecordSet.label_base` records what was used.
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import inspect
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ferflow.data.records import (
    IMAGE_EXTENSIONS,
    SPLITS,
    MediaKind,
    Record,
    RecordSet,
    Skip,
    check_skip_fraction,
)
from ferflow.data.synthetic.splits import VALIDATION_FRACTION, VALIDATION_SEED, choose_held_out
from ferflow.dataset_names import (
    CHOICES,
    CLASSES,
    DFEW_CLASSES,
    FERV39K_CLASSES,
    LABEL_BASES,
    MAFW_CLASSES,
    NUM_FOLDS,
    RAFDB_CLASSES,
    canonical_name,
)
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


def _under(root: Path, path: str | os.PathLike[str]) -> Path:
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


def _media_problem(path: Path, kind: MediaKind) -> str | None:
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


def _shared_media_problem(path: Path, kind: MediaKind) -> str | None:
    """`_media_problem`, looked up once per file inside `shared_media_scans` (folds share their samples)."""
    cache = _SCANS.get()
    if cache is None:
        return _media_problem(path, kind)
    key = (path, kind, "problem")
    if key not in cache:
        cache[key] = _media_problem(path, kind)
    return cache[key]


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers (BOM and CR removed)."""
    if not path.is_file():
        raise AnnotationError(path, None, "annotation file not found")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(i, line.rstrip("\r\n")) for i, line in enumerate(f, start=1) if line.strip()]


def _two_tokens(path: Path, lineno: int, line: str, expected: str) -> tuple[str, str]:
    tokens = line.split()
    if len(tokens) != 2:
        raise AnnotationError(path, lineno, f"expected {expected}, got {line!r}")
    return tokens[0], tokens[1]


def _class_by_name(classes: tuple[str, ...]) -> dict[str, int]:
    return {name.lower(): i for i, name in enumerate(classes)}


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return split


def _check_fold(dataset: str, fold: int | None) -> int:
    n = NUM_FOLDS[dataset]
    if isinstance(fold, bool) or not isinstance(fold, int) or not 1 <= fold <= n:
        raise ValueError(f"{dataset}: fold must be an integer in 1..{n}, got {fold!r}")
    return fold


# ---------------------------------------------------------------------------------------- label numbering


def parse_label_base(value: object) -> int | None:
    """The `label_base` option as 0, 1 or None (auto); accepts 0, 1, "0", "1" and "auto"."""
    text = str(value).strip().lower()
    if isinstance(value, bool) or text not in LABEL_BASES:
        raise ValueError(f"label_base must be auto, 0 or 1, got {value!r}")
    return None if text == "auto" else int(text)


def resolve_label_base(
    path: Path, labels: Sequence[tuple[int, int]], num_classes: int, option: object, *, zero_unlabelled: bool
) -> int:
    """Which numbering a file's numeric labels use: 0 (0..n-1) or 1 (1..n).

    Args:
        path: The file, for messages.
        labels: (line number, label) for every row.
        num_classes: n.
        option: The `label_base` option: 0, 1 or "auto" (decide from the file's label range).
        zero_unlabelled: Label 0 of a 1-based file means "no single label" (DFEW): such rows are dropped.

    `auto` takes 1 when label n occurs and 0 when label 0 occurs without n (DFEW: only when the file holds
    every label 0..n-1, since a 1-based DFEW file may also hold label 0); it refuses anything else.

    Raises:
        AnnotationError: a label outside the numbering's range (naming the line), or an ambiguous file.
    """
    base = parse_label_base(option)
    values = {v for _, v in labels}
    lo, hi = min(values), max(values)
    if base is None:
        if hi == num_classes:
            base = 1
        elif lo == 0 and (not zero_unlabelled or values == set(range(num_classes))):
            base = 0
        else:
            raise AnnotationError(
                path,
                None,
                f"labels span {lo}..{hi}, which fits both 0-based (0..{num_classes - 1}) and 1-based "
                f"(1..{num_classes}) numbering; set the dataset option label_base to 0 or 1 "
                "(params.yaml: data.video.options.label_base)",
            )
    low = 0 if base == 0 or zero_unlabelled else 1
    high = num_classes - 1 + base
    for lineno, v in labels:
        if not low <= v <= high:
            extra = " (0 = no single label, dropped)" if base == 1 and zero_unlabelled else ""
            raise AnnotationError(
                path, lineno, f"label must be {base}..{high} with label_base {base}{extra}, got {v}"
            )
    return base


# ------------------------------------------------------------------------------------ media by number

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
# Folder scans and per-file verdicts shared inside `shared_media_scans` (None outside it).
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


def numbered_media(base: Path, kind: MediaKind, video_ext: str | None = None) -> dict[int, list[Path]]:
    """Media named by sample number anywhere under `base`, in one walk: frame folders `<n>/` (kind
    "frames") or video files `<n><ext>` (kind "video"; any of `VIDEO_EXTENSIONS` unless `video_ext` is
    given), numbers zero-padded or not. Folders with other names (e.g. `part_1` .. `part_11`) are searched;
    numbered folders are never entered, so frame images are not listed."""
    key = (base, kind, video_ext)
    cache = _SCANS.get()
    if cache is not None and key in cache:
        return cache[key]
    exts = (video_ext.lower(),) if video_ext else VIDEO_EXTENSIONS
    found: dict[int, list[Path]] = {}
    stack = [base]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            stem, ext = os.path.splitext(entry.name)
            if entry.is_dir():
                if entry.name.isdigit():
                    if kind == "frames":
                        found.setdefault(int(entry.name), []).append(Path(entry.path))
                else:
                    stack.append(Path(entry.path))
            elif kind == "video" and stem.isdigit() and ext.lower() in exts:
                found.setdefault(int(stem), []).append(Path(entry.path))
    if cache is not None:
        cache[key] = found
    return found


@dataclass(frozen=True)
class _Row:
    sample_id: str
    media: Path
    kind: MediaKind
    label: int
    source: Path
    lineno: int
    identity: str | None = None
    problem: str | None = None  # why the media cannot be used, when known before looking at it


def _finish(
    dataset: str,
    split: str,
    fold: int | None,
    rows: list[_Row],
    sources: tuple[Path, ...],
    *,
    check_media: bool,
    max_skip_fraction: float,
    dropped: int = 0,
    identity_of: Callable[[_Row], str | None] | None = None,
    identity_source: Path | None = None,
    label_base: int | None = None,
) -> RecordSet:
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


# -------------------------------------------------------------------------------------------------- DFEW

DFEW_MEDIA = {"frames": "Clip/clip_224x224", "frames16": "Clip/clip_224x224_16f", "video": "Clip/original"}


def dfew_split_file(
    root: str | Path, fold: int, split: str, split_dir: str | Path = "EmoLabel_DataSplit"
) -> Path:
    """Locate DFEW's split CSV, accepting the official and the renamed layouts.

    Tried in order, under `split_dir`: `<split>(single-labeled)/set_<k>.csv` (official),
    `<split>(single-labeled)/<split>_set_<k>.csv`, `<split>/set_<k>.csv`, `<split>_set_<k>.csv`.
    """
    base = _under(Path(root), split_dir)
    candidates = [
        base / f"{split}(single-labeled)" / f"set_{fold}.csv",
        base / f"{split}(single-labeled)" / f"{split}_set_{fold}.csv",
        base / split / f"set_{fold}.csv",
        base / f"{split}_set_{fold}.csv",
    ]
    for c in candidates:
        if c.is_file():
            return c
    tried = "\n  ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"DFEW {split} split file for fold {fold} not found; tried:\n  {tried}")


def _parse_dfew_csv(path: Path, label_base: object) -> tuple[list[tuple[int, int, int]], int, int]:
    """Rows (lineno, video number, 0-based label), the count of label-0 rows dropped (1-based files) and
    the label base used (see `resolve_label_base`)."""
    lines = _read_lines(path)
    if not lines:
        raise AnnotationError(path, None, "empty file; expected header 'video_name,label' and rows")
    raw: list[tuple[int, int, int]] = []
    for k, (lineno, line) in enumerate(lines):
        fields = next(csv.reader([line]))
        while len(fields) > 2 and not fields[-1].strip():
            fields.pop()
        cells = [f.strip() for f in fields]
        if k == 0 and [c.lower() for c in cells] == ["video_name", "label"]:
            continue
        if len(cells) != 2 or not cells[0].isdigit() or not cells[1].isdigit():
            expected = (
                "header 'video_name,label' or " if k == 0 else ""
            ) + "'<video number>,<label>' (e.g. '123,4')"
            raise AnnotationError(path, lineno, f"expected {expected}, got {line!r}")
        video, label = int(cells[0]), int(cells[1])
        if video < 1:
            raise AnnotationError(path, lineno, f"video_name must be a positive integer, got {cells[0]!r}")
        raw.append((lineno, video, label))
    if not raw:
        raise AnnotationError(path, None, "no rows after the header; expected '<video number>,<label>'")
    base = resolve_label_base(
        path, [(n, lab) for n, _, lab in raw], len(DFEW_CLASSES), label_base, zero_unlabelled=True
    )
    rows = [(n, v, lab - base) for n, v, lab in raw if base == 0 or lab > 0]
    return rows, len(raw) - len(rows), base


def _dfew_media(
    base: Path, kind: MediaKind, ext: str | None, number: int, index: dict[int, list[Path]] | None
) -> tuple[Path, str | None]:
    """A DFEW sample's media, found by number in `index` (`numbered_media` of `base`; None: not looked
    up, the padded name is assumed), and why it is unusable (or None)."""
    found = sorted(index.get(number, [])) if index is not None else []
    if len(found) == 1:
        return found[0], None
    canonical = base / (f"{number:05d}{ext or '.mp4'}" if kind == "video" else f"{number:05d}")
    if index is None:
        return canonical, None
    what = "frame folder" if kind == "frames" else f"video ({ext or ' '.join(VIDEO_EXTENSIONS)})"
    if not found:
        return canonical, f"missing: no {what} numbered {number} under {base}"
    listed = ", ".join(str(f.relative_to(base)) for f in found)
    return found[0], f"ambiguous: {len(found)} media numbered {number} under {base}: {listed}"


def _dfew_rows(
    root: Path,
    fold: int,
    split: str,
    split_dir: str | Path,
    media: str,
    media_dir: str | Path | None,
    video_ext: str | None,
    label_base: object,
    check_media: bool,
) -> tuple[list[_Row], Path, int, int]:
    if media not in DFEW_MEDIA:
        raise ValueError(f"DFEW media must be one of {sorted(DFEW_MEDIA)}, got {media!r}")
    path = dfew_split_file(root, fold, split, split_dir)
    parsed, dropped, base_used = _parse_dfew_csv(path, label_base)
    base = _under(root, media_dir if media_dir is not None else DFEW_MEDIA[media])
    kind: MediaKind = "video" if media == "video" else "frames"
    ext = _ext(video_ext) if video_ext else None
    index = numbered_media(base, kind, ext) if check_media else None
    rows = []
    for lineno, v, label in parsed:
        where, problem = _dfew_media(base, kind, ext, v, index)
        rows.append(_Row(f"{v:05d}", where, kind, label, path, lineno, problem=problem))
    return rows, path, dropped, base_used


def _ext(video_ext: str) -> str:
    return video_ext if not video_ext or video_ext.startswith(".") else f".{video_ext}"


def load_dfew(
    root: str | Path,
    fold: int,
    split: str,
    *,
    split_dir: str | Path = "EmoLabel_DataSplit",
    media: str = "frames",
    media_dir: str | Path | None = None,
    video_ext: str | None = None,
    label_base: int | str = "auto",
    check_media: bool = True,
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION,
) -> RecordSet:
    """DFEW, single-labelled, one fold's train or test split.

    Args:
        root: DFEW's top folder (holding `Clip/` and `EmoLabel_DataSplit/`).
        fold: 1..5.
        split: "train" or "test".
        split_dir: Folder of the split files (see `dfew_split_file` for the accepted names).
        media: "frames" (`Clip/clip_224x224/<n>/`, all frames), "frames16" (`Clip/clip_224x224_16f/<n>/`,
            time-normalised) or "video" (`Clip/original/<n>.mp4`). Media are found by sample number
            anywhere under the folder, in one scan: `<n>` zero-padded (`00012`) or not (`12`), also in
            subfolders such as `part_1` .. `part_11`.
        media_dir: Overrides the folder chosen by `media`.
        video_ext: Extension of the original videos; None accepts any of `VIDEO_EXTENSIONS`.
        label_base: "auto", 0 or 1: how the split files number the classes (`resolve_label_base`).
        check_media: Skip samples whose media is missing or empty (off: no media lookup, padded names).
        max_skip_fraction: Raise `TooManySkipsError` above this skipped fraction.

    Labels 1..7 (0..6 with `label_base` 0) become 0..6 in `DFEW_CLASSES` order; in 1-based files rows
    labelled 0 are dropped (counted in `RecordSet.dropped`).
    """
    root = Path(root)
    fold, split = _check_fold("dfew", fold), _check_split(split)
    rows, path, dropped, base = _dfew_rows(
        root, fold, split, split_dir, media, media_dir, video_ext, label_base, check_media
    )
    return _finish(
        "dfew",
        split,
        fold,
        rows,
        (path,),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        dropped=dropped,
        label_base=base,
    )


# ------------------------------------------------------------------------------- '<path> <label>' lists


def _labelled_lines(
    path: Path, classes: tuple[str, ...], label_base: object, expected: str
) -> tuple[list[tuple[int, str, int]], int | None]:
    """Rows (lineno, path text, 0-based label) of a list of `<path> <label>` lines, and the label base used
    (None for class names).

    Lines are space-separated (the official files) or comma-separated (`path,label`, as some repositories
    redistribute them). The label is a class name (any case) or a number (`label_base`: 0, 1 or auto); one
    file uses one kind. A first line that is no row (a header such as `path,label`: neither a class nor a
    number, and a first field without '/' or '.') is skipped.
    """
    names = _class_by_name(classes)
    parsed: list[tuple[int, str, str]] = []
    for k, (lineno, line) in enumerate(_read_lines(path)):
        tokens = [t.strip() for t in next(csv.reader([line]))] if "," in line else line.split()
        if len(tokens) != 2 or not all(tokens):
            raise AnnotationError(path, lineno, f"expected {expected}, got {line!r}")
        item, label = tokens
        if k == 0 and label.lower() not in names and not label.isdigit() and not set("/.") & set(item):
            continue
        parsed.append((lineno, item, label))
    if not parsed:
        raise AnnotationError(path, None, f"no rows; expected lines {expected}")
    numeric = parsed[0][2].isdigit()
    for lineno, _, label in parsed:
        if label.isdigit() != numeric:
            kind = "a number" if numeric else "a class name"
            raise AnnotationError(path, lineno, f"label {label!r}: expected {kind}, like the first row")
        if not numeric and label.lower() not in names:
            raise AnnotationError(
                path, lineno, f"unknown class {label!r}; expected one of {', '.join(classes)}"
            )
    if not numeric:
        return [(n, item, names[label.lower()]) for n, item, label in parsed], None
    base = resolve_label_base(
        path, [(n, int(label)) for n, _, label in parsed], len(classes), label_base, zero_unlabelled=False
    )
    return [(n, item, int(label) - base) for n, item, label in parsed], base


# ----------------------------------------------------------------------------------------------- FERV39k


def load_ferv39k(
    root: str | Path,
    split: str,
    *,
    split_dir: str | Path = "4_setups/All_scenes",
    train_file: str = "train_All.csv",
    test_file: str = "test_All.csv",
    media: str = "frames",
    media_dir: str | Path | None = None,
    video_ext: str = ".mp4",
    label_base: int | str = "auto",
    check_media: bool = True,
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION,
) -> RecordSet:
    """FERV39k, the official All-scenes train/test split (one split, no folds).

    Split files `<split_dir>/train_All.csv` and `test_All.csv` hold space-delimited lines
    `<scene>/<Emotion>/<id> <Emotion>` (relative clip path, class name), after an optional header row.
    Redistributed copies with other names (`train_file`, `test_file`) and comma-separated `path,id` lines
    (a class index, numbered as `label_base` says, in `FERV39K_CLASSES` order) are read too. The sample id
    is the clip path.

    Args:
        root: FERV39k's top folder.
        split: "train" or "test".
        split_dir: Folder of the split files.
        train_file: The train split file's name, under `split_dir`.
        test_file: The test split file's name, under `split_dir`.
        media: "frames" (face crops, `2_ClipsforFaceCrop/<clip path>/`) or "video"
            (`<media_dir>/<clip path><video_ext>`; `media_dir` is then required).
        media_dir: Overrides the media folder.
        video_ext: Extension of the videos when `media="video"`.
        label_base: "auto", 0 or 1, for numeric labels (`resolve_label_base`).
        check_media: Skip samples whose media is missing or empty.
        max_skip_fraction: Raise `TooManySkipsError` above this skipped fraction.
    """
    root, split = Path(root), _check_split(split)
    if media == "frames":
        base, kind, suffix = _under(root, media_dir or "2_ClipsforFaceCrop"), "frames", ""
    elif media == "video":
        if media_dir is None:
            raise ValueError(
                f"FERV39k videos: pass media_dir, the folder holding <scene>/<Emotion>/<id>{_ext(video_ext)}"
            )
        base, kind, suffix = _under(root, media_dir), "video", _ext(video_ext)
    else:
        raise ValueError(f"FERV39k media must be 'frames' or 'video', got {media!r}")
    path = _under(root, split_dir) / (train_file if split == "train" else test_file)
    expected = "'<scene>/<Emotion>/<id> <Emotion>' or '<scene>/<Emotion>/<id>,<class index>'"
    parsed, base_used = _labelled_lines(path, FERV39K_CLASSES, label_base, expected)
    rows = []
    for lineno, clip, label in parsed:
        rel = safe_relative(clip, path, lineno)
        media_path = base / rel
        if suffix:
            media_path = media_path.with_name(media_path.name + suffix)
        rows.append(_Row(str(rel), media_path, kind, label, path, lineno))  # type: ignore[arg-type]
    return _finish(
        "ferv39k",
        split,
        None,
        rows,
        (path,),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        label_base=base_used,
    )


# -------------------------------------------------------------------------------------------------- MAFW

_MAFW_SPLIT_DIRS = ("anno/single/no_caption", "Train & Test Set/single/no_caption")


def load_mafw(
    root: str | Path,
    fold: int,
    split: str,
    *,
    split_dir: str | Path | None = None,
    media: str = "frames",
    media_dir: str | Path | None = None,
    video_ext: str | None = None,
    label_base: int | str = "auto",
    check_media: bool = True,
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION,
) -> RecordSet:
    """MAFW, single-expression set (11 classes), one fold's train or test split.

    Split files `<split_dir>/set_<k>/train.txt` and `test.txt` hold lines `03747.mp4 anger`; copies with a
    header row, commas, or class numbers (`label_base`, in `MAFW_CLASSES` order) are read too.

    Args:
        root: MAFW's top folder.
        fold: 1..5.
        split: "train" or "test".
        split_dir: Folder holding `set_<k>/`; by default `anno/single/no_caption`, then
            `Train & Test Set/single/no_caption` (as some downloads name it).
        media: "frames" (official face frames, `data/frames/<id>/`) or "video" (`data/clips/<name>`).
        media_dir: Overrides the media folder.
        video_ext: Replaces the listed video's extension when `media="video"` (None keeps it).
        label_base: "auto", 0 or 1, for numeric labels (`resolve_label_base`).
        check_media: Skip samples whose media is missing or empty.
        max_skip_fraction: Raise `TooManySkipsError` above this skipped fraction.
    """
    root = Path(root)
    fold, split = _check_fold("mafw", fold), _check_split(split)
    if media not in ("frames", "video"):
        raise ValueError(f"MAFW media must be 'frames' or 'video', got {media!r}")
    if split_dir is None:
        candidates = [root / d / f"set_{fold}" / f"{split}.txt" for d in _MAFW_SPLIT_DIRS]
        path = next((c for c in candidates if c.is_file()), candidates[0])
    else:
        path = _under(root, split_dir) / f"set_{fold}" / f"{split}.txt"
    kind: MediaKind = "frames" if media == "frames" else "video"
    base = _under(root, media_dir or ("data/frames" if kind == "frames" else "data/clips"))
    expected = "'<clip>.mp4 <class>' (e.g. '03747.mp4 anger')"
    parsed, base_used = _labelled_lines(path, MAFW_CLASSES, label_base, expected)
    rows = []
    for lineno, name, label in parsed:
        rel = safe_relative(name, path, lineno)
        if kind == "frames":
            media_path = base / rel.with_suffix("")
        else:
            media_path = base / (rel.with_suffix(_ext(video_ext)) if video_ext is not None else rel)
        rows.append(_Row(str(rel.with_suffix("")), media_path, kind, label, path, lineno))
    return _finish(
        "mafw",
        split,
        fold,
        rows,
        (path,),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        label_base=base_used,
    )


# ------------------------------------------------------------------------------------------- RAF-DB basic


def _rafdb_rows(
    root: Path, split: str, label_file: str | Path, media: str, media_dir: str | Path | None
) -> tuple[list[_Row], Path]:
    if not (root / "EmoLabel").exists() and (root / "basic" / "EmoLabel").is_dir():
        root = root / "basic"
    if media not in ("aligned", "original"):
        raise ValueError(f"RAF-DB media must be 'aligned' or 'original', got {media!r}")
    base = _under(root, media_dir or f"Image/{media}")
    path = _under(root, label_file)
    rows = []
    for lineno, line in _read_lines(path):
        name, label = _two_tokens(
            path, lineno, line, "'<split>_<number>.jpg <label 1..7>' (e.g. 'train_00001.jpg 5')"
        )
        rel = safe_relative(name, path, lineno)
        prefix = rel.name.split("_", 1)[0]
        if prefix not in SPLITS or "_" not in rel.name:
            raise AnnotationError(path, lineno, f"image name {name!r} must start with 'train_' or 'test_'")
        if not label.isdigit() or not 1 <= int(label) <= len(RAFDB_CLASSES):
            raise AnnotationError(path, lineno, f"label must be an integer 1..7, got {label!r}")
        if prefix != split:
            continue
        stem = rel.with_suffix("")
        media_path = base / (stem.with_name(f"{stem.name}_aligned.jpg") if media == "aligned" else rel)
        rows.append(_Row(str(stem), media_path, "image", int(label) - 1, path, lineno))
    return rows, path


def load_rafdb(
    root: str | Path,
    split: str,
    *,
    label_file: str | Path = "EmoLabel/list_patition_label.txt",
    media: str = "aligned",
    media_dir: str | Path | None = None,
    check_media: bool = True,
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION,
) -> RecordSet:
    """RAF-DB basic (7 classes), the train or test split.

    Args:
        root: The `basic/` folder (or its parent, which holds `basic/`).
        split: "train" or "test" (taken from the image names' prefix).
        label_file: Lines `train_00001.jpg 5`; labels 1..7 become 0..6 in `RAFDB_CLASSES` order. The whole
            file is validated, both splits.
        media: "aligned" (`Image/aligned/<stem>_aligned.jpg`) or "original" (`Image/original/<name>`).
        media_dir: Overrides the image folder.
        check_media: Skip samples whose image is missing or empty.
        max_skip_fraction: Raise `TooManySkipsError` above this skipped fraction.
    """
    split = _check_split(split)
    rows, path = _rafdb_rows(Path(root), split, label_file, media, media_dir)
    return _finish(
        "rafdb", split, None, rows, (path,), check_media=check_media, max_skip_fraction=max_skip_fraction
    )


# -------------------------------------------------------------------------------- the embedded benchmark


def _read_identities(path: Path, key_column: str, key: Callable[[str], str]) -> dict[str, str]:
    if not path.is_file():
        raise AnnotationError(path, None, "ground-truth file not found")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = {key_column, "identity"} - set(reader.fieldnames or ())
        if missing:
            raise AnnotationError(
                path,
                1,
                f"expected columns {key_column!r} and 'identity' in the header, missing {sorted(missing)}",
            )
        out: dict[str, str] = {}
        for lineno, row in enumerate(reader, start=2):
            name, identity = (row.get(key_column) or "").strip(), (row.get("identity") or "").strip()
            if not name or not identity:
                raise AnnotationError(path, lineno, f"expected non-empty {key_column!r} and 'identity'")
            try:
                out[key(name)] = identity
            except ValueError:
                raise AnnotationError(path, lineno, f"bad {key_column} {name!r}") from None
    return out


def load_synthetic_video(
    root: str | Path,
    fold: int,
    split: str,
    *,
    dfew_dir: str | Path = "DFEW",
    ground_truth: str | Path = "ground_truth/clips.csv",
    check_media: bool = True,
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION,
) -> RecordSet:
    """The embedded benchmark's video set: DFEW's layout (`.mp4` originals) plus identities.

    Args:
        root: The benchmark's root (holding `DFEW/`, `RAF-DB/` and `ground_truth/`).
        fold: 1..5.
        split: "train" or "test".
        dfew_dir: The DFEW-layout folder.
        ground_truth: CSV with at least `video_name,identity`; every listed clip needs an identity.
        check_media: Skip samples whose video is missing or empty.
        max_skip_fraction: Raise `TooManySkipsError` above this skipped fraction.
    """
    root = Path(root)
    fold, split = _check_fold("synthetic_video", fold), _check_split(split)
    rows, path, dropped, base = _dfew_rows(
        _under(root, dfew_dir), fold, split, "EmoLabel_DataSplit", "video", None, ".mp4", 1, check_media
    )
    gt = _under(root, ground_truth)
    ids = _read_identities(gt, "video_name", lambda s: str(int(s)))
    return _finish(
        "synthetic_video",
        split,
        fold,
        rows,
        (path, gt),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        dropped=dropped,
        identity_of=lambda r: ids.get(str(int(r.sample_id))),
        identity_source=gt,
        label_base=base,
    )


@dataclass(frozen=True)
class SyntheticImageSplit:
    """Where one of the embedded image set's splits lives under the benchmark's root."""

    rafdb_dir: str  # its RAF-DB-basic layout
    ground_truth: str  # name, label, identity, split, ... of every image (never read by training)
    landmarks: str  # true landmarks of the unaligned images, by name (the data stage's NME)


#: The embedded image set's splits (`test_identities`): each identity's images split per class, so every
#: test identity is also a training identity (`seen`), or whole identities held out (`unseen`).
SYNTHETIC_IMAGE_SPLITS = {
    "seen": SyntheticImageSplit(
        "RAF-DB/basic", "ground_truth/images.csv", "ground_truth/image_landmarks.npz"
    ),
    "unseen": SyntheticImageSplit(
        "RAF-DB-unseen/basic", "ground_truth/images_unseen.csv", "ground_truth/image_landmarks_unseen.npz"
    ),
}
HOLDOUTS = CHOICES["synthetic_image"]["holdout"]


def _validation_ids(rows: list[_Row], ids: dict[str, str], by_identity: bool) -> set[str]:
    """Sample ids of a validation split carved from training rows: `VALIDATION_FRACTION` of the identities
    (`by_identity`), or of each (identity, class) group's images, drawn from a fixed stream."""
    rng = np.random.default_rng(VALIDATION_SEED)
    known = [r for r in rows if r.sample_id in ids]
    if by_identity:
        held = choose_held_out(sorted({ids[r.sample_id] for r in known}), VALIDATION_FRACTION, rng)
        return {r.sample_id for r in known if ids[r.sample_id] in held}
    groups: dict[tuple[str, int], list[str]] = {}
    for r in known:
        groups.setdefault((ids[r.sample_id], r.label), []).append(r.sample_id)
    chosen: set[str] = set()
    for key in sorted(groups):
        names = sorted(groups[key])
        k = min(len(names) - 1, max(1, round(len(names) * VALIDATION_FRACTION)))
        chosen |= {names[int(i)] for i in rng.permutation(len(names))[:k]}
    return chosen


def load_synthetic_image(
    root: str | Path,
    split: str,
    *,
    test_identities: str = "seen",
    holdout: str = "test",
    rafdb_dir: str | Path | None = None,
    media: str = "aligned",
    ground_truth: str | Path | None = None,
    check_media: bool = True,
    max_skip_fraction: float = DEFAULT_MAX_SKIP_FRACTION,
) -> RecordSet:
    """The embedded benchmark's image set: RAF-DB basic's layout plus identities.

    Args:
        root: The benchmark's root.
        split: "train" or "test".
        test_identities: "seen" (`RAF-DB/basic`: each identity's images split per class, so every test
            identity is a training identity too) or "unseen" (`RAF-DB-unseen/basic`: the same images, whole
            identities held out for the test split); see `SYNTHETIC_IMAGE_SPLITS`.
        holdout: "test" (the layout's split) or "validation": a split carved from the layout's training
            images, whose validation part comes back as the "test" split; the layout's test images are
            never read. Unseen: `VALIDATION_FRACTION` of the training identities held out; seen: that share
            of each training identity's images per class (`_validation_ids`).
        rafdb_dir: The RAF-DB-layout `basic/` folder (default: the split's).
        media: "aligned" or "original".
        ground_truth: CSV with at least `name,identity` (`name` as in the label file, e.g. `train_00001.jpg`;
            default: the split's).
        check_media: Skip samples whose image is missing or empty.
        max_skip_fraction: Raise `TooManySkipsError` above this skipped fraction.
    """
    root, split = Path(root), _check_split(split)
    if test_identities not in SYNTHETIC_IMAGE_SPLITS:
        raise ValueError(
            f"test_identities must be one of {', '.join(SYNTHETIC_IMAGE_SPLITS)}, got {test_identities!r}"
        )
    if holdout not in HOLDOUTS:
        raise ValueError(f"holdout must be one of {', '.join(HOLDOUTS)}, got {holdout!r}")
    layout = SYNTHETIC_IMAGE_SPLITS[test_identities]
    rows, path = _rafdb_rows(
        _under(root, rafdb_dir or layout.rafdb_dir),
        "train" if holdout == "validation" else split,
        "EmoLabel/list_patition_label.txt",
        media,
        None,
    )
    gt = _under(root, ground_truth or layout.ground_truth)
    ids = _read_identities(gt, "name", lambda s: str(PurePosixPath(s).with_suffix("")))
    if holdout == "validation":
        validation = _validation_ids(rows, ids, by_identity=test_identities == "unseen")
        rows = [r for r in rows if (r.sample_id in validation) == (split == "test")]
    return _finish(
        "synthetic_image",
        split,
        None,
        rows,
        (path, gt),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        identity_of=lambda r: ids.get(r.sample_id),
        identity_source=gt,
    )


# ------------------------------------------------------------------------------------------- dispatcher

LOADERS: dict[str, Callable[..., RecordSet]] = {
    "dfew": load_dfew,
    "ferv39k": load_ferv39k,
    "mafw": load_mafw,
    "rafdb": load_rafdb,
    "synthetic_video": load_synthetic_video,
    "synthetic_image": load_synthetic_image,
}


def load_records(
    dataset: str, root: str | Path, fold: int | None = None, split: str = "train", **paths: Any
) -> RecordSet:
    """Load one split of a dataset by name.

    Args:
        dataset: One of `LOADERS` ("dfew", "ferv39k", "mafw", "rafdb", "synthetic_video",
            "synthetic_image").
        root: The dataset's top folder.
        fold: 1..5 for DFEW, MAFW and the synthetic video set; None for the others (one fixed split).
        split: "train" or "test".
        **paths: The loader's keyword options (`split_dir`, `media`, `media_dir`, `video_ext`,
            `check_media`, `max_skip_fraction`, ...).

    Raises:
        ValueError: for an unknown dataset, a fold given to a dataset without folds, or an option the
            dataset's loader does not take.
    """
    name = canonical_name(dataset)
    loader = LOADERS[name]
    params = inspect.signature(loader).parameters
    unknown = sorted(set(paths) - {k for k, p in params.items() if p.kind is p.KEYWORD_ONLY})
    if unknown:
        accepted = ", ".join(k for k, p in params.items() if p.kind is p.KEYWORD_ONLY)
        raise ValueError(f"{name}: unknown option(s) {unknown}; accepted: {accepted}")
    if name in NUM_FOLDS:
        return loader(root, fold, split, **paths)
    if fold is not None:
        raise ValueError(f"{name} has one fixed train/test split; fold must be None, got {fold!r}")
    return loader(root, split, **paths)


__all__ = [
    "DEFAULT_MAX_SKIP_FRACTION",
    "HOLDOUTS",
    "LOADERS",
    "SYNTHETIC_IMAGE_SPLITS",
    "VIDEO_EXTENSIONS",
    "AnnotationError",
    "UnsafePathError",
    "dfew_split_file",
    "load_dfew",
    "load_ferv39k",
    "load_mafw",
    "load_rafdb",
    "load_records",
    "load_synthetic_image",
    "load_synthetic_video",
    "numbered_media",
    "parse_label_base",
    "resolve_label_base",
    "safe_relative",
    "shared_media_scans",
]
