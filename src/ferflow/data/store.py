"""Packed sample stores: aligned clips or images in one memory-mapped uint8 array, plus a CSV index.

A store is a folder holding `samples.npy` (N x T x S x S x 3 for clips, N x S x S x 3 for images), `index.csv`
(one row per sample, in array order) and `meta.json` (classes, shape, provenance). Training reads it through
`np.load(mmap_mode="r")`: no decoding in the hot loop, and the page cache does the rest.
Stores are built from shards (one per parallel job) and written atomically: into a temporary folder that is
renamed into place only when complete.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferflow.errors import UserError

ARRAY = "samples.npy"
INDEX = "index.csv"
META = "meta.json"
INDEX_COLUMNS = ("sample_id", "label", "identity", "split", "fold", "frame_indices", "source")
#: What a store's samples array looks like for each kind.
KIND_SHAPES = {"clips": "N x T x S x S x 3", "images": "N x S x S x 3"}


class StoreError(ValueError, UserError):
    """A folder that is not the sample store a stage needs."""


@dataclass(frozen=True)
class Store:
    """An opened store: the memory-mapped samples, their index rows and the metadata."""

    root: Path
    samples: np.ndarray
    index: list[dict[str, str]]
    meta: dict[str, Any]

    @property
    def labels(self) -> np.ndarray:
        return np.array([int(r["label"]) for r in self.index])

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.meta["classes"])

    def rows(self, split: str, fold: int | None = None) -> np.ndarray:
        """Array rows of a split. With folds (5-fold datasets), `fold` k's test set is the rows whose
        `fold` is k and its train set all other rows; otherwise the `split` column decides."""
        if fold is None:
            return np.array([i for i, r in enumerate(self.index) if r["split"] == split], dtype=np.int64)
        in_fold = np.array([r["fold"] == str(fold) for r in self.index])
        return np.flatnonzero(in_fold if split == "test" else ~in_fold)


def open_store(root: str | Path, kind: str | None = None, needed_by: str = "this stage") -> Store:
    """Open a store read-only (memory-mapped); with `kind` ("clips" or "images"), refuse the other kind."""
    root = Path(root)
    for name in (ARRAY, INDEX, META):
        if not (root / name).is_file():
            raise StoreError(
                f"{root / name}: missing, so {root} is no sample store; give a store folder "
                "(data/processed/<dataset>/clips or images) or run the data stage"
            )
    with (root / INDEX).open(newline="") as f:
        index = list(csv.DictReader(f))
    samples = np.load(root / ARRAY, mmap_mode="r")
    if len(index) != len(samples):
        raise StoreError(
            f"{root}: index has {len(index)} rows but the array holds {len(samples)} samples; rebuild it"
        )
    found = "clips" if samples.ndim == 5 else "images" if samples.ndim == 4 else None
    if kind is not None and found != kind and samples.size:  # an empty shard has no shape to judge
        article = {"clips": "a clip", "images": "an image"}
        what = f"{article[found]} store" if found else f"a store of shape {samples.shape}"
        raise StoreError(
            f"{root}: {what}, but {needed_by} needs {article[kind]} store ({KIND_SHAPES[kind]}): give "
            f"data/processed/<dataset>/{kind}"
        )
    return Store(root, samples, index, json.loads((root / META).read_text()))


def write_store(
    root: str | Path,
    shards: Sequence[tuple[np.ndarray, list[dict[str, str]]]],
    meta: dict[str, Any],
    allow_empty: bool = False,
) -> Path:
    """Concatenate shards (arrays with their index rows) into a store at `root`, atomically.

    An empty store (every sample skipped) is an error unless `allow_empty`, as for one shard of many.
    """
    root = Path(root)
    arrays = [a for a, _ in shards if len(a)]
    if not arrays and not allow_empty:
        raise ValueError(f"{root}: no samples to store (every sample was skipped; see the manifest)")
    shape = (sum(len(a) for a in arrays), *arrays[0].shape[1:]) if arrays else (0,)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    out = np.lib.format.open_memmap(tmp / ARRAY, mode="w+", dtype=np.uint8, shape=shape)
    start = 0
    for a in arrays:
        out[start : start + len(a)] = a
        start += len(a)
    out.flush()
    del out
    rows = [row for _, shard_rows in shards for row in shard_rows]
    with (tmp / INDEX).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=INDEX_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (tmp / META).write_text(json.dumps({**meta, "shape": list(shape)}, indent=2))
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, root)
    return root
