"""Synthetic faces: action-unit-like landmark deformations of one real photograph.

The texture is scikit-image's public-domain astronaut photograph. Its 68 landmarks come from dlib's
predictor, once. A frame is rendered by moving landmarks (identity geometry, resting bias, expression,
talking, blinks, head pose) and pulling the texture along with a thin-plate-spline backward map evaluated on
a coarse grid, upsampled, and applied with one `cv2.remap`: a few milliseconds per frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator
from skimage import data as skdata

from ferflow.data import faces

# Expression classes in DFEW's order; the benchmark's video labels use it.
EXPRESSIONS = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")

# Action units as landmark displacements, in inter-ocular-distance units (x right, y down in the image).
# Keys: unit name -> {landmark index: (dx, dy)}. Index 36-41 is the image-left eye, 48 the image-left corner.
_RIGHT_BROW = (17, 18, 19, 20, 21)  # outer -> inner (image left)
_LEFT_BROW = (26, 25, 24, 23, 22)  # outer -> inner (image right)
_UPPER_LIDS = (37, 38, 43, 44)
_LOWER_LIDS = (40, 41, 46, 47)


def _mirror(points: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Add the left-right mirror of displacements given for the image-left half of the face."""
    mirror = {
        17: 26,
        18: 25,
        19: 24,
        20: 23,
        21: 22,
        36: 45,
        37: 44,
        38: 43,
        39: 42,
        40: 47,
        41: 46,
        31: 35,
        32: 34,
        48: 54,
        49: 53,
        50: 52,
        59: 55,
        58: 56,
        60: 64,
        61: 63,
        67: 65,
        0: 16,
        1: 15,
        2: 14,
        3: 13,
        4: 12,
        5: 11,
        6: 10,
        7: 9,
    }
    out = dict(points)
    for i, (dx, dy) in points.items():
        if i in mirror:
            out[mirror[i]] = (-dx, dy)
    return out


ACTION_UNITS: dict[str, dict[int, tuple[float, float]]] = {
    "inner_brow_raise": _mirror({21: (0.0, -0.14), 20: (0.0, -0.10), 19: (0.0, -0.05)}),
    "outer_brow_raise": _mirror({17: (0.0, -0.14), 18: (0.0, -0.12), 19: (0.0, -0.07)}),
    "brow_lower": _mirror(
        {17: (0.0, 0.03), 18: (0.015, 0.05), 19: (0.03, 0.07), 20: (0.045, 0.09), 21: (0.06, 0.09)}
    ),
    "upper_lid_raise": _mirror({37: (0.0, -0.07), 38: (0.0, -0.07), 36: (0.0, -0.01), 39: (0.0, -0.01)}),
    "lid_tighten": _mirror({37: (0.0, 0.04), 38: (0.0, 0.04), 40: (0.0, -0.04), 41: (0.0, -0.04)}),
    "cheek_raise": _mirror(
        {40: (0.0, -0.05), 41: (0.0, -0.05), 1: (0.0, -0.05), 2: (0.02, -0.05), 3: (0.03, -0.03)}
    ),
    "nose_wrinkle": _mirror({31: (0.0, -0.07), 32: (0.0, -0.07), 21: (0.02, 0.06), 20: (0.0, 0.04)})
    | {33: (0.0, -0.07), 29: (0.0, -0.04), 30: (0.0, -0.05)},
    "upper_lip_raise": _mirror({49: (0.0, -0.09), 50: (0.0, -0.10), 61: (0.0, -0.07)})
    | {51: (0.0, -0.10), 62: (0.0, -0.07)},
    "lip_corner_pull": _mirror(
        {48: (-0.12, -0.10), 60: (-0.10, -0.08), 49: (-0.04, -0.04), 59: (-0.04, -0.02)}
    ),
    "lip_corner_depress": _mirror({48: (-0.02, 0.12), 60: (-0.02, 0.10), 59: (0.0, 0.05), 58: (0.0, 0.03)}),
    "lip_stretch": _mirror({48: (-0.14, 0.02), 60: (-0.12, 0.02), 49: (-0.05, 0.0), 59: (-0.05, 0.0)}),
    "lip_tighten": _mirror({48: (0.07, 0.0), 60: (0.06, 0.0), 49: (0.03, 0.02), 59: (0.03, -0.02)})
    | {51: (0.0, 0.03), 57: (0.0, -0.03)},
    "lips_part": _mirror({67: (0.0, 0.10), 58: (0.0, 0.08), 59: (0.0, 0.04)})
    | {66: (0.0, 0.12), 57: (0.0, 0.10), 62: (0.0, -0.02)},
    "jaw_drop": _mirror(
        {
            67: (0.0, 0.30),
            58: (0.0, 0.28),
            59: (0.0, 0.16),
            60: (0.0, 0.03),
            7: (0.0, 0.28),
            6: (0.0, 0.20),
            5: (0.0, 0.12),
            4: (0.0, 0.05),
        }
    )
    | {66: (0.0, 0.34), 57: (0.0, 0.32), 8: (0.0, 0.32), 62: (0.0, -0.02)},
    "eyes_close": _mirror({37: (0.0, 0.12), 38: (0.0, 0.12), 40: (0.0, -0.02), 41: (0.0, -0.02)}),
}

