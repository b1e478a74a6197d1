"""Lay out the embedded benchmark: a video set like DFEW and an image set like RAF-DB basic.

Everything is drawn from one seed: identities and the plan of clips and images in the parent process, each
clip and image from its own spawned seed, so the result does not depend on the number of workers.
Ground truth lands in `ground_truth/`, which no training stage reads.

The image set comes in two splits of the same images, each in RAF-DB basic's layout: `RAF-DB/basic` splits
each identity's images per class (every test identity is also a training identity: *seen*), and
`RAF-DB-unseen/basic` holds out whole identities (`Plan.unseen_test_identities`: *unseen*), its files hard
links to the first layout's (copies where the file system has no links).
"""

from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from ferflow.config import SyntheticParams
from ferflow.data import faces
from ferflow.data.synthetic import face
from ferflow.data.synthetic.measure import detection_rate, difficulty
from ferflow.data.synthetic.splits import choose_held_out
from ferflow.parallel import map_with_progress

# DFEW's class order (labels 1..7 in its split files); the benchmark's own class order is the same.
DFEW_CLASSES = ("Happy", "Sad", "Neutral", "Angry", "Surprise", "Disgust", "Fear")
# RAF-DB basic's class order (labels 1..7 in list_patition_label.txt), as benchmark expressions.
RAF_ORDER = ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral")
N_FOLDS = 5
#: The image set's two layouts (`data.image.options.test_identities`), relative to the benchmark's root.
RAFDB_DIRS = {"seen": Path("RAF-DB") / "basic", "unseen": Path("RAF-DB-unseen") / "basic"}


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


def _smooth_bump(length: int) -> np.ndarray:
    """Onset (30%), apex (40%), offset (30%) with smoothstep ramps; peak 1."""
    t = (np.arange(length) + 0.5) / length
    ramp = lambda x: np.clip(x, 0, 1) ** 2 * (3 - 2 * np.clip(x, 0, 1))  # noqa: E731
    return np.minimum(ramp(t / 0.3), ramp((1 - t) / 0.3))


def _episode_length(p: SyntheticParams, n_frames: int, rng: np.random.Generator) -> int:
    return int(np.clip(rng.integers(p.episode_frames.low, p.episode_frames.high + 1), 3, n_frames - 2))


def _sway(rng: np.random.Generator, n: int, fps: int, base: float, amplitude: float) -> np.ndarray:
    """A slow sinusoidal drift around `base` (0.2-0.8 Hz, random phase)."""
    f, phase = rng.uniform(0.2, 0.8), rng.uniform(0, 2 * np.pi)
    return base + amplitude * np.sin(2 * np.pi * f * np.arange(n) / fps + phase)


@dataclass
class ClipTimeline:
    aus: np.ndarray  # (T, n_units)
    poses: list[face.Pose]
    lighting: np.ndarray  # (T, 3)
    intensity: np.ndarray  # (T,) of the labelled expression
    episode: tuple[int, int]  # [start, end) of the labelled episode; (-1, -1) for neutral
    distractor: int  # expression index of the distractor, -1 if none
    distractor_window: tuple[int, int]
    distractor_intensity: np.ndarray
    talking: np.ndarray
    blink: np.ndarray


