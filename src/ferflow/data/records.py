"""The one record type every dataset adapter yields, and the skip bookkeeping every data stage shares.

A `Record` names one sample: where its media lies (a video file, a folder of frames or one image), its
0-based label, and optionally its identity and fold. Later stages never branch on the dataset, only on
`Record.media_kind`. Class names are not stored per record: they live in the dataset's `CLASSES` tuple and
travel with a `RecordSet`.

Pipeline policy for bad inputs: a stage records each sample it cannot use as a `Skip` (with the reason) and
goes on; it fails, with a summary, only when the skipped fraction exceeds a configurable threshold
(`check_skip_fraction`). Malformed annotation files are not skips: they raise at once.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal

from ferflow.core.atomic import atomic_path
from ferflow.errors import UserError

MediaKind = Literal["video", "frames", "image"]
MEDIA_KINDS: tuple[str, ...] = ("video", "frames", "image")
SPLITS: tuple[str, ...] = ("train", "test")
IMAGE_EXTENSIONS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True, slots=True)
class Record:
    """One sample of a dataset, in the form every later stage reads.

    Attributes:
        sample_id: Unique within its dataset and split (DFEW/MAFW: the 5-digit clip id, FERV39k: the clip's
            relative path, RAF-DB: the image name without extension).
        media: A video file, a folder of frame images, or one image.
        media_kind: Which of the three `media` is: "video", "frames" or "image".
        label: 0-based class index into the dataset's `CLASSES`.
        split: "train" or "test".
        dataset: The adapter's dataset name ("dfew", "rafdb", "synthetic_video", ...).
        identity: The subject's identity where the dataset has one, as a string.
        fold: The fold (1-based) for datasets evaluated by k-fold cross-validation, else None.
    """

    sample_id: str
    media: Path
    media_kind: MediaKind
    label: int
    split: str
    dataset: str = ""
    identity: str | None = None
    fold: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.media, Path):
            object.__setattr__(self, "media", Path(self.media))
        if self.media_kind not in MEDIA_KINDS:
            raise ValueError(
                f"record {self.sample_id!r}: media_kind must be one of {MEDIA_KINDS}, got {self.media_kind!r}"
            )
        if self.split not in SPLITS:
            raise ValueError(f"record {self.sample_id!r}: split must be one of {SPLITS}, got {self.split!r}")
        if isinstance(self.label, bool) or not isinstance(self.label, int) or self.label < 0:
            raise ValueError(f"record {self.sample_id!r}: label must be a 0-based int, got {self.label!r}")

    def to_row(self) -> dict[str, str]:
        """The record as strings, for a CSV manifest (None becomes an empty field)."""
        return {f.name: "" if (v := getattr(self, f.name)) is None else str(v) for f in fields(self)}

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Record:
        """Inverse of `to_row`."""
        return cls(
            sample_id=row["sample_id"],
            media=Path(row["media"]),
            media_kind=row["media_kind"],  # type: ignore[arg-type]  # validated in __post_init__
            label=int(row["label"]),
            split=row["split"],
            dataset=row.get("dataset", ""),
            identity=row.get("identity") or None,
            fold=int(row["fold"]) if row.get("fold") else None,
        )


RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Record))


@dataclass(frozen=True, slots=True)
class Skip:
    """A sample a stage could not use, and why."""

    sample_id: str
    path: Path
    reason: str

    def to_row(self) -> dict[str, str]:
        return {"sample_id": self.sample_id, "path": str(self.path), "reason": self.reason}


class TooManySkipsError(RuntimeError, UserError):
    """More samples were skipped than the configured fraction allows; the message summarises why."""

    def __init__(self, message: str, skipped: Sequence[Skip] = ()) -> None:
        super().__init__(message)
        self.skipped = tuple(skipped)


def summarize_skips(skipped: Sequence[Skip], limit: int = 5) -> str:
    """One line per distinct reason (reasons are grouped by their text before the first ':'), with
    a few example paths."""
    groups: dict[str, list[Skip]] = {}
    for s in skipped:
        groups.setdefault(s.reason.split(":", 1)[0], []).append(s)
    lines = []
    for reason, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        examples = ", ".join(str(s.path) for s in items[:limit])
        more = f", ... (+{len(items) - limit})" if len(items) > limit else ""
        lines.append(f"  {len(items)} x {reason}: {examples}{more}")
    return "\n".join(lines)


def check_skip_fraction(n_total: int, skipped: Sequence[Skip], max_fraction: float, what: str) -> None:
    """Raise `TooManySkipsError` when more than `max_fraction` of `n_total` samples were skipped.

    Args:
        n_total: Samples attempted (kept + skipped).
        skipped: The skips recorded.
        max_fraction: Largest tolerated fraction in [0, 1]; 0 tolerates none, 1 tolerates all.
        what: Names the input in the message (a split file, a stage).
    """
    if not 0.0 <= max_fraction <= 1.0:
        raise ValueError(f"max skip fraction must lie in [0, 1], got {max_fraction}")
    if n_total <= 0 or not skipped:
        return
    fraction = len(skipped) / n_total
    if fraction > max_fraction:
        raise TooManySkipsError(
            f"{what}: {len(skipped)} of {n_total} samples skipped ({fraction:.1%}), above the allowed "
            f"{max_fraction:.1%}:\n{summarize_skips(skipped)}",
            skipped,
        )


@dataclass(frozen=True)
class RecordSet:
    """The records of one dataset split (and fold), with its class names and what was skipped.

    Iterating, indexing and `len` act on `records`.

    Attributes:
        dataset: The adapter's dataset name.
        split: "train" or "test".
        fold: The fold, or None for datasets with one fixed split.
        classes: Class names in the dataset's official order; `label` indexes this tuple.
        records: The usable samples, in annotation-file order.
        skipped: Samples listed in the annotations whose media could not be used.
        dropped: Rows the dataset's own convention excludes (DFEW's label 0); not counted as skips.
        sources: The annotation files read (split file, ground-truth sidecar), for provenance.
        label_base: How the file numbered its labels (0 or 1), None where it names the classes.
    """

    dataset: str
    split: str
    fold: int | None
    classes: tuple[str, ...]
    records: tuple[Record, ...]
    skipped: tuple[Skip, ...] = ()
    dropped: int = 0
    sources: tuple[Path, ...] = field(default=())
    label_base: int | None = None

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __getitem__(self, index: int) -> Record:
        return self.records[index]

    def class_name(self, label: int) -> str:
        return self.classes[label]

    def class_counts(self) -> dict[str, int]:
        """Samples per class name, in class order (zeros included)."""
        counts = Counter(r.label for r in self.records)
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}


def write_rows(path: str | Path, rows: Iterable[dict[str, str]], columns: Sequence[str]) -> None:
    """Write dict rows as CSV, atomically (temporary file in the same folder, then rename)."""

    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def write_records(path: str | Path, records: Iterable[Record]) -> None:
    """Write records as a CSV manifest (atomically)."""
    write_rows(path, (r.to_row() for r in records), RECORD_COLUMNS)


def read_records(path: str | Path) -> list[Record]:
    """Read a CSV manifest written by `write_records`."""
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"sample_id", "media", "media_kind", "label", "split"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a record manifest, missing columns {sorted(missing)}")
        out = []
        for lineno, row in enumerate(reader, start=2):
            try:
                out.append(Record.from_row(row))
            except (ValueError, KeyError) as err:
                raise ValueError(f"{path}, line {lineno}: {err}") from None
        return out
