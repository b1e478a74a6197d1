"""Any face-identity tree with one folder per identity (`<root>/<identity>/.../*.jpg`)."""

from __future__ import annotations

import os
from pathlib import Path

from ferflow.data.adapters.base import AnnotationError, FaceIdSet, identity_set
from ferflow.data.records import IMAGE_EXTENSIONS


def load_identity_folders(
    root: str | Path, *, image_dir: str | Path = ".", min_images: int = 2, dataset: str = "folder"
) -> FaceIdSet:
    """Any tree with one folder per identity: every image below `<root>/<image_dir>/<identity>/`.

    Args:
        root: The dataset's folder.
        image_dir: The folder holding the identity folders, relative to `root` (or absolute).
        min_images: Identities with fewer usable images are skipped (recorded).
        dataset: The name recorded in each `Record`.
    """
    base = Path(root) / image_dir
    if not base.is_dir():
        raise AnnotationError(base, None, "identity folder tree not found (one folder per identity expected)")
    images: dict[str, list[tuple[str, Path]]] = {}
    for entry in sorted(os.scandir(base), key=lambda e: e.name):
        if not entry.is_dir():
            continue
        files = sorted(
            p for p in Path(entry.path).rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir()
        )
        images[entry.name] = [(p.relative_to(base).as_posix(), p) for p in files]
    if not images:
        raise AnnotationError(base, None, "no identity folders found (one folder per identity expected)")
    return identity_set(dataset, images, min_images, base, [])
