"""Which frames of a clip to use: index selection, pure and deterministic given a numpy `Generator`.

`uniform_indices`, `contiguous_indices`, `window_indices` and `ClipSampler` choose frame indices; clips
shorter than what is asked for repeat their last frame. `record_rng` seeds a record's random window from the
sample id alone, so the choice does not depend on processing order.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

SampleMode = Literal["uniform", "contiguous", "all"]


def _check_counts(length: int, num_frames: int, stride: int = 1) -> None:
    if length < 1:
        raise ValueError(f"clip length must be >= 1, got {length}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")


def uniform_indices(length: int, num_frames: int) -> np.ndarray:
    """`num_frames` indices spread uniformly over the clip: the centre frame of each of `num_frames` equal
    segments (like DFEW's time-normalised 16-frame folders). A clip shorter than `num_frames` gives all its
    frames followed by repeats of its last frame."""
    _check_counts(length, num_frames)
    if length < num_frames:
        return np.minimum(np.arange(num_frames), length - 1)
    return np.floor((np.arange(num_frames) + 0.5) * length / num_frames).astype(np.int64)


def contiguous_indices(
    length: int,
    num_frames: int,
    stride: int = 1,
    *,
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A window of `num_frames` frames, `stride` apart.

    Train: a uniformly random start (needs `rng`); test: the centre window. A clip shorter than the window
    starts at 0 and repeats its last frame.
    """
    _check_counts(length, num_frames, stride)
    span = (num_frames - 1) * stride + 1
    if length < span:
        start = 0
    elif train:
        if rng is None:
            raise ValueError("a random training window needs rng (a numpy Generator)")
        start = int(rng.integers(0, length - span + 1))
    else:
        start = (length - span) // 2
    return np.minimum(start + np.arange(num_frames) * stride, length - 1)


def window_indices(length: int, num_frames: int, stride: int = 1) -> list[np.ndarray]:
    """Test-time windows covering a long clip without overlap (`length // span` of them, spread evenly from
    the first to the last frame); one centre window (padded as above) when the clip is shorter."""
    _check_counts(length, num_frames, stride)
    span = (num_frames - 1) * stride + 1
    if length <= span:
        return [contiguous_indices(length, num_frames, stride)]
    starts = np.round(np.linspace(0, length - span, length // span)).astype(np.int64)
    return [s + np.arange(num_frames) * stride for s in starts]


@dataclass(frozen=True)
class ClipSampler:
    """How to pick a clip's frames.

    Attributes:
        num_frames: Frames per clip (T).
        mode: "contiguous" (a window with `stride`), "uniform" (spread over the clip) or "all".
        stride: Step inside a contiguous window.
    """

    num_frames: int = 16
    mode: SampleMode = "contiguous"
    stride: int = 1

    def __post_init__(self) -> None:
        if self.mode not in ("uniform", "contiguous", "all"):
            raise ValueError(f"mode must be 'uniform', 'contiguous' or 'all', got {self.mode!r}")
        _check_counts(1, self.num_frames, self.stride)

    def indices(
        self, length: int, *, train: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Frame indices for a clip of `length` frames (see the module functions)."""
        if self.mode == "all":
            _check_counts(length, 1)
            return np.arange(length, dtype=np.int64)
        if self.mode == "uniform":
            return uniform_indices(length, self.num_frames)
        return contiguous_indices(length, self.num_frames, self.stride, train=train, rng=rng)


#: The IFDD clip settings: DFEW/FERV39k 16 frames stride 1, MAFW 32 frames stride 2.
CLIP_SAMPLERS: dict[str, ClipSampler] = {
    "dfew": ClipSampler(16, "contiguous", 1),
    "ferv39k": ClipSampler(16, "contiguous", 1),
    "mafw": ClipSampler(32, "contiguous", 2),
    "synthetic_video": ClipSampler(16, "contiguous", 1),
}


def record_rng(seed: int, sample_id: str) -> np.random.Generator:
    """A generator that depends only on the seed and the sample, not on processing order or workers."""
    return np.random.default_rng([seed, zlib.crc32(sample_id.encode())])
