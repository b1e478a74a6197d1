"""The embedded face-recognition corpus: what `ferflow pretrain` trains on when no CASIA-WebFace is at hand.

Its identities come from a random stream of their own, so none is a benchmark identity (those are the test
subjects of both tasks; `disjoint_from_benchmark` checks it at generation). Each identity is shown under
random expressions and intensities, head pose, lighting and pixel noise, and aligned by its true landmarks to
the same five-point template the alignment stage uses. Training identities are laid out like CASIA-WebFace as
insightface distributes it (aligned 112x112 faces, one folder per 7-digit identity); held-out identities like
LFW, with a `pairs.txt` in LFW's format: 10 folds of identity-disjoint people, each fold's matched pairs
followed by as many mismatched ones.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ferflow.config import SyntheticParams
from ferflow.data.synthetic import face
from ferflow.data.synthetic.plan import describe_identity, make_plan
from ferflow.data.synthetic.render import align_to_template, render_still, write_jpeg
from ferflow.parallel import map_with_progress

ALIGNED_SIZE = 112  # insightface's CASIA-WebFace release: 112 x 112 aligned faces
LFW_FOLDS = 10
TRAIN_DIR = "CASIA-WebFace"
HELDOUT_DIR = "lfw"
PAIRS_FILE = "pairs.txt"


@dataclass(frozen=True)
class FaceIdPreset:
    """How large a size's face-recognition corpus is."""

    identities: int  # training identities
    images: int  # images per training identity
    heldout: int  # held-out identities (verification), at least 2 per LFW fold
    heldout_images: int  # images per held-out identity
    pairs_per_fold: int  # matched (and as many mismatched) pairs per fold, at most


FACEID_SIZES: dict[str, FaceIdPreset] = {
    "tiny": FaceIdPreset(identities=12, images=4, heldout=20, heldout_images=3, pairs_per_fold=4),
    "demo": FaceIdPreset(identities=200, images=16, heldout=50, heldout_images=8, pairs_per_fold=100),
    "small": FaceIdPreset(identities=500, images=20, heldout=100, heldout_images=10, pairs_per_fold=150),
    "large": FaceIdPreset(identities=2000, images=30, heldout=200, heldout_images=12, pairs_per_fold=300),
}


def faceid_counts(p: SyntheticParams) -> FaceIdPreset:
    """The size's preset with the parameters' overrides applied."""
    preset = FACEID_SIZES[p.size]
    return FaceIdPreset(
        identities=p.faceid_identities or preset.identities,
        images=p.faceid_images or preset.images,
        heldout=p.faceid_heldout or preset.heldout,
        heldout_images=preset.heldout_images,
        pairs_per_fold=preset.pairs_per_fold,
    )


@dataclass(frozen=True)
class FaceSpec:
    path: str  # relative to the corpus root
    identity: int  # index into the corpus identities (training ones first)
    seed: int


def make_identities(p: SyntheticParams, n: int) -> tuple[face.Identity, ...]:
    """The corpus identities, from a stream the benchmark never draws from."""
    stream = np.random.SeedSequence([p.seed, 0xFACE1D])
    return tuple(
        face.make_identity(i, np.random.default_rng(s), p.identity_bias * p.expression_scale)
        for i, s in enumerate(stream.spawn(n))
    )


def same_identity(a: face.Identity, b: face.Identity) -> bool:
    """Whether two identities would render the same face (same geometry, colouring and resting face)."""
    return (
        np.allclose(a.shape, b.shape)
        and np.allclose(a.skin_gain, b.skin_gain)
        and np.isclose(a.brightness, b.brightness)
        and np.allclose(a.resting_aus, b.resting_aus)
    )


def disjoint_from_benchmark(p: SyntheticParams, identities: tuple[face.Identity, ...]) -> None:
    """Raise if a corpus identity equals one of the benchmark's (the test subjects of both tasks)."""
    for bench in make_plan(p).identities:
        for ident in identities:
            if same_identity(bench, ident):
                raise ValueError(
                    f"face-ID identity {ident.index} equals benchmark identity {bench.index}: "
                    "pretraining would see a test subject"
                )


def lfw_name(index: int) -> str:
    return f"Person_{index + 1:04d}"