def clip_timeline(spec: ClipSpec, p: SyntheticParams, rng: np.random.Generator) -> ClipTimeline:
    """Per-frame action units, pose and lighting of one clip."""
    n, fps = spec.n_frames, p.fps
    neutral = face.EXPRESSIONS.index("neutral")
    intensity = np.zeros(n)
    episode = (-1, -1)
    if spec.expression != neutral:
        length = _episode_length(p, n, rng)
        start = int(rng.integers(1, n - length))
        intensity[start : start + length] = rng.uniform(
            p.apex_intensity.low, p.apex_intensity.high
        ) * _smooth_bump(length)
        episode = (start, start + length)

    distractor, window, distractor_intensity = -1, (-1, -1), np.zeros(n)
    if rng.random() < p.distractor_prob:
        choices = [e for e in range(len(face.EXPRESSIONS)) if e not in (spec.expression, neutral)]
        candidate = int(rng.choice(choices))
        length = _episode_length(p, n, rng)
        gaps = [(0, episode[0]), (episode[1], n)] if episode[0] >= 0 else [(0, n)]
        gaps = [g for g in gaps if g[1] - g[0] >= length]
        if gaps:
            g0, g1 = gaps[int(rng.integers(len(gaps)))]
            start = int(rng.integers(g0, g1 - length + 1))
            distractor, window = candidate, (start, start + length)
            distractor_intensity[start : start + length] = p.distractor_intensity * _smooth_bump(length)

    talking = np.zeros(n)
    if rng.random() < p.talking_prob:
        f, phase = rng.uniform(3.0, 5.0), rng.uniform(0, 2 * np.pi)
        talking = p.talking_amplitude * 0.5 * (1 - np.cos(2 * np.pi * f * np.arange(n) / fps + phase))

    blink = np.zeros(n)
    blink_shape = np.array([0.35, 0.8, 1.0, 0.8, 0.35])
    for start in rng.integers(0, n, rng.poisson(p.blink_rate_hz * n / fps)):
        stop = min(n, start + len(blink_shape))
        blink[start:stop] = np.maximum(blink[start:stop], blink_shape[: stop - start])

    aus = (
        intensity[:, None] * p.expression_scale * face.EXPRESSION_AUS[spec.expression]
        + talking[:, None] * face.TALK_AUS
        + blink[:, None] * face.BLINK_AUS
    )
    if distractor >= 0:
        aus += distractor_intensity[:, None] * p.expression_scale * face.EXPRESSION_AUS[distractor]

    half = p.pose_deg / 2
    angle = _sway(rng, n, fps, rng.uniform(-half, half), rng.uniform(0, half))
    scale = _sway(rng, n, fps, 1 + rng.uniform(-p.pose_scale, p.pose_scale), p.pose_scale / 4)
    shift_x = _sway(rng, n, fps, rng.uniform(-p.pose_shift, p.pose_shift), p.pose_shift / 2)
    shift_y = _sway(rng, n, fps, rng.uniform(-p.pose_shift, p.pose_shift), p.pose_shift / 2)
    poses = [
        face.Pose(float(a), float(s), float(x), float(y))
        for a, s, x, y in zip(angle, scale, shift_x, shift_y, strict=True)
    ]
    lighting = np.stack(
        [
            _sway(rng, n, fps, rng.uniform(0.9, 1.1), p.lighting_drift),
            _sway(rng, n, fps, rng.uniform(-0.3, 0.3), p.lighting_drift),
            _sway(rng, n, fps, rng.uniform(-0.3, 0.3), p.lighting_drift),
        ],
        axis=1,
    )
    return ClipTimeline(
        aus, poses, lighting, intensity, episode, distractor, window, distractor_intensity, talking, blink
    )


def _to_uint8(frame: np.ndarray, noise_std: float, rng: np.random.Generator) -> np.ndarray:
    if noise_std > 0:
        frame = frame + rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(noise_std)
    return (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_video(path: Path, frames: Iterable[np.ndarray], fps: int, crf: int, keyframe_interval: int) -> None:
    """Encode RGB uint8 frames as H.264 in an .mp4 (single-threaded, so the bitstream is reproducible)."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={"crf": str(crf), "g": str(keyframe_interval), "threads": "1", "preset": "fast"},
        )
        stream.pix_fmt = "yuv420p"
        for i, frame in enumerate(frames):
            if i == 0:
                stream.height, stream.width = frame.shape[:2]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def clip_landmarks(spec: ClipSpec, identity: face.Identity, p: SyntheticParams) -> np.ndarray:
    """A clip's true landmarks, T x 68 x 2 float32, as `render_clip` records them, without rendering a frame
    (for measurements that need only the shapes, e.g. `measure.difficulty` on a large plan)."""
    tl = clip_timeline(spec, p, np.random.default_rng(spec.seed))
    shapes = []
    for aus, pose in zip(tl.aus, tl.poses, strict=True):
        m = face.pose_matrix(pose, p.frame_size)
        shapes.append(face.deformed_landmarks(identity, aus) @ m[:, :2].T + m[:, 2])
    return np.stack(shapes).astype(np.float32)


def render_clip(
    spec: ClipSpec, identity: face.Identity, p: SyntheticParams, video_dir: Path, truth_dir: Path
) -> dict[str, object]:
    """Render, encode and write one clip and its per-frame ground truth; return its clip-level truth."""
    rng = np.random.default_rng(spec.seed)
    tl = clip_timeline(spec, p, rng)
    landmarks = np.zeros((spec.n_frames, 68, 2), np.float32)

    def frames() -> Iterator[np.ndarray]:
        for t in range(spec.n_frames):
            image, landmarks[t] = face.render(
                identity, tl.aus[t], tl.poses[t], p.frame_size, tuple(tl.lighting[t])
            )
            yield _to_uint8(image, p.noise_std, rng)

    write_video(video_dir / f"{spec.video_name:05d}.mp4", frames(), p.fps, p.crf, p.keyframe_interval)
    np.savez_compressed(
        truth_dir / f"{spec.video_name:05d}.npz",
        landmarks=landmarks,
        boxes=np.stack([faces.landmark_box(lm) for lm in landmarks]).astype(np.float32),
        intensity=tl.intensity.astype(np.float32),
        distractor_intensity=tl.distractor_intensity.astype(np.float32),
        talking=tl.talking.astype(np.float32),
        blink=tl.blink.astype(np.float32),
    )
    return {
        "video_name": spec.video_name,
        "label": spec.expression,
        "expression": face.EXPRESSIONS[spec.expression],
        "identity": spec.identity,
        "fold": spec.fold,
        "n_frames": spec.n_frames,
        "episode_start": tl.episode[0],
        "episode_end": tl.episode[1],
        "apex_intensity": round(float(tl.intensity.max()), 4),
        "distractor": face.EXPRESSIONS[tl.distractor] if tl.distractor >= 0 else "",
        "distractor_start": tl.distractor_window[0],
        "distractor_end": tl.distractor_window[1],
        "talking": int(tl.talking.any()),
        "blinks": int((np.diff(np.r_[0, tl.blink]) > 0.5).sum()),
    }


def render_still(
    identity: face.Identity, expression: int, intensity: float, p: SyntheticParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One still of `identity` showing `expression` at `intensity`, with a little talking, a random head
    pose, lighting and pixel noise: the uint8 RGB image and its 68 true landmarks."""
    aus = (
        intensity * p.expression_scale * face.EXPRESSION_AUS[expression]
        + rng.uniform(0, p.talking_amplitude / 2) * face.TALK_AUS
    )
    half = p.pose_deg / 2
    pose = face.Pose(
        rng.uniform(-half, half),
        1 + rng.uniform(-p.pose_scale, p.pose_scale),
        rng.uniform(-p.pose_shift, p.pose_shift),
        rng.uniform(-p.pose_shift, p.pose_shift),
    )
    lighting = (rng.uniform(0.9, 1.1), rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3))
    image, landmarks = face.render(identity, aus, pose, p.frame_size, lighting)
    return _to_uint8(image, p.noise_std, rng), landmarks


