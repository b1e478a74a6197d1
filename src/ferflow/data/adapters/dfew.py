"""DFEW, single-labelled: five folds of video numbers in CSV split files, media found by number.

The official layout keeps the clips in `Clip/clip_224x224/<n>/` (all frames), `Clip/clip_224x224_16f/<n>/`
(time-normalised) and `Clip/original/<n>.mp4`, sometimes in subfolders `part_1` .. `part_11`; the split
files are `EmoLabel_DataSplit/<split>(single-labeled)/set_<k>.csv` with rows `video_name,label` (1..7, 0 for
clips without one label).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ferflow.data.adapters.base import (
    DEFAULT_MAX_SKIP_FRACTION,
    AnnotationError,
    Row,
    check_fold,
    check_split,
    dotted_ext,
    finish,
    read_lines,
    scan_cache,
    under,
)
from ferflow.data.adapters.labels import resolve_label_base
from ferflow.data.records import MediaKind, RecordSet
from ferflow.dataset_names import DFEW_CLASSES

DFEW_MEDIA = {"frames": "Clip/clip_224x224", "frames16": "Clip/clip_224x224_16f", "video": "Clip/original"}
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def numbered_media(base: Path, kind: MediaKind, video_ext: str | None = None) -> dict[int, list[Path]]:
    """Media named by sample number anywhere under `base`, in one walk: frame folders `<n>/` (kind
    "frames") or video files `<n><ext>` (kind "video"; any of `VIDEO_EXTENSIONS` unless `video_ext` is
    given), numbers zero-padded or not. Folders with other names (e.g. `part_1` .. `part_11`) are searched;
    numbered folders are never entered, so frame images are not listed."""
    key = (base, kind, video_ext)
    cache = scan_cache()
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


def dfew_split_file(
    root: str | Path, fold: int, split: str, split_dir: str | Path = "EmoLabel_DataSplit"
) -> Path:
    """Locate DFEW's split CSV, accepting the official and the renamed layouts.

    Tried in order, under `split_dir`: `<split>(single-labeled)/set_<k>.csv` (official),
    `<split>(single-labeled)/<split>_set_<k>.csv`, `<split>/set_<k>.csv`, `<split>_set_<k>.csv`.
    """
    base = under(Path(root), split_dir)
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
    lines = read_lines(path)
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


def dfew_rows(
    root: Path,
    fold: int,
    split: str,
    split_dir: str | Path,
    media: str,
    media_dir: str | Path | None,
    video_ext: str | None,
    label_base: object,
    check_media: bool,
) -> tuple[list[Row], Path, int, int]:
    """The rows of one fold's split file, the file, the rows dropped (label 0) and the label base used;
    the embedded benchmark's video set reads its DFEW layout through this too."""
    if media not in DFEW_MEDIA:
        raise ValueError(f"DFEW media must be one of {sorted(DFEW_MEDIA)}, got {media!r}")
    path = dfew_split_file(root, fold, split, split_dir)
    parsed, dropped, base_used = _parse_dfew_csv(path, label_base)
    base = under(root, media_dir if media_dir is not None else DFEW_MEDIA[media])
    kind: MediaKind = "video" if media == "video" else "frames"
    ext = dotted_ext(video_ext) if video_ext else None
    index = numbered_media(base, kind, ext) if check_media else None
    rows = []
    for lineno, v, label in parsed:
        where, problem = _dfew_media(base, kind, ext, v, index)
        rows.append(Row(f"{v:05d}", where, kind, label, path, lineno, problem=problem))
    return rows, path, dropped, base_used


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
    fold, split = check_fold("dfew", fold), check_split(split)
    rows, path, dropped, base = dfew_rows(
        root, fold, split, split_dir, media, media_dir, video_ext, label_base, check_media
    )
    return finish(
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
