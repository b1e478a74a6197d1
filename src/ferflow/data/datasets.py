"""torch Datasets over packed stores: clips for IFDD, same-expression image pairs for DICE-FER.

Samples come from memory-mapped uint8 arrays (see `ferflow.data.store`); augmentation uses torchvision's v2
transforms on a `tv_tensors.Video`, so one draw of crop, flip and colour parameters applies to every frame
of a clip. The same augmentation also runs batched on the training device (`ClipAugment.on_batch`, for a
GPU the loader's workers cannot feed): the loader then only reads and resizes (`ClipDataset(deferred=True)`).
All randomness comes from torch's generator, which the DataLoader seeds per worker from the trainer's seed,
so a resumed run that restores the generator state draws the same samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from ferflow.data.store import Store, StoreError, open_store

#: RandomResizedCrop's default aspect-ratio range (ClipAugment keeps it).
CROP_RATIO = (3 / 4, 4 / 3)
#: ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
LUMA = (0.2989, 0.587, 0.114)


@dataclass(frozen=True)
class ClipAugment:
    """Train-time clip augmentation (IFDD recipe: flip 0.5, RandomResizedCrop, ColorJitter).

    `jitter` sets brightness, contrast and saturation; hue is left alone (the recipe's "0.4 each" read as
    the three photometric factors, since a hue shift of 0.4 turns skin blue).

    `build` gives the per-clip transform of a DataLoader worker; `on_batch` draws from the same distributions
    for a whole batch at once on the training device.
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

    def on_batch(self, clips: torch.Tensor) -> torch.Tensor:
        """Augment a batch of clips where it lies (e.g. on the GPU), one draw per clip for all its frames.

        The parameters follow `build`'s distributions (RandomResizedCrop's box, the flip, ColorJitter's
        factors and its random order of the three adjustments, each clamped to [0, 1]); they are drawn from
        torch's CPU generator, so a resumed run that restores it draws the same. Crop, resize and flip are
        one affine resampling (bilinear) of the clip at its own size: the loader resized it already.

        Args:
            clips: B x C x T x H x W, uint8 or float in [0, 1].

        Returns:
            The augmented clips, float32 in [0, 1], same shape and device.
        """
        b, c, t, h, w = clips.shape
        x = clips.float().div_(255.0) if clips.dtype == torch.uint8 else clips.float()
        top, left, height, width = _crop_boxes(b, h, w, self.scale).unbind(1)
        flip = torch.rand(b) < self.flip
        # Output pixel u of W samples input x = left - 1/2 + (u + 1/2) * width / W: in affine_grid's
        # normalised coordinates (align_corners=False) a scale of width / W and a shift to the box centre.
        theta = torch.zeros(b, 2, 3, dtype=torch.float64)
        theta[:, 0, 0] = torch.where(flip, -width / w, width / w)
        theta[:, 0, 2] = (2 * left + width) / w - 1
        theta[:, 1, 1] = height / h
        theta[:, 1, 2] = (2 * top + height) / h - 1
        frames = x.reshape(b, c * t, h, w)
        grid = F.affine_grid(theta.to(x.device, torch.float32), list(frames.shape), align_corners=False)
        # Edge pixels: interpolate within the box, as resizing the cropped clip does (border padding).
        for axis, start, extent, size in ((0, left, width, w), (1, top, height, h)):
            low, high = (2 * start + 1) / size - 1, (2 * (start + extent) - 1) / size - 1
            as_grid = (b, 1, 1)
            grid[..., axis].clamp_(low.view(as_grid).to(grid), high.view(as_grid).to(grid))
        x = F.grid_sample(frames, grid, "bilinear", "border", align_corners=False).reshape(b, c, t, h, w)
        if not self.jitter:
            return x
        factors = torch.empty(b, 3).uniform_(max(0.0, 1.0 - self.jitter), 1.0 + self.jitter)
        order = torch.rand(b, 3).argsort(1)  # a uniformly random permutation per clip
        return color_jitter(x, factors, order)


