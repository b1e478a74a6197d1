"""The pipeline's two branches as the `data` section names them: `clips` (the video dataset, for IFDD) and
`images` (the image dataset, for DICE-FER). Light on imports: `ferflow data check` and the parameter
checks use it before anything is decoded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from ferflow.config import DatasetParams, Params
from ferflow.data.adapters.base import shared_media_scans
from ferflow.data.adapters.registry import load_records
from ferflow.data.records import Record, Skip
from ferflow.dataset_names import iter_folds

Kind = Literal["clips", "images"]
KINDS: tuple[Kind, ...] = ("clips", "images")


def section(kind: Kind, params: Params) -> DatasetParams:
    """The `data.video` or `data.image` section of a branch."""
    return params.data.video if kind == "clips" else params.data.image


def adapter_name(kind: Kind, dataset: DatasetParams) -> str:
    """The adapter for a branch: the embedded benchmark's own, or the named dataset's."""
    if dataset.dataset == "synthetic":
        return "synthetic_video" if kind == "clips" else "synthetic_image"
    return dataset.dataset


def dataset_root(kind: Kind, params: Params, synthetic_root: Path) -> Path:
    dataset = section(kind, params)
    return synthetic_root if dataset.dataset == "synthetic" else Path(dataset.root)  # type: ignore[arg-type]


def adapter_options(kind: Kind, params: Params) -> dict[str, object]:
    """The adapter's keyword options for a branch. Missing media are recorded as skips (the data stages
    judge the fraction over the whole set)."""
    dataset = section(kind, params)
    options: dict[str, object] = {**dataset.options, "max_skip_fraction": 1.0}
    if adapter_name(kind, dataset) == "synthetic_image":
        options.setdefault("media", "original")  # exercise the detector; "aligned" ships too
    return options


def load_all_records(kind: Kind, params: Params, root: Path) -> tuple[list[Record], list[Skip]]:
    """Every sample of a branch's dataset once: fold datasets through their test splits (so each record
    carries the fold whose test set holds it), others through train and test."""
    name = adapter_name(kind, section(kind, params))
    options = adapter_options(kind, params)
    with shared_media_scans():
        sets = [
            load_records(name, root, fold=fold, split="test" if fold else split, **options)
            for fold in iter_folds(name)
            for split in (("test",) if fold else ("train", "test"))
        ]
    records = sorted((r for s in sets for r in s), key=lambda r: r.sample_id)
    ids = [r.sample_id for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name} at {root}: some samples are listed in more than one test split")
    return records, [k for s in sets for k in s.skipped]
