"""Sample faces from a packed store: one clip per class, or one image per identity for each class."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ferflow.report.figures.samples import sample_grid
from ferflow.report.gallery import Gallery
from ferflow.report.reader import Reader

if TYPE_CHECKING:
    from ferflow.data.store import Store

Rows = list[tuple[str, list[np.ndarray]]]


def store_samples(reader: Reader, gallery: Gallery, kind: str, store: Path) -> dict[str, Any] | None:
    """The figure ``samples_<kind>`` of the store of `kind` (``clips`` or ``images``) at `store`; None when
    the store is absent or empty."""
    from ferflow.data.store import open_store  # imported here: only this figure opens a store

    folder = reader.path(store)
    if not folder.is_dir():
        return None
    opened = open_store(folder)
    if not len(opened.index):
        return None
    if kind == "clips":
        rows, description = _clip_rows(opened)
    else:
        rows, description = _image_rows(opened)
    if not rows:
        return None
    name = f"samples_{kind}"
    return {"kind": kind, "description": description, **gallery.figure(name, sample_grid, rows)}


def _clip_rows(store: Store) -> tuple[Rows, str]:
    """Up to 8 evenly spaced frames of the first clip of each class."""
    frames = store.samples.shape[1]
    picks = np.unique(np.linspace(0, frames - 1, min(8, frames)).round().astype(int))
    labels = store.labels
    rows = []
    for c, name in enumerate(store.classes):
        found = np.flatnonzero(labels == c)
        if len(found):
            rows.append((name, [np.asarray(store.samples[found[0], t]) for t in picks]))
    return rows, f"one clip per class, {len(picks)} of its {frames} stored frames"


def _image_rows(store: Store) -> tuple[Rows, str]:
    """Up to 8 images of each class, one per identity."""
    labels = store.labels
    identities = [r.get("identity", "") for r in store.index]
    rows = []
    for c, name in enumerate(store.classes):
        found, seen = [], set()
        for i in np.flatnonzero(labels == c):
            if identities[i] not in seen:
                seen.add(identities[i])
                found.append(np.asarray(store.samples[i]))
            if len(found) == 8:
                break
        if found:
            rows.append((name, found))
    return rows, "images of each class, one per identity (up to 8)"
