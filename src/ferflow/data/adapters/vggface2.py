"""VGGFace2: `train/n000002/0001_01.jpg` (or `test/...`) listed in `train_list.txt` / `test_list.txt`."""

from __future__ import annotations

from pathlib import Path

from ferflow.data.adapters.base import AnnotationError, FaceIdSet, identity_set, safe_relative


def load_vggface2(
    root: str | Path, *, split: str = "train", list_file: str | Path | None = None, min_images: int = 2
) -> FaceIdSet:
    """VGGFace2: images `<root>/<split>/n000002/0001_01.jpg` listed in `<root>/<split>_list.txt`.

    Raises:
        AnnotationError: The list file is missing, or a line is not one relative path `identity/file`.
    """
    if split not in ("train", "test"):
        raise ValueError(f"vggface2: split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    path = root / (list_file or f"{split}_list.txt")
    if not path.is_file():
        raise AnnotationError(path, None, f"VGGFace2 list file not found (expected {split}_list.txt)")
    images: dict[str, list[tuple[str, Path]]] = {}
    with path.open(encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 1:
                raise AnnotationError(
                    path, lineno, f"expected one path like n000002/0001_01.jpg, got {line!r}"
                )
            rel = safe_relative(tokens[0], path, lineno)
            if len(rel.parts) < 2:
                raise AnnotationError(path, lineno, f"expected identity/file, got {tokens[0]!r}")
            images.setdefault(rel.parts[0], []).append((rel.as_posix(), root / split / rel))
    if not images:
        raise AnnotationError(path, None, "no images listed")
    return identity_set("vggface2", images, min_images, path, [])
