"""The adapters by name: `LOADERS` for the expression datasets (`load_records` picks one by the parameters'
dataset name), `IDENTITY_LOADERS` for the face-identity sets of pretraining."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ferflow.data.adapters.base import FaceIdSet
from ferflow.data.adapters.casia_webface import load_casia
from ferflow.data.adapters.dfew import load_dfew
from ferflow.data.adapters.ferv39k import load_ferv39k
from ferflow.data.adapters.folder import load_identity_folders
from ferflow.data.adapters.mafw import load_mafw
from ferflow.data.adapters.rafdb import load_rafdb
from ferflow.data.adapters.synthetic import load_synthetic_image, load_synthetic_video
from ferflow.data.adapters.vggface2 import load_vggface2
from ferflow.data.records import RecordSet
from ferflow.dataset_names import NUM_FOLDS, canonical_name

LOADERS: dict[str, Callable[..., RecordSet]] = {
    "dfew": load_dfew,
    "ferv39k": load_ferv39k,
    "mafw": load_mafw,
    "rafdb": load_rafdb,
    "synthetic_video": load_synthetic_video,
    "synthetic_image": load_synthetic_image,
}

IDENTITY_LOADERS: dict[str, Callable[..., FaceIdSet]] = {
    "folder": load_identity_folders,
    "casia": load_casia,
    "vggface2": load_vggface2,
}


def keyword_options(loader: Callable[..., Any]) -> list[str]:
    """The options a loader takes (its keyword-only parameters), in signature order."""
    return [k for k, p in inspect.signature(loader).parameters.items() if p.kind is p.KEYWORD_ONLY]


def check_options(name: str, accepted: Sequence[str], options: dict[str, Any]) -> None:
    """Refuse, naming them and the `accepted` ones, the options a loader does not take."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; accepted: {', '.join(accepted)}")


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
    check_options(name, keyword_options(loader), paths)
    if name in NUM_FOLDS:
        return loader(root, fold, split, **paths)
    if fold is not None:
        raise ValueError(f"{name} has one fixed train/test split; fold must be None, got {fold!r}")
    return loader(root, split, **paths)
