"""dlib's face detector and landmark predictor, and the 68-point landmark conventions.

The model files ship inside the `face-recognition-models` package. Its own loader needs `pkg_resources`
(gone from current setuptools), so the files are located through the import system instead.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import dlib
import numpy as np

# 68-point (iBUG 300-W) index groups, in image orientation (index 36 is the subject's right eye, image left).
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
NOSE_TIP = 30
MOUTH_RIGHT, MOUTH_LEFT = 48, 54
INNER_LIPS = slice(60, 68)

# Five-point template (eye centres, nose tip, mouth corners) in units of the crop side: the widely used
# 112x112 face-recognition template divided by 112, so any crop size scales it.
FIVE_POINT_TEMPLATE = (
    np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
        dtype=np.float64,
    )
    / 112.0
)


def model_dir() -> Path:
    """Folder holding the dlib model files of `face-recognition-models`."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise RuntimeError("package 'face-recognition-models' is not installed; run `make install`")
    return Path(spec.origin).parent / "models"


@functools.cache
def hog_detector() -> dlib.fhog_object_detector:
    """dlib's HOG + linear SVM frontal face detector (its weights are built into dlib)."""
    return dlib.get_frontal_face_detector()


@functools.cache
def landmark_predictor() -> dlib.shape_predictor:
    """dlib's 68-point landmark regressor from `face-recognition-models`."""
    return dlib.shape_predictor(str(model_dir() / "shape_predictor_68_face_landmarks.dat"))


def detect_faces(image: np.ndarray, upsample: int = 1) -> np.ndarray:
    """Face boxes (x0, y0, x1, y1) found in an RGB or grey uint8 image, best first."""
    boxes, scores, _ = hog_detector().run(np.ascontiguousarray(image), upsample, 0.0)
    order = np.argsort(scores)[::-1]
    return np.array(
        [[boxes[i].left(), boxes[i].top(), boxes[i].right(), boxes[i].bottom()] for i in order],
        dtype=np.float64,
    ).reshape(-1, 4)


def predict_landmarks(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """68 landmarks (x, y) inside a face box."""
    rect = dlib.rectangle(*(round(float(v)) for v in box))
    shape = landmark_predictor()(np.ascontiguousarray(image), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners from 68 landmarks (the template's order)."""
    return np.stack(
        [
            landmarks[RIGHT_EYE].mean(axis=0),
            landmarks[LEFT_EYE].mean(axis=0),
            landmarks[NOSE_TIP],
            landmarks[MOUTH_RIGHT],
            landmarks[MOUTH_LEFT],
        ]
    )


def interocular_distance(landmarks: np.ndarray) -> float:
    """Distance between the eye centres, the usual NME normaliser."""
    return float(np.linalg.norm(landmarks[RIGHT_EYE].mean(axis=0) - landmarks[LEFT_EYE].mean(axis=0)))


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """The face box spanned by landmarks: (x0, y0, x1, y1)."""
    return np.concatenate([landmarks.min(axis=0), landmarks.max(axis=0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