def _crop_boxes(n: int, height: int, width: int, scale: tuple[float, float]) -> torch.Tensor:
    """`n` boxes (top, left, height, width) drawn as v2.RandomResizedCrop draws one: up to 10 tries of an
    area share in `scale` and a log-uniform aspect in `CROP_RATIO`, rounded, the first that fits, else the
    centred box of the clamped aspect; the corner uniform over the positions that fit."""
    tries = 10
    area = height * width * torch.empty(n, tries, dtype=torch.float64).uniform_(*scale)
    low, high = math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])
    aspect = torch.exp(torch.empty(n, tries, dtype=torch.float64).uniform_(low, high))
    w = torch.sqrt(area * aspect).round()  # round half to even, as Python's round
    h = torch.sqrt(area / aspect).round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.to(torch.uint8).argmax(1, keepdim=True)  # the first try that fits
    w, h = w.gather(1, first)[:, 0], h.gather(1, first)[:, 0]
    ratio = width / height
    if ratio < CROP_RATIO[0]:
        fallback = (float(round(width / CROP_RATIO[0])), float(width))
    elif ratio > CROP_RATIO[1]:
        fallback = (float(height), float(round(height * CROP_RATIO[1])))
    else:
        fallback = (float(height), float(width))
    none = ~fits.any(1)
    h, w = torch.where(none, fallback[0], h), torch.where(none, fallback[1], w)
    corner = torch.rand(n, 2, dtype=torch.float64)
    top = torch.where(none, ((height - h) / 2).floor(), (corner[:, 0] * (height - h + 1)).floor())
    left = torch.where(none, ((width - w) / 2).floor(), (corner[:, 1] * (width - w + 1)).floor())
    return torch.stack([top, left, h, w], 1)


