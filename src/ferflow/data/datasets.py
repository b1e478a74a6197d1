"""torch Datasets over packed stores: clips for IFDD, same-expression image pairs for DICE-FER.

Samples come from memory-mapped uint8 arrays (see `ferflow.data.store`); augmentation uses torchvision's v2
transforms on a `tv_tensors.Video`, so one draw of crop, flip and colour parameters applies to every frame
of a clip. All randomness comes from torch's generator, which the DataLoader seeds per worker from the
trainer's seed, so a resumed run that restores the generator state draws the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from ferflow.data.store import Store, open_store


@dataclass(frozen=True)
class ClipAugment:
    """Train-time clip augmentation (IFDD recipe: flip 0.5, RandomResizedCrop, ColorJitter).

    `jitter` sets brightness, contrast and saturation; hue is left alone (the recipe's "0.4 each" read as
    the three photometric factors, since a hue shift of 0.4 turns skin blue).
    """

    scale: tuple[float, float] = (0.5, 1.0)
    flip: float = 0.5
    jitter: float = 0.4

    def build(self, size: int) -> v2.Transform:
        # Geometry on uint8 (cheap), photometry on float: v2's jitter on uint8 converts back and forth per
        # factor, which made it most of the loader's time.
        return v2.Compose(
            [
                v2.RandomResizedCrop(size, scale=self.scale, antialias=True),
                v2.RandomHorizontalFlip(self.flip),
                v2.ToDtype(torch.float32, scale=True),
                v2.ColorJitter(brightness=self.jitter, contrast=self.jitter, saturation=self.jitter),
            ]
        )


def eval_transform(size: int) -> v2.Transform:
    """Evaluation: resize only."""
    return v2.Compose([v2.Resize(size, antialias=True), v2.ToDtype(torch.float32, scale=True)])


def frame_positions(
    stored: int, wanted: int, mode: str = "uniform", random_start: bool = False
) -> np.ndarray:
    """Which stored frames make the model's clip.

    `uniform` spreads `wanted` positions over the stored frames (the stored frames already follow the
    dataset's protocol); `contiguous` takes a window, at a random start when `random_start` (training),
    centred otherwise. Fewer stored frames than wanted repeat the last one.
    """
    if stored <= wanted:
        return np.minimum(np.arange(wanted), stored - 1)
    if mode == "uniform":
        return np.linspace(0, stored - 1, wanted).round().astype(np.int64)
    span = stored - wanted
    start = int(torch.randint(span + 1, ())) if random_start else span // 2
    return np.arange(start, start + wanted)


class ClipDataset(Dataset):
    """Aligned clips as float tensors C x T x H x W in [0, 1], with their labels."""

    def __init__(
        self,
        store: str | Path | Store,
        rows: np.ndarray,
        num_frames: int,
        size: int,
        augment: ClipAugment | None = None,
        sampling: str = "uniform",
    ) -> None:
        self.store = store if isinstance(store, Store) else open_store(store)
        self.rows = np.asarray(rows)
        self.num_frames = num_frames
        self.size = size
        self.sampling = sampling
        self.transform = augment.build(size) if augment else eval_transform(size)
        self.train = augment is not None
        self.labels = self.store.labels[self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        clip = self.store.samples[self.rows[i]]  # T x S x S x 3, memory-mapped
        positions = frame_positions(len(clip), self.num_frames, self.sampling, random_start=self.train)
        return clip_tensor(clip[positions], self.transform), int(self.labels[i])


def clip_tensor(frames: np.ndarray, transform: v2.Transform) -> torch.Tensor:
    """T x H x W x 3 uint8 frames -> the model's C x T x H x W float input in [0, 1], one transform draw
    (the transform ends in float, as `ClipAugment.build` and `eval_transform` do)."""
    video = transform(tv_tensors.Video(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)))
    return video.permute(1, 0, 2, 3).contiguous()


def rotation_flip_variants(max_angle: int = 15, step: int = 5) -> list[tuple[int, bool]]:
    """DICE-FER's 14 augmentation variants: 7 rotations x {original, mirrored}."""
    return [(angle, flip) for angle in range(-max_angle, max_angle + 1, step) for flip in (False, True)]


class ImageDataset(Dataset):
    """Aligned faces as 1 x H x W grey (or 3 x H x W colour) tensors in [0, 1] with labels; in training each
    image takes one of DICE-FER's 14 rotation x flip variants (`max_angle` 0: flips only)."""

    def __init__(
        self,
        store: str | Path | Store,
        rows: np.ndarray,
        size: int,
        train: bool = False,
        grey: bool = True,
        max_angle: int = 15,
    ) -> None:
        self.store = store if isinstance(store, Store) else open_store(store)
        self.rows = np.asarray(rows)
        self.size = size
        self.train = train
        self.grey = grey
        self.labels = self.store.labels[self.rows]
        self.identities = np.array([self.store.index[r]["identity"] or "" for r in self.rows])
        self.variants = rotation_flip_variants(max_angle)

    def __len__(self) -> int:
        return len(self.rows)

    def image(self, i: int) -> torch.Tensor:
        image = torch.from_numpy(np.array(self.store.samples[self.rows[i]])).permute(2, 0, 1)
        if self.grey:
            image = v2.functional.rgb_to_grayscale(image)
        if self.train:
            angle, flip = self.variants[int(torch.randint(len(self.variants), ()))]
            image = v2.functional.rotate(image, angle, interpolation=v2.InterpolationMode.BILINEAR)
            if flip:
                image = v2.functional.horizontal_flip(image)
        image = v2.functional.resize(image, [self.size, self.size], antialias=True)
        return image.float().div_(255.0)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.image(i), int(self.labels[i])


class PairDataset(ImageDataset):
    """Pairs of aligned faces with the same expression and, where identities are known, different people.

    Each item is (M, N, label); the partner N is drawn anew on every access.
    """

    def __init__(self, store: str | Path | Store, rows: np.ndarray, size: int, train: bool = True) -> None:
        super().__init__(store, rows, size, train)
        self.by_label = {int(c): np.flatnonzero(self.labels == c) for c in np.unique(self.labels)}

    def partner(self, i: int) -> int:
        """Another sample with the same label, of a different identity when identities are known."""
        same = self.by_label[int(self.labels[i])]
        candidates = same[same != i]
        if self.identities[i]:
            others = candidates[self.identities[candidates] != self.identities[i]]
            candidates = others if len(others) else candidates
        if not len(candidates):
            return i
        return int(candidates[int(torch.randint(len(candidates), ()))])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.image(i), self.image(self.partner(i)), int(self.labels[i])