def align_to_template(image: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Warp an image by the similarity that takes its true five points onto the alignment template."""
    transform = SimilarityTransform.from_estimate(
        faces.five_points(landmarks), faces.FIVE_POINT_TEMPLATE * size
    )
    return cv2.warpAffine(
        image, transform.params[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def render_image(
    spec: ImageSpec, identity: face.Identity, p: SyntheticParams, original_dir: Path, aligned_dir: Path
) -> dict[str, object]:
    """Render one still at its expression's apex, write it unaligned and aligned like RAF-DB basic."""
    rng = np.random.default_rng(spec.seed)
    intensity = rng.uniform(p.apex_intensity.low, p.apex_intensity.high)
    image, landmarks = render_still(identity, spec.expression, intensity, p, rng)
    aligned = align_to_template(image, landmarks, p.aligned_size)
    stem = spec.name.removesuffix(".jpg")
    write_jpeg(original_dir / spec.name, image)
    write_jpeg(aligned_dir / f"{stem}_aligned.jpg", aligned)
    return {
        "name": spec.name,
        "label": spec.expression,
        "expression": face.EXPRESSIONS[spec.expression],
        "identity": spec.identity,
        "split": spec.split,
        "intensity": round(float(intensity), 4),
        "landmarks": landmarks.astype(np.float32),
    }


def write_jpeg(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    path.write_bytes(buf.tobytes())


def write_csv(path: Path, rows: list[dict[str, object]], header: Iterable[str] | None = None) -> None:
    header = list(header or rows[0])
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def describe_identity(identity: face.Identity) -> dict[str, object]:
    """An identity's drawn parameters, for the ground-truth sidecars."""
    return {
        "identity": identity.index,
        "resting_expression": identity.resting_expression,
        "resting_strength": round(float(np.abs(identity.resting_aus).max()), 4),
        "skin_gain": [round(float(g), 4) for g in identity.skin_gain],
        "brightness": round(identity.brightness, 4),
    }


def _write_dfew_layout(root: Path, clips: list[dict[str, object]]) -> None:
    split_dir = root / "DFEW" / "EmoLabel_DataSplit"
    for split in ("train", "test"):
        (split_dir / f"{split}(single-labeled)").mkdir(parents=True, exist_ok=True)
    for k in range(1, N_FOLDS + 1):
        for split in ("train", "test"):
            rows = [
                {"video_name": c["video_name"], "label": int(c["label"]) + 1}
                for c in clips
                if (c["fold"] == k) == (split == "test")
            ]
            write_csv(split_dir / f"{split}(single-labeled)" / f"set_{k}.csv", rows, ["video_name", "label"])


def _write_rafdb_layout(basic: Path, images: list[dict[str, object]]) -> None:
    labels = basic / "EmoLabel" / "list_patition_label.txt"
    labels.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(images, key=lambda r: (r["split"] != "train", r["name"]))
    labels.write_text("".join(f"{r['name']} {RAF_ORDER.index(str(r['expression'])) + 1}\n" for r in ordered))


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # no hard links on this file system
        shutil.copyfile(source, target)


def _write_unseen_layout(
    root: Path, images: list[dict[str, object]], test_identities: frozenset[int]
) -> list[dict[str, object]]:
    """The same images split by identity, in RAF-DB basic's layout under `RAF-DB-unseen/basic`; returns
    their rows (the seen rows renamed, with `seen_name`, the same image's name in `RAF-DB/basic`)."""
    seen, unseen = root / RAFDB_DIRS["seen"] / "Image", root / RAFDB_DIRS["unseen"] / "Image"
    for media in ("original", "aligned"):
        (unseen / media).mkdir(parents=True)
    numbers = {"train": 0, "test": 0}
    rows = []
    for r in images:  # in the plan's order, which reveals neither class nor identity
        split = "test" if r["identity"] in test_identities else "train"
        numbers[split] += 1
        name = f"train_{numbers['train']:05d}.jpg" if split == "train" else f"test_{numbers['test']:04d}.jpg"
        seen_stem, stem = str(r["name"]).removesuffix(".jpg"), name.removesuffix(".jpg")
        _link_or_copy(seen / "original" / str(r["name"]), unseen / "original" / name)
        _link_or_copy(
            seen / "aligned" / f"{seen_stem}_aligned.jpg", unseen / "aligned" / f"{stem}_aligned.jpg"
        )
        rows.append({**r, "name": name, "split": split, "seen_name": r["name"]})
    _write_rafdb_layout(root / RAFDB_DIRS["unseen"], rows)
    return rows


def generate(p: SyntheticParams, out: Path, workers: int = 1) -> dict[str, object]:
    """Generate the benchmark into `out` (replaced atomically) and return its measurements."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    video_dir = tmp / "DFEW" / "Clip" / "original"
    original_dir = tmp / RAFDB_DIRS["seen"] / "Image" / "original"
    aligned_dir = tmp / RAFDB_DIRS["seen"] / "Image" / "aligned"
    clip_truth = tmp / "ground_truth" / "clips"
    for d in (video_dir, original_dir, aligned_dir, clip_truth):
        d.mkdir(parents=True)

    started = time.perf_counter()
    plan = make_plan(p)
    clips = map_with_progress(
        render_clip,
        [(c, plan.identities[c.identity], p, video_dir, clip_truth) for c in plan.clips],
        workers,
        "render clips",
    )
    images = map_with_progress(
        render_image,
        [(s, plan.identities[s.identity], p, original_dir, aligned_dir) for s in plan.images],
        workers,
        "render images",
    )
    generation_seconds = time.perf_counter() - started

    _write_dfew_layout(tmp, clips)
    _write_rafdb_layout(tmp / RAFDB_DIRS["seen"], images)
    unseen = _write_unseen_layout(tmp, images, plan.unseen_test_identities)
    truth = tmp / "ground_truth"
    write_csv(truth / "clips.csv", clips)
    for suffix, rows in (("", images), ("_unseen", unseen)):
        write_csv(
            truth / f"images{suffix}.csv", [{k: v for k, v in r.items() if k != "landmarks"} for r in rows]
        )
        np.savez_compressed(
            truth / f"image_landmarks{suffix}.npz",
            names=np.array([r["name"] for r in rows]),
            landmarks=np.stack([r["landmarks"] for r in rows]),
        )
    identities = [
        {
            **describe_identity(i),
            "unseen_split": "test" if i.index in plan.unseen_test_identities else "train",
        }
        for i in plan.identities
    ]
    (truth / "identities.json").write_text(json.dumps(identities, indent=1))

    detection = detection_rate(tmp, upsample=p.detection_upsample, workers=workers)
    counts = resolved_counts(p)
    measurements = {
        "size": p.size,
        "seed": p.seed,
        "counts": asdict(counts),
        "clips": len(clips),
        "frames": int(sum(int(c["n_frames"]) for c in clips)),
        "images": len(images),
        "unseen_test_identities": sorted(plan.unseen_test_identities),
        "generation_seconds": round(generation_seconds, 2),
        "workers": workers,
        "detection": detection,
        "difficulty": difficulty(tmp),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "params": p.model_dump(mode="json"),
    }
    (tmp / "measurements.json").write_text(json.dumps(measurements, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return measurements