def _specs(counts: FaceIdPreset, seq: np.random.SeedSequence) -> list[FaceSpec]:
    layout = [
        (i, f"{TRAIN_DIR}/{i + 1:07d}/{j + 1:03d}.jpg")
        for i in range(counts.identities)
        for j in range(counts.images)
    ]
    for i in range(counts.identities, counts.identities + counts.heldout):
        name = lfw_name(i)
        layout += [(i, f"{HELDOUT_DIR}/{name}/{name}_{j + 1:04d}.jpg") for j in range(counts.heldout_images)]
    return [
        FaceSpec(path, i, int(s.generate_state(1)[0]))
        for (i, path), s in zip(layout, seq.spawn(len(layout)), strict=True)
    ]


def render_face(spec: FaceSpec, identity: face.Identity, p: SyntheticParams, root: Path) -> None:
    """Render one aligned face of `identity` under a random expression, intensity, pose and lighting."""
    rng = np.random.default_rng(spec.seed)
    expression = int(rng.integers(len(face.EXPRESSIONS)))
    intensity = rng.uniform(0.0, p.apex_intensity.high)
    image, landmarks = render_still(identity, expression, intensity, p, rng)
    path = root / spec.path
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jpeg(path, align_to_template(image, landmarks, ALIGNED_SIZE))


def lfw_pairs(counts: FaceIdPreset, rng: np.random.Generator) -> tuple[int, list[list[str]]]:
    """LFW-format pairs over the held-out identities: pairs per fold, then each fold's lines (matched
    `name n1 n2` first, then mismatched `name1 n1 name2 n2`; image numbers are 1-based)."""
    heldout = counts.identities + rng.permutation(counts.heldout)
    folds = [heldout[k::LFW_FOLDS] for k in range(LFW_FOLDS)]
    k = counts.heldout_images
    matched_available = min(len(f) for f in folds) * k * (k - 1) // 2
    n = min(counts.pairs_per_fold, matched_available)
    lines = []
    for people in folds:
        matched = [(int(i), a, b) for i in people for a in range(1, k + 1) for b in range(a + 1, k + 1)]
        chosen = rng.choice(len(matched), n, replace=False)
        fold = [[lfw_name(matched[c][0]), str(matched[c][1]), str(matched[c][2])] for c in chosen]
        for _ in range(n):
            a, b = rng.choice(people, 2, replace=False)
            fold.append(
                [lfw_name(int(a)), str(rng.integers(1, k + 1)), lfw_name(int(b)), str(rng.integers(1, k + 1))]
            )
        lines.append(fold)
    return n, [line for fold in lines for line in fold]


def generate_faceid(p: SyntheticParams, out: Path, workers: int = 1) -> dict[str, object]:
    """Write the corpus into `out` (replaced atomically) and return its measurements."""
    counts = faceid_counts(p)
    if counts.heldout < 2 * LFW_FOLDS:
        raise ValueError(
            f"synthetic.faceid_heldout: {counts.heldout} held-out identities cannot fill {LFW_FOLDS} "
            f"identity-disjoint verification folds; give at least {2 * LFW_FOLDS}"
        )
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    identities = make_identities(p, counts.identities + counts.heldout)
    disjoint_from_benchmark(p, identities)
    image_seq, pair_seq = np.random.SeedSequence([p.seed, 0xFACE1D, 1]).spawn(2)
    specs = _specs(counts, image_seq)
    map_with_progress(
        render_face, [(s, identities[s.identity], p, tmp) for s in specs], workers, "render faces"
    )
    n, pairs = lfw_pairs(counts, np.random.default_rng(pair_seq))
    (tmp / PAIRS_FILE).write_text(f"{LFW_FOLDS}\t{n}\n" + "".join("\t".join(x) + "\n" for x in pairs))
    (tmp / "identities.json").write_text(
        json.dumps(
            [
                {**describe_identity(i), "split": "train" if i.index < counts.identities else "heldout"}
                for i in identities
            ],
            indent=1,
        )
    )
    measurements = {
        "size": p.size,
        "seed": p.seed,
        "counts": asdict(counts),
        "images": len(specs),
        "pairs": len(pairs),
        "generation_seconds": round(time.perf_counter() - started, 2),
        "workers": workers,
    }
    (tmp / "measurements.json").write_text(json.dumps(measurements, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return measurements