# Each expression as a mix of action units (FACS-inspired prototypes).
PROTOTYPES: dict[str, dict[str, float]] = {
    "happy": {"cheek_raise": 0.9, "lip_corner_pull": 1.0, "lips_part": 0.4},
    "sad": {"inner_brow_raise": 1.0, "brow_lower": 0.35, "lip_corner_depress": 1.0, "lid_tighten": 0.3},
    "neutral": {},
    "angry": {"brow_lower": 1.0, "upper_lid_raise": 0.5, "lid_tighten": 0.7, "lip_tighten": 1.0},
    "surprise": {"inner_brow_raise": 1.0, "outer_brow_raise": 1.0, "upper_lid_raise": 1.0, "jaw_drop": 0.7},
    "disgust": {"nose_wrinkle": 1.0, "upper_lip_raise": 1.0, "lip_corner_depress": 0.5, "brow_lower": 0.4},
    "fear": {
        "inner_brow_raise": 1.0,
        "outer_brow_raise": 0.6,
        "brow_lower": 0.4,
        "upper_lid_raise": 1.0,
        "lip_stretch": 1.0,
        "lips_part": 0.7,
    },
}

_AU_NAMES = tuple(ACTION_UNITS)


def _au_basis() -> np.ndarray:
    """Action units as a (n_units, 68, 2) displacement basis in IOD units."""
    basis = np.zeros((len(_AU_NAMES), 68, 2))
    for k, name in enumerate(_AU_NAMES):
        for i, d in ACTION_UNITS[name].items():
            basis[k, i] = d
    return basis


AU_BASIS = _au_basis()


def au_vector(weights: dict[str, float]) -> np.ndarray:
    """Action-unit weights as a vector over `ACTION_UNITS`."""
    vec = np.zeros(len(_AU_NAMES))
    for name, w in weights.items():
        vec[_AU_NAMES.index(name)] = w
    return vec


EXPRESSION_AUS = np.stack([au_vector(PROTOTYPES[e]) for e in EXPRESSIONS])  # (7, n_units)
TALK_AUS = au_vector({"lips_part": 0.8, "jaw_drop": 0.35})
BLINK_AUS = au_vector({"eyes_close": 1.0})


@dataclass(frozen=True)
class Canonical:
    """The texture and its landmarks: a square crop of the astronaut photograph around the face."""

    texture: np.ndarray  # (S, S, 3) float32 RGB in [0, 1]
    landmarks: np.ndarray  # (68, 2)
    anchors: np.ndarray  # (n, 2) fixed points outside the face (forehead, a ring, the corners)
    face_mask: np.ndarray  # (S, S) float32 in [0, 1], soft mask of the skin region
    iod: float


CROP_SIZE = 224


