"""Face alignment with dlib: the template, tracking, smoothing, borrowing and NME."""

import numpy as np
import pytest
from skimage import data as skdata

from ferflow.data import faces
from ferflow.data.align import (
    align_frames,
    normalised_mean_error,
    similarity_matrix,
    smooth_points,
    template_points,
)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


@pytest.mark.parametrize("size", [112, 224])
def test_astronaut_eyes_land_on_the_template(astronaut, size):
    result = align_frames(astronaut[None], size)
    assert result.frames is not None and result.frames.shape == (1, size, size, 3)
    assert result.detected.all() and result.borrowed == 0
    # Find the eyes again in the aligned crop: they must sit on the template.
    aligned = result.frames[0]
    box = faces.detect_faces(aligned, upsample=1)[0]
    lm = faces.predict_landmarks(aligned, box)
    eyes = faces.five_points(lm)[:2]
    error = np.linalg.norm(eyes - template_points(size)[:2], axis=1)
    tolerance = 3.0 * size / 112
    assert error.max() < tolerance, error


def test_transformed_eye_points_hit_the_template(astronaut):
    lm = align_frames(astronaut[None], 112).landmarks[0]
    m = similarity_matrix(faces.five_points(lm), 112)
    eyes = faces.five_points(lm)[:2] @ m[:, :2].T + m[:, 2]
    assert np.abs(eyes - template_points(112)[:2]).max() < 3.0


def test_frame_without_face_borrows_its_neighbours(astronaut):
    frames = np.stack([astronaut, astronaut, np.full_like(astronaut, 128), astronaut])
    result = align_frames(frames, 112, smooth_sigma=0)
    assert result.detected.tolist() == [True, True, False, True]
    assert result.borrowed == 1 and np.isnan(result.landmarks[2]).all()
    # the blank frame is warped with the same transform as its (identical) neighbours
    np.testing.assert_array_equal(result.frames[2], np.full((112, 112, 3), 128, np.uint8))
    np.testing.assert_array_equal(result.frames[1], result.frames[3])


def test_clip_with_no_face_is_reported(astronaut):
    blank = np.zeros((3, 96, 96, 3), np.uint8)
    result = align_frames(blank, 112)
    assert result.frames is None and not result.detected.any()


def test_none_backend_only_resizes():
    frames = np.random.default_rng(0).integers(0, 255, (2, 100, 100, 3), dtype=np.uint8)
    result = align_frames(frames, 112, backend="none")
    assert result.frames.shape == (2, 112, 112, 3)


def test_smoothing_interpolates_and_smooths():
    points = np.zeros((5, 1, 2))
    points[:, 0, 0] = [0, 10, 999, 30, 40]
    detected = np.array([True, True, False, True, True])
    filled = smooth_points(points, detected, sigma=0)
    assert filled[:, 0, 0].tolist() == [0, 10, 20, 30, 40]
    jitter = np.array([0, 4, 0, 4, 0, 4, 0, 4], float)[:, None, None].repeat(2, axis=2)
    smoothed = smooth_points(jitter, np.ones(8, bool), sigma=1.5)
    assert smoothed[2:-2, 0, 0].std() < 0.3 * jitter[:, 0, 0].std()


def test_nme():
    truth = np.zeros((1, 68, 2))
    truth[0, 36:42] = [0, 0]
    truth[0, 42:48] = [10, 0]
    predicted = truth + np.array([3.0, 4.0])  # every point 5 px off, IOD 10
    assert normalised_mean_error(predicted, truth)[0] == pytest.approx(0.5)
