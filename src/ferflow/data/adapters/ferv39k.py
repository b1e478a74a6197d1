"""FERV39k: the official All-scenes train/test split (one split, no folds), clips named by their path."""

from __future__ import annotations

from pathlib import Path

from ferflow.data.adapters.base import (
    DEFAULT_MAX_SKIP_FRACTION,
    Row,
    check_split,
    dotted_ext,
    finish,
    safe_relative,
    under,
)
from ferflow.data.adapters.labels import labelled_lines
from ferflow.data.records import RecordSet
from ferflow.dataset_names import FERV39K_CLASSES


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
    root, split = Path(root), check_split(split)
    if media == "frames":
        base, kind, suffix = under(root, media_dir or "2_ClipsforFaceCrop"), "frames", ""
    elif media == "video":
        if media_dir is None:
            raise ValueError(
                "FERV39k videos: pass media_dir, the folder holding "
                f"<scene>/<Emotion>/<id>{dotted_ext(video_ext)}"
            )
        base, kind, suffix = under(root, media_dir), "video", dotted_ext(video_ext)
    else:
        raise ValueError(f"FERV39k media must be 'frames' or 'video', got {media!r}")
    path = under(root, split_dir) / (train_file if split == "train" else test_file)
    expected = "'<scene>/<Emotion>/<id> <Emotion>' or '<scene>/<Emotion>/<id>,<class index>'"
    parsed, base_used = labelled_lines(path, FERV39K_CLASSES, label_base, expected)
    rows = []
    for lineno, clip, label in parsed:
        rel = safe_relative(clip, path, lineno)
        media_path = base / rel
        if suffix:
            media_path = media_path.with_name(media_path.name + suffix)
        rows.append(Row(str(rel), media_path, kind, label, path, lineno))  # type: ignore[arg-type]
    return finish(
        "ferv39k",
        split,
        None,
        rows,
        (path,),
        check_media=check_media,
        max_skip_fraction=max_skip_fraction,
        label_base=base_used,
    )
