"""Fixtures in the layouts real datasets come in (official and as popular DFER repositories redistribute
them), and a damaged mp4. Plain functions, shared by several test files."""

from __future__ import annotations

import random
import struct
from pathlib import Path

#: DFEW's official per-fold test sizes (datasets.md); the train split of fold k is every other clip.
DFEW_TEST_SIZES = (2341, 2341, 2340, 2339, 2336)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def dfew_splits(
    root: Path,
    folds: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]],
    *,
    base: int = 1,
    header: bool = True,
    names: str = "official",
) -> None:
    """DFEW split files. `folds` maps k -> (train rows, test rows), rows (video number, 0-based class);
    written `base`-numbered, with or without the header, named officially (`train(single-labeled)/set_k.csv`)
    or as some repositories do (`train_set_k.csv`)."""
    split_dir = root / "EmoLabel_DataSplit"
    for k, (train, test) in folds.items():
        for split, rows in (("train", train), ("test", test)):
            path = {
                "official": split_dir / f"{split}(single-labeled)" / f"set_{k}.csv",
                "train_set": split_dir / f"{split}_set_{k}.csv",
            }[names]
            text = ("video_name,label\n" if header else "") + "".join(f"{v},{c + base}\n" for v, c in rows)
            write(path, text)


def dfew_videos(root: Path, numbers: list[int], layout: str = "unpadded", ext: str = ".mp4") -> None:
    """DFEW's original videos as 1-byte stand-ins (no decoding happens before the data stage):
    `Clip/original/<n>.mp4` (unpadded), `.../00012.mp4` (padded) or spread over `part_1` .. `part_11`."""
    base = root / "Clip" / "original"
    for i, n in enumerate(numbers):
        name = f"{n:05d}{ext}" if layout == "padded" else f"{n}{ext}"
        folder = base / f"part_{i % 11 + 1}" if layout == "parts" else base
        write(folder / name, b"v")


def dfew_frames(root: Path, numbers: list[int], folder: str = "clip_224x224") -> None:
    for n in numbers:
        write(root / "Clip" / folder / f"{n:05d}" / "1.jpg", b"jpeg")


def small_dfew_folds(per_class: int = 2) -> dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """Five folds over 5 x 7 x `per_class` clips, every class in every split; clip numbers 1..N."""
    clips = [(n + 1, n % 7) for n in range(5 * 7 * per_class)]
    test = {k: [c for i, c in enumerate(clips) if (i // 7) % 5 == k - 1] for k in range(1, 6)}
    return {k: ([c for c in clips if c not in test[k]], test[k]) for k in range(1, 6)}


def dfew_sized_folds() -> dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """DFEW's five folds at full size: 11,697 clips, the official test sizes, labels spread over 7 classes."""
    rng = random.Random(0)
    numbers = rng.sample(range(1, 16373), sum(DFEW_TEST_SIZES))  # 16,372 clips, 11,697 single-labelled
    clips = [(n, rng.randrange(7)) for n in numbers]
    folds, start = {}, 0
    for k, size in enumerate(DFEW_TEST_SIZES, start=1):
        test = clips[start : start + size]
        folds[k] = (clips[:start] + clips[start + size :], test)
        start += size
    return folds


def mp4_boxes(data: bytes) -> dict[str, tuple[int, int]]:
    """Top-level ISO-BMFF boxes: type -> (offset, size)."""
    boxes, pos = {}, 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        boxes[kind.decode("latin-1")] = (pos, size)
        pos += max(size, 8)
    return boxes


def damage_moov(video: Path | bytes, out: Path, seed: int, flips: int = 8) -> Path:
    """A copy of an mp4 (a file or its bytes) with `flips` random bytes of its container metadata (the
    `moov` box) replaced."""
    data = bytearray(video if isinstance(video, bytes) else video.read_bytes())
    start, size = mp4_boxes(bytes(data))["moov"]
    rng = random.Random(seed)
    for _ in range(flips):
        data[rng.randrange(start + 8, start + size)] = rng.randrange(256)
    return write(out, bytes(data))


def unreadable_damage(video: Path, out: Path, seeds: range = range(100)) -> tuple[Path, str]:
    """The first `damage_moov` copy (over `seeds`, in order: deterministic) that ferflow cannot read, and
    the reason it records."""
    from ferflow.data.frames.decoding import MediaError
    from ferflow.data.frames.extraction import read_clip

    original = video.read_bytes()  # `out` may be `video` itself
    for seed in seeds:
        damage_moov(original, out, seed)
        try:
            read_clip(out, "video")
        except MediaError as err:
            return out, err.reason
    raise AssertionError(f"no seed in {seeds} damages {video} beyond reading")
