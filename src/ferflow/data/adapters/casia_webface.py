"""CASIA-WebFace: a folder tree with 7-digit identity folders (`0000045/001.jpg`)."""

from __future__ import annotations

from pathlib import Path

from ferflow.data.adapters.base import FaceIdSet
from ferflow.data.adapters.folder import load_identity_folders


def load_casia(root: str | Path, *, image_dir: str | Path = ".", min_images: int = 2) -> FaceIdSet:
    """CASIA-WebFace: `<root>/0000045/001.jpg` (10,575 identities, 494,414 images as distributed)."""
    return load_identity_folders(root, image_dir=image_dir, min_images=min_images, dataset="casia")