@functools.cache
def canonical() -> Canonical:
    """Crop the astronaut photograph around her face and locate its landmarks with dlib (cached)."""
    photo = skdata.astronaut()
    boxes = faces.detect_faces(photo, upsample=1)
    # The photograph also has a face-like patch on the suit: take the box nearest the top.
    box = boxes[np.argmin(boxes[:, 1])]
    lm = faces.predict_landmarks(photo, box)
    centre = lm.mean(axis=0).round().astype(int)
    x0, y0 = centre[0] - CROP_SIZE // 2, max(0, centre[1] - CROP_SIZE // 2 - 10)
    texture = photo[y0 : y0 + CROP_SIZE, x0 : x0 + CROP_SIZE].astype(np.float32) / 255.0
    lm = lm - (x0, y0)
    iod = faces.interocular_distance(lm)
    brow_mid = lm[17:27].mean(axis=0)
    forehead = np.array([[brow_mid[0] + dx * iod, brow_mid[1] - 0.55 * iod] for dx in (-0.8, 0.0, 0.8)])
    face_centre = lm.mean(axis=0)
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = face_centre + 2.0 * iod * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    s = CROP_SIZE - 1
    corners = np.array([[0, 0], [s, 0], [0, s], [s, s]], dtype=np.float64)
    hull = cv2.convexHull(np.concatenate([lm, forehead]).astype(np.float32)).astype(np.int32)
    mask = np.zeros((CROP_SIZE, CROP_SIZE), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.15 * iod)
    return Canonical(texture, lm, np.concatenate([forehead, ring, corners]), mask, iod)


@dataclass(frozen=True)
class Identity:
    """A synthetic person: face geometry, skin colouring and a resting-face bias."""

    index: int
    shape: np.ndarray  # (68, 2) landmark offsets in IOD units
    skin_gain: np.ndarray  # (3,) per-channel gain inside the face mask
    brightness: float
    resting_aus: np.ndarray  # (n_units,) action units active at rest
    resting_expression: str  # the expression the resting bias resembles


def make_identity(index: int, rng: np.random.Generator, bias: float) -> Identity:
    """Draw an identity: part sizes and positions, colouring, and a resting face resembling an expression."""
    lm = canonical().landmarks
    iod = canonical().iod
    centre = lm.mean(axis=0)
    shape = np.zeros((68, 2))
    jaw_width, eye_gap, nose_len, mouth_width, mouth_drop, brow_height, chin = rng.uniform(-1, 1, 7)
    shape[0:17, 0] += 0.10 * jaw_width * (lm[0:17, 0] - centre[0]) / iod
    shape[36:42, 0] -= 0.06 * eye_gap
    shape[42:48, 0] += 0.06 * eye_gap
    shape[31:36, 1] += 0.06 * nose_len
    shape[48:68, 0] += 0.12 * mouth_width * (lm[48:68, 0] - lm[48:68, 0].mean()) / iod
    shape[48:68, 1] += 0.05 * mouth_drop
    shape[17:27, 1] -= 0.06 * brow_height
    shape[5:12, 1] += 0.07 * chin
    resting = str(rng.choice([e for e in EXPRESSIONS if e != "neutral"]))
    strength = bias * rng.uniform(0.5, 1.0)
    return Identity(
        index=index,
        shape=shape,
        skin_gain=_skin_gain(rng),
        brightness=float(rng.uniform(0.85, 1.12)),
        resting_aus=strength * EXPRESSION_AUS[EXPRESSIONS.index(resting)],
        resting_expression=resting,
    )


def _skin_gain(rng: np.random.Generator) -> np.ndarray:
    """Per-channel skin gain along plausible tone (darker/lighter) and warmth axes."""
    tone, warmth = rng.uniform(-1, 1, 2)
    return (1.0 + tone * np.array([0.12, 0.16, 0.20]) + warmth * np.array([0.06, 0.0, -0.08])).astype(
        np.float32
    )


@functools.lru_cache(maxsize=64)
def _identity_texture(skin_gain: tuple[float, float, float], brightness: float) -> np.ndarray:
    canon = canonical()
    gain = 1.0 + canon.face_mask[..., None] * (np.asarray(skin_gain, np.float32) - 1.0)
    return np.clip(canon.texture * gain * brightness, 0.0, 1.0)


def identity_texture(identity: Identity) -> np.ndarray:
    """The identity's coloured texture (cached per identity)."""
    return _identity_texture(tuple(float(g) for g in identity.skin_gain), identity.brightness)


