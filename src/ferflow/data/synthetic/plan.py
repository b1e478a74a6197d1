"""The benchmark's plan: how much a size makes, and which clips and images of which identities, drawn from
one seed before anything is rendered.

Identities and the plan come from streams spawned from `SyntheticParams.seed`; each clip and image carries
its own seed, so rendering does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ferflow.config import SyntheticParams
from ferflow.data.synthetic import face
from ferflow.data.synthetic.splits import choose_held_out

# DFEW's class order (labels 1..7 in its split files); the benchmark's own class order is the same.
DFEW_CLASSES = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
N_FOLDS = 5


@dataclass(frozen=True)
class SizePreset:
    """How much data a size makes."""

    identities: int
    clips_per_class: int  # per identity
    frames: tuple[int, int]  # clip length range, inclusive
    images_per_class: int  # per identity


SIZES: dict[str, SizePreset] = {
    "tiny": SizePreset(identities=5, clips_per_class=1, frames=(16, 20), images_per_class=4),
    "demo": SizePreset(identities=16, clips_per_class=3, frames=(24, 40), images_per_class=8),
    "small": SizePreset(identities=24, clips_per_class=6, frames=(24, 48), images_per_class=12),
    "large": SizePreset(identities=48, clips_per_class=12, frames=(32, 64), images_per_class=20),
}


@dataclass(frozen=True)
class ClipSpec:
    video_name: int
    identity: int
    expression: int  # index into face.EXPRESSIONS (DFEW order)
    n_frames: int
    fold: int  # the fold whose test set holds this clip (its identity's fold)
    seed: int


@dataclass(frozen=True)
class ImageSpec:
    name: str  # RAF-DB style: train_00001.jpg / test_0001.jpg
    identity: int
    expression: int
    split: str
    seed: int


@dataclass(frozen=True)
class Plan:
    identities: tuple[face.Identity, ...]
    clips: tuple[ClipSpec, ...]
    images: tuple[ImageSpec, ...]  # the seen split's names and splits
    unseen_test_identities: frozenset[int]  # every image of these is a test image of the unseen split


def resolved_counts(p: SyntheticParams) -> SizePreset:
    """The size preset with any explicit overrides from the parameters applied."""
    preset = SIZES[p.size]
    return SizePreset(
        identities=p.identities or preset.identities,
        clips_per_class=p.clips_per_class or preset.clips_per_class,
        frames=preset.frames,
        images_per_class=p.images_per_class or preset.images_per_class,
    )


def make_plan(p: SyntheticParams) -> Plan:
    """Draw identities and the list of clips and images (cheap; rendering happens later)."""
    counts = resolved_counts(p)
    root = np.random.SeedSequence([p.seed, 0xFE7F])
    # A fifth stream for the unseen split's identities: the first four (and so the seen split) are the
    # streams the benchmark had before it.
    id_seq, clip_seq, image_seq, split_seq, unseen_seq = root.spawn(5)
    identities = tuple(
        face.make_identity(i, np.random.default_rng(s), p.identity_bias * p.expression_scale)
        for i, s in enumerate(id_seq.spawn(counts.identities))
    )
    split_rng = np.random.default_rng(split_seq)
    fold_of = {int(i): k % N_FOLDS + 1 for k, i in enumerate(split_rng.permutation(counts.identities))}

    clip_keys = [
        (i, e)
        for i in range(counts.identities)
        for e in range(len(face.EXPRESSIONS))
        for _ in range(counts.clips_per_class)
    ]
    order = split_rng.permutation(len(clip_keys))  # clip numbers reveal neither class nor identity
    lo, hi = counts.frames
    clips = tuple(
        ClipSpec(
            video_name=n + 1,
            identity=clip_keys[k][0],
            expression=clip_keys[k][1],
            n_frames=int(split_rng.integers(lo, hi + 1)),
            fold=fold_of[clip_keys[k][0]],
            seed=int(s.generate_state(1)[0]),
        )
        for n, (k, s) in enumerate(zip(order, clip_seq.spawn(len(clip_keys)), strict=True))
    )

    n_test = max(1, round(counts.images_per_class * p.image_test_fraction))
    image_keys = [
        (i, e, "test" if j < n_test else "train")
        for i in range(counts.identities)
        for e in range(len(face.EXPRESSIONS))
        for j in range(counts.images_per_class)
    ]
    image_keys = [image_keys[k] for k in split_rng.permutation(len(image_keys))]
    numbers = {"train": 0, "test": 0}
    images = []
    for (i, e, split), s in zip(image_keys, image_seq.spawn(len(image_keys)), strict=True):
        numbers[split] += 1
        name = f"train_{numbers['train']:05d}.jpg" if split == "train" else f"test_{numbers['test']:04d}.jpg"
        images.append(ImageSpec(name, i, e, split, int(s.generate_state(1)[0])))
    unseen = choose_held_out(
        [str(i) for i in range(counts.identities)], p.image_test_fraction, np.random.default_rng(unseen_seq)
    )
    return Plan(identities, clips, tuple(images), frozenset(int(i) for i in unseen))


def describe_identity(identity: face.Identity) -> dict[str, object]:
    """An identity's drawn parameters, for the ground-truth sidecars."""
    return {
        "identity": identity.index,
        "resting_expression": identity.resting_expression,
        "resting_strength": round(float(np.abs(identity.resting_aus).max()), 4),
        "skin_gain": [round(float(g), 4) for g in identity.skin_gain],
        "brightness": round(identity.brightness, 4),
    }
