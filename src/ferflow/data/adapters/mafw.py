"""MAFW, the single-expression set (11 classes): five folds of `<clip> <class>` lists."""

from __future__ import annotations

from pathlib import Path

from ferflow.data.adapters.base import (
    DEFAULT_MAX_SKIP_FRACTION,
    Row,
    check_fold,
    check_split,
    dotted_ext,
    finish,
    safe_relative,
    under,
)
from ferflow.data.adapters.labels import labelled_lines
from ferflow.data.records import MediaKind, RecordSet
from ferflow.dataset_names import MAFW_CLASSES

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
    fold, split = check_fold("mafw", fold), check_split(split)
    if media not in ("frames", "video"):
        raise ValueError(f"MAFW media must be 'frames' or 'video', got {media!r}")
    if split_dir is None:
        candidates = [root / d / f"set_{fold}" / f"{split}.txt" for d in _MAFW_SPLIT_DIRS]
        path = next((c for c in candidates if c.is_file()), candidates[0])
    else:
        path = under(root, split_dir) / f"set_{fold}" / f"{split}.txt"
    kind: MediaKind = "frames" if media == "frames" else "video"
    base = under(root, media_dir or ("data/frames" if kind == "frames" else "data/clips"))
    expected = "'<clip>.mp4 <class>' (e.g. '03747.mp4 anger')"
    parsed, base_used = labelled_lines(path, MAFW_CLASSES, label_base, expected)
    rows = []
    for lineno, name, label in parsed:
        rel = safe_relative(name, path, lineno)
        if kind == "frames":
            media_path = base / rel.with_suffix("")
        else:
            media_path = base / (rel.with_suffix(dotted_ext(video_ext)) if video_ext is not None else rel)
        rows.append(Row(str(rel.with_suffix("")), media_path, kind, label, path, lineno))
    return finish(
        "mafw",
        split,
        fold,
        rows,
        (path,),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        label_base=base_used,
    )