@dataclass(frozen=True)
class Pose:
    """In-plane head pose: rotation (degrees), scale, translation (fractions of the frame side)."""

    angle: float = 0.0
    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0


FACE_FRACTION = 0.62  # face width (jaw span) over frame side at pose scale 1


def pose_matrix(pose: Pose, size: int) -> np.ndarray:
    """2x3 affine from canonical texture coordinates to an output frame of side `size`."""
    canon = canonical()
    jaw_span = np.ptp(canon.landmarks[0:17, 0])
    s = pose.scale * FACE_FRACTION * size / jaw_span
    a = np.deg2rad(pose.angle)
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    centre = canon.landmarks.mean(axis=0)
    out_centre = np.array([size / 2 + pose.shift_x * size, size / 2 + pose.shift_y * size])
    return np.concatenate([rot, (out_centre - rot @ centre)[:, None]], axis=1)


MAX_ACTIVATION = 2.0  # an action unit saturates: resting face plus expression cannot push it further


def deformed_landmarks(identity: Identity, aus: np.ndarray) -> np.ndarray:
    """Canonical-space landmarks of an identity showing action units `aus` (on top of its resting face)."""
    canon = canonical()
    activation = np.minimum(identity.resting_aus + aus, MAX_ACTIVATION)
    offsets = identity.shape + np.tensordot(activation, AU_BASIS, axes=1)
    return canon.landmarks + canon.iod * offsets


MOUTH_DARK = np.array([0.16, 0.05, 0.05], np.float32)


def render(
    identity: Identity,
    aus: np.ndarray,
    pose: Pose,
    size: int,
    lighting: tuple[float, float, float],
    grid: int = 24,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one frame.

    Args:
        identity: who.
        aus: action-unit activations on top of the resting face.
        pose: head pose.
        size: output side in pixels.
        lighting: (gain, horizontal gradient, vertical gradient) of a linear light field.
        grid: side of the coarse grid on which the thin-plate-spline map is evaluated.

    Returns:
        The RGB frame as float32 in [0, 1] and its 68 landmarks in frame coordinates.
    """
    canon = canonical()
    m = pose_matrix(pose, size)
    src = np.concatenate([canon.landmarks, canon.anchors])
    moved = np.concatenate([deformed_landmarks(identity, aus), canon.anchors])
    dst = moved @ m[:, :2].T + m[:, 2]
    backward = RBFInterpolator(dst, src, kernel="thin_plate_spline")
    ticks = np.linspace(0, size - 1, grid)
    gx, gy = np.meshgrid(ticks, ticks)
    coarse = backward(np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(grid, grid, 2).astype(np.float32)
    dense = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_LINEAR)
    frame = cv2.remap(
        identity_texture(identity),
        dense[..., 0],
        dense[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    landmarks = dst[:68]
    _darken_mouth(frame, landmarks, float(np.hypot(*m[0, :2])))
    gain, gx_light, gy_light = lighting
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    light = gain * (1.0 + gx_light * ramp[None, :] + gy_light * ramp[:, None])
    return np.clip(frame * light[..., None], 0.0, 1.0), landmarks


def _darken_mouth(frame: np.ndarray, landmarks: np.ndarray, scale: float) -> None:
    """Paint the mouth cavity in proportion to how much further the inner lips part than at rest."""
    canon = canonical()
    rest = np.linalg.norm(canon.landmarks[66] - canon.landmarks[62])
    opening = (np.linalg.norm(landmarks[66] - landmarks[62]) / scale - rest) / canon.iod
    alpha = float(np.clip(opening / 0.2, 0.0, 0.8))
    if alpha <= 0:
        return
    mask = np.zeros(frame.shape[:2], np.float32)
    cv2.fillPoly(
        mask,
        [np.round(landmarks[faces.INNER_LIPS] * 16).astype(np.int32)],
        1.0,
        lineType=cv2.LINE_AA,
        shift=4,
    )
    mask = alpha * mask[..., None]
    frame *= 1.0 - mask
    frame += mask * MOUTH_DARK
