"""RAF-DB basic (7 classes): one label file for both splits, images named `<split>_<number>.jpg`."""

from __future__ import annotations

from pathlib import Path

from ferflow.data.adapters.base import (
    DEFAULT_MAX_SKIP_FRACTION,
    AnnotationError,
    Row,
    check_split,
    finish,
    read_lines,
    safe_relative,
    under,
)
from ferflow.data.records import SPLITS, RecordSet
from ferflow.dataset_names import RAFDB_CLASSES


def _two_tokens(path: Path, lineno: int, line: str, expected: str) -> tuple[str, str]:
    tokens = line.split()
    if len(tokens) != 2:
        raise AnnotationError(path, lineno, f"expected {expected}, got {line!r}")
    return tokens[0], tokens[1]


def rafdb_rows(
    root: Path, split: str, label_file: str | Path, media: str, media_dir: str | Path | None
) -> tuple[list[Row], Path]:
    """The rows of `split` in the label file (the whole file validated) and the file; the embedded
    benchmark's image set reads its RAF-DB layout through this too."""
    if not (root / "EmoLabel").exists() and (root / "basic" / "EmoLabel").is_dir():
        root = root / "basic"
    if media not in ("aligned", "original"):
        raise ValueError(f"RAF-DB media must be 'aligned' or 'original', got {media!r}")
    base = under(root, media_dir or f"Image/{media}")
    path = under(root, label_file)
    rows = []
    for lineno, line in read_lines(path):
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
        rows.append(Row(str(stem), media_path, "image", int(label) - 1, path, lineno))
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
    split = check_split(split)
    rows, path = rafdb_rows(Path(root), split, label_file, media, media_dir)
    return finish(
        "rafdb", split, None, rows, (path,), check_media=check_media, max_skip_fraction=max_skip_fraction
    )