def color_jitter(x: torch.Tensor, factors: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """torchvision's brightness, contrast and saturation adjustments of a B x C x T x H x W float batch in
    [0, 1], per clip: `factors` (B x 3: brightness, contrast, saturation) applied in `order` (B x 3, a
    permutation of 0, 1, 2), each a blend with black, the frame's mean grey or the pixel's grey, clamped."""
    b = len(x)
    luma = torch.tensor(LUMA, device=x.device).view(1, 3, 1, 1, 1)
    shape = (b, 1, 1, 1, 1)
    for k in range(3):
        op = order[:, k]
        ratio = factors.gather(1, op[:, None]).view(shape).to(x.device)
        op = op.view(shape).to(x.device)
        grey = (x * luma).sum(1, keepdim=True)
        target = torch.where(op == 2, grey, torch.where(op == 1, grey.mean((3, 4), keepdim=True), 0.0))
        x = (ratio * x + (1 - ratio) * target).clamp_(0.0, 1.0)
    return x


def eval_transform(size: int) -> v2.Transform:
    """Evaluation: resize only."""
    return v2.Compose([v2.Resize(size, antialias=True), v2.ToDtype(torch.float32, scale=True)])


def resize_transform(size: int) -> v2.Transform:
    """Training clips augmented later on the device: resize only, kept uint8 (a quarter of the bytes)."""
    return v2.Resize(size, antialias=True)


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
    """Aligned clips as float tensors C x T x H x W in [0, 1], with their labels.

    With `deferred`, training clips whose augmentation runs later on the device (`ClipAugment.on_batch`):
    training's frame sampling, resized uint8 frames only.
    """

    def __init__(
        self,
        store: str | Path | Store,
        rows: np.ndarray,
        num_frames: int,
        size: int,
        augment: ClipAugment | None = None,
        sampling: str = "uniform",
        deferred: bool = False,
    ) -> None:
        self.store = store if isinstance(store, Store) else open_store(store)
        self.rows = np.asarray(rows)
        self.num_frames = num_frames
        self.size = size
        self.sampling = sampling
        if deferred:
            self.transform = resize_transform(size)
        else:
            self.transform = augment.build(size) if augment else eval_transform(size)
        self.train = augment is not None or deferred
        self.labels = self.store.labels[self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        clip = self.store.samples[self.rows[i]]  # T x S x S x 3, memory-mapped
        positions = frame_positions(len(clip), self.num_frames, self.sampling, random_start=self.train)
        return clip_tensor(clip[positions], self.transform), int(self.labels[i])


def clip_tensor(frames: np.ndarray, transform: v2.Transform) -> torch.Tensor:
    """T x H x W x 3 uint8 frames -> C x T x H x W, one transform draw (the model's float input in [0, 1]
    after `ClipAugment.build` and `eval_transform`, uint8 after `resize_transform`)."""
    video = transform(tv_tensors.Video(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)))
    return video.permute(1, 0, 2, 3).contiguous()


def rotation_flip_variants(max_angle: int = 15, step: int = 5) -> list[tuple[int, bool]]:
    """DICE-FER's 14 augmentation variants: 7 rotations x {original, mirrored}."""
    return [(angle, flip) for angle in range(-max_angle, max_angle + 1, step) for flip in (False, True)]


def _grey(sample: np.ndarray) -> torch.Tensor:
    """An S x S x 3 uint8 sample as a 1 x S x S uint8 grey tensor."""
    return v2.functional.rgb_to_grayscale(torch.from_numpy(np.array(sample)).permute(2, 0, 1))


def identity_means(store: Store, rows: np.ndarray) -> dict[str, torch.Tensor]:
    """Each identity's mean grey face over `rows` (1 x S x S uint8, rounded): the reference faces of
    `control_image_reference`, from identity labels only (no expression labels).

    Raises:
        StoreError: Some of the rows have no identity.
    """
    identities = [store.index[r]["identity"] for r in rows]
    unknown = sum(not identity for identity in identities)
    if unknown:
        raise StoreError(
            f"{store.root}: {unknown} of {len(rows)} images have no identity; a reference face needs the "
            "person of every image (the embedded benchmark, or a dataset with identity labels)"
        )
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    for row, identity in zip(rows, identities, strict=True):
        sums[identity] = sums.get(identity, 0) + _grey(store.samples[row]).double()
        counts[identity] = counts.get(identity, 0) + 1
    return {k: (total / counts[k]).round().to(torch.uint8) for k, total in sums.items()}


class ImageDataset(Dataset):
    """Aligned faces as 1 x H x W grey (or 3 x H x W colour) tensors in [0, 1] with labels; in training each
    image takes one of DICE-FER's 14 rotation x flip variants (`max_angle` 0: flips only).

    With `reference`, a second channel holds the person's mean grey face over the same `rows`
    (`identity_means`), rotated and flipped with the image: the input of `control_image_reference`.
    """

    def __init__(
        self,
        store: str | Path | Store,
        rows: np.ndarray,
        size: int,
        train: bool = False,
        grey: bool = True,
        max_angle: int = 15,
        reference: bool = False,
    ) -> None:
        self.store = store if isinstance(store, Store) else open_store(store)
        self.rows = np.asarray(rows)
        self.size = size
        self.train = train
        self.grey = grey
        self.labels = self.store.labels[self.rows]
        self.identities = np.array([self.store.index[r]["identity"] or "" for r in self.rows])
        self.variants = rotation_flip_variants(max_angle)
        if reference and not grey:
            raise ValueError("a reference face goes with grey images (grey=True)")
        self.references = identity_means(self.store, self.rows) if reference else None

    def __len__(self) -> int:
        return len(self.rows)

    def image(self, i: int) -> torch.Tensor:
        if self.grey:
            image = _grey(self.store.samples[self.rows[i]])
        else:
            image = torch.from_numpy(np.array(self.store.samples[self.rows[i]])).permute(2, 0, 1)
        if self.references is not None:
            image = torch.cat([image, self.references[self.identities[i]]])
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
