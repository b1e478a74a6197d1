"""Face alignment: dlib detection and landmarks, temporal smoothing, a similarity warp to a template.

Per frame, dlib's HOG detector finds faces (the one nearest the previous frame's face is kept) and its
68-point predictor places landmarks. Within a clip the five alignment points (eye centres, nose tip, mouth
corners) are smoothed over time; a frame without a detection borrows the points interpolated from its
nearest detected neighbours. Each frame is then warped by the similarity transform that maps its five points
onto `faces.FIVE_POINT_TEMPLATE` scaled to the crop size, in a least-squares fit that weights the eyes
above the nose and mouth corners (`POINT_WEIGHTS`): mouth corners move with the expression, and alignment
should not undo what the classifier has to see. The `none` backend only resizes, for datasets that
ship aligned faces (DFEW's crops, RAF-DB's aligned images).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from skimage.transform import SimilarityTransform

from ferflow.data import faces

Backend = Literal["dlib", "none"]
# Integer weights of the five points in the similarity fit (eyes, eyes, nose tip, mouth corners).
POINT_WEIGHTS = (3, 3, 1, 1, 1)


@dataclass(frozen=True)
class Alignment:
    """Aligned frames of one clip (or one image, T = 1) and what the detector saw.

    Attributes:
        frames: (T, size, size, 3) uint8 aligned faces, or None when no frame had a face.
        landmarks: (T, 68, 2) detected landmarks in input coordinates, NaN where nothing was detected
            (all NaN for the `none` backend).
        detected: (T,) whether the detector found a face in the frame.
        borrowed: frames aligned with their neighbours' points because their own detection failed.
    """

    frames: np.ndarray | None
    landmarks: np.ndarray
    detected: np.ndarray
    borrowed: int


def template_points(size: int) -> np.ndarray:
    """The five-point template for a `size` x `size` crop."""
    return faces.FIVE_POINT_TEMPLATE * size


def similarity_matrix(points: np.ndarray, size: int, weights: tuple[int, ...] = POINT_WEIGHTS) -> np.ndarray:
    """2x3 matrix of the weighted least-squares similarity taking five points onto the template."""
    repeat = np.repeat(np.arange(5), weights)  # integer weights as repeated correspondences
    return SimilarityTransform.from_estimate(points[repeat], template_points(size)[repeat]).params[:2]


def _pick(boxes: np.ndarray, previous: np.ndarray | None) -> np.ndarray | None:
    """The detection to follow: the one overlapping the previous face most, else the detector's best."""
    if len(boxes) == 0:
        return None
    if previous is None:
        return boxes[0]
    return max(boxes, key=lambda b: faces.box_iou(b, previous))


def detect_landmarks(frames: np.ndarray, upsample: int = 1) -> np.ndarray:
    """(T, 68, 2) landmarks per frame, NaN where no face was found; follows one face through the clip."""
    landmarks = np.full((len(frames), 68, 2), np.nan)
    previous = None
    for t, frame in enumerate(frames):
        box = _pick(faces.detect_faces(frame, upsample), previous)
        if box is not None:
            landmarks[t] = faces.predict_landmarks(frame, box)
            previous = box
    return landmarks


def smooth_points(points: np.ndarray, detected: np.ndarray, sigma: float) -> np.ndarray:
    """Fill undetected frames by interpolating between detected neighbours, then Gaussian-smooth over time.

    Args:
        points: (T, K, 2) points, arbitrary where `detected` is False.
        detected: (T,) at least one True.
        sigma: temporal smoothing in frames; 0 disables it.
    """
    t = np.arange(len(points))
    known = np.flatnonzero(detected)
    filled = np.empty_like(points)
    for k in range(points.shape[1]):
        for c in range(2):
            filled[:, k, c] = np.interp(t, known, points[known, k, c])
    if sigma > 0 and len(points) > 1:
        filled = gaussian_filter1d(filled, sigma, axis=0, mode="nearest")
    return filled


def align_frames(
    frames: np.ndarray, size: int, backend: Backend = "dlib", upsample: int = 1, smooth_sigma: float = 1.0
) -> Alignment:
    """Align the face in every frame of a clip (T, H, W, 3) uint8 to a `size` x `size` crop."""
    if backend == "none":
        resized = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
        return Alignment(resized, np.full((len(frames), 68, 2), np.nan), np.ones(len(frames), bool), 0)
    landmarks = detect_landmarks(frames, upsample)
    detected = ~np.isnan(landmarks[:, 0, 0])
    if not detected.any():
        return Alignment(None, landmarks, detected, 0)
    points = np.stack(
        [
            faces.five_points(lm) if ok else np.zeros((5, 2))
            for lm, ok in zip(landmarks, detected, strict=True)
        ]
    )
    points = smooth_points(points, detected, smooth_sigma)
    aligned = np.stack(
        [
            cv2.warpAffine(
                frame,
                similarity_matrix(p, size),
                (size, size),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            for frame, p in zip(frames, points, strict=True)
        ]
    )
    return Alignment(aligned, landmarks, detected, int((~detected).sum()))


def normalised_mean_error(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame NME: mean point-to-point error over the 68 landmarks divided by the true inter-ocular
    distance (eye centres). NaN where nothing was predicted."""
    error = np.linalg.norm(predicted - truth, axis=-1).mean(axis=-1)
    iod = np.array([faces.interocular_distance(lm) for lm in truth])
    return error / iod
