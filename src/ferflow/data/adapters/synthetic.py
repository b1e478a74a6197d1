"""The embedded benchmark as the adapters read it: DFEW's and RAF-DB basic's layouts plus identities.

The video set is DFEW's layout (`.mp4` originals) and the image set RAF-DB basic's, in two splits of the
same images (`SYNTHETIC_IMAGE_SPLITS`); a ground-truth CSV names every sample's identity.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from ferflow.data.adapters.base import (
    DEFAULT_MAX_SKIP_FRACTION,
    AnnotationError,
    Row,
    check_fold,
    check_split,
    finish,
    under,
)
from ferflow.data.adapters.dfew import dfew_rows
from ferflow.data.adapters.rafdb import rafdb_rows
from ferflow.data.records import RecordSet
from ferflow.data.synthetic.splits import VALIDATION_FRACTION, VALIDATION_SEED, choose_held_out
from ferflow.dataset_names import CHOICES


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
    fold, split = check_fold("synthetic_video", fold), check_split(split)
    rows, path, dropped, base = dfew_rows(
        under(root, dfew_dir), fold, split, "EmoLabel_DataSplit", "video", None, ".mp4", 1, check_media
    )
    gt = under(root, ground_truth)
    ids = _read_identities(gt, "video_name", lambda s: str(int(s)))
    return finish(
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


def _validation_ids(rows: list[Row], ids: dict[str, str], by_identity: bool) -> set[str]:
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
    root, split = Path(root), check_split(split)
    if test_identities not in SYNTHETIC_IMAGE_SPLITS:
        raise ValueError(
            f"test_identities must be one of {', '.join(SYNTHETIC_IMAGE_SPLITS)}, got {test_identities!r}"
        )
    if holdout not in HOLDOUTS:
        raise ValueError(f"holdout must be one of {', '.join(HOLDOUTS)}, got {holdout!r}")
    layout = SYNTHETIC_IMAGE_SPLITS[test_identities]
    rows, path = rafdb_rows(
        under(root, rafdb_dir or layout.rafdb_dir),
        "train" if holdout == "validation" else split,
        "EmoLabel/list_patition_label.txt",
        media,
        None,
    )
    gt = under(root, ground_truth or layout.ground_truth)
    ids = _read_identities(gt, "name", lambda s: str(PurePosixPath(s).with_suffix("")))
    if holdout == "validation":
        validation = _validation_ids(rows, ids, by_identity=test_identities == "unseen")
        rows = [r for r in rows if (r.sample_id in validation) == (split == "test")]
    return finish(
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
