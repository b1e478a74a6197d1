"""Rendering the plan: a clip's timeline (expression episode, distractor, talking, blinks, head pose,
lighting) turned into encoded frames with per-frame ground truth, and stills written like RAF-DB basic."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from ferflow.config import SyntheticParams
from ferflow.data import faces
from ferflow.data.synthetic import face
from ferflow.data.synthetic.plan import ClipSpec, ImageSpec


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
