"""Measure the benchmark with the project's own face detector (dlib HOG), on decoded frames."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import av
import cv2
import numpy as np

from ferflow.data import faces
from ferflow.parallel import map_with_progress

IOU_THRESHOLD = 0.4  # a detection counts when it overlaps the true landmark box this much


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
