"""Measure the benchmark: the project's own face detector (dlib HOG) on decoded frames, and how much of the
expression a static view of a clip shows compared with its dynamics (linear probes on the true landmarks)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import av
import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ferflow.data import faces
from ferflow.parallel import map_with_progress

IOU_THRESHOLD = 0.4  # a detection counts when it overlaps the true landmark box this much
PROBE_FRAMES = 16  # frames a probe sees per clip, sampled uniformly like the data stage's default


def _detected(image: np.ndarray, truth_box: np.ndarray, upsample: int) -> bool:
    return any(faces.box_iou(box, truth_box) >= IOU_THRESHOLD for box in faces.detect_faces(image, upsample))


def _clip_hits(video: Path, truth: Path, upsample: int) -> tuple[int, int]:
    boxes = np.load(truth)["boxes"]
    hits = frames = 0
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            hits += _detected(frame.to_ndarray(format="rgb24"), boxes[frames], upsample)
            frames += 1
    if frames != len(boxes):
        raise ValueError(f"{video}: decoded {frames} frames, ground truth has {len(boxes)}")
    return hits, frames


def _image_hits(names: list[str], landmarks: np.ndarray, image_dir: Path, upsample: int) -> int:
    hits = 0
    for name, lm in zip(names, landmarks, strict=True):
        image = cv2.cvtColor(cv2.imread(str(image_dir / name)), cv2.COLOR_BGR2RGB)
        hits += _detected(image, faces.landmark_box(lm), upsample)
    return hits


def detection_rate(root: Path, upsample: int = 1, workers: int = 1) -> dict[str, object]:
    """Fraction of decoded video frames and of unaligned images in which dlib finds the true face."""
    started = time.perf_counter()
    with (root / "ground_truth" / "clips.csv").open() as f:
        names = [f"{int(r['video_name']):05d}" for r in csv.DictReader(f)]
    video_dir = root / "DFEW" / "Clip" / "original"
    jobs = [(video_dir / f"{n}.mp4", root / "ground_truth" / "clips" / f"{n}.npz", upsample) for n in names]
    per_clip = map_with_progress(_clip_hits, jobs, workers, "detect faces in clips")
    hits = sum(h for h, _ in per_clip)
    frames = sum(n for _, n in per_clip)

    truth = np.load(root / "ground_truth" / "image_landmarks.npz")
    image_names = [str(n) for n in truth["names"]]
    chunks = np.array_split(np.arange(len(image_names)), max(1, workers))
    image_dir = root / "RAF-DB" / "basic" / "Image" / "original"
    image_jobs = [([image_names[i] for i in c], truth["landmarks"][c], image_dir, upsample) for c in chunks]
    image_hits = sum(map_with_progress(_image_hits, image_jobs, workers, "detect faces in images"))
    missed = sorted((h / n, name) for (h, n), name in zip(per_clip, names, strict=True) if h < n)
    return {
        "detector": "dlib HOG frontal face detector",
        "upsample": upsample,
        "iou_threshold": IOU_THRESHOLD,
        "frames": frames,
        "frames_detected": hits,
        "frame_rate": round(hits / frames, 4),
        "images": len(image_names),
        "images_detected": image_hits,
        "image_rate": round(image_hits / len(image_names), 4),
        "clips_with_misses": [{"video": name, "rate": round(r, 4)} for r, name in missed[:20]],
        "seconds": round(time.perf_counter() - started, 2),
    }


def _pose_normalised(landmarks: np.ndarray) -> np.ndarray:
    """T x 68 x 2 landmarks -> T x 136: origin between the eyes, eye line horizontal, unit eye distance."""
    eye_r = landmarks[:, faces.RIGHT_EYE].mean(axis=1)
    eye_l = landmarks[:, faces.LEFT_EYE].mean(axis=1)
    dx, dy = (eye_l - eye_r).T
    scale = np.hypot(dx, dy)
    cos, sin = dx / scale, dy / scale
    rotate = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2) / scale[:, None, None]
    centred = landmarks - (eye_r + eye_l)[:, None] / 2
    return np.einsum("tij,tnj->tni", rotate, centred).reshape(len(landmarks), -1)


def clip_views(landmarks: np.ndarray, frames: int = PROBE_FRAMES) -> dict[str, np.ndarray]:
    """Three descriptors of one clip's true landmarks (T x 68 x 2), pose removed.

    - `one_frame`: the middle sampled frame (a per-frame static view);
    - `frame_mean`: the mean over the sampled frames (temporal average pooling of a static view);
    - `peak_change`: the largest change from the clip's median frame (the dynamics: where and how the face
      moved away from its own resting shape, which also removes the identity's geometry).
    """
    picked = np.linspace(0, len(landmarks) - 1, frames).round().astype(int)
    shapes = _pose_normalised(landmarks[picked].astype(np.float64))
    change = shapes - np.median(shapes, axis=0)
    return {
        "one_frame": shapes[frames // 2],
        "frame_mean": shapes.mean(axis=0),
        "peak_change": change[np.argmax(np.linalg.norm(change, axis=1))],
    }


def probe_uar(views: list[dict[str, np.ndarray]], labels: np.ndarray, folds: np.ndarray) -> dict[str, object]:
    """Leave-one-fold-out logistic-regression UAR of each clip view (identities never cross folds)."""
    result: dict[str, object] = {}
    for name in views[0]:
        x = np.stack([v[name] for v in views])
        per_fold = []
        for fold in np.unique(folds):
            test = folds == fold
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            probe.fit(x[~test], labels[~test])
            per_fold.append(balanced_accuracy_score(labels[test], probe.predict(x[test])))
        result[name] = {
            "uar": round(float(np.mean(per_fold)), 4),
            "per_fold": [round(u, 4) for u in per_fold],
        }
    return result


def difficulty(root: Path, frames: int = PROBE_FRAMES) -> dict[str, object]:
    """How well a static view and the dynamics of each clip tell its expression, from the true landmarks.

    The landmarks are noise-free, so this is a reference for what the pixels hold, not a bound on a model:
    it shows whether the benchmark rewards using the dynamics (the spec's calibration: a static view must do
    clearly worse than the dynamics).
    """
    with (root / "ground_truth" / "clips.csv").open() as f:
        rows = list(csv.DictReader(f))
    views = [
        clip_views(
            np.load(root / "ground_truth" / "clips" / f"{int(r['video_name']):05d}.npz")["landmarks"], frames
        )
        for r in rows
    ]
    labels = np.array([int(r["label"]) for r in rows])
    folds = np.array([int(r["fold"]) for r in rows])
    return {
        "probe": "logistic regression on pose-normalised true landmarks, leave one fold (of identities) out",
        "frames": frames,
        "chance": round(1 / len(np.unique(labels)), 4),
        "views": probe_uar(views, labels, folds),
    }
