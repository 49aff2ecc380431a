"""Rotation conversions: round trips and agreement with OpenCV's Rodrigues."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openau.geometry import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler,
    orthonormalise,
)


@pytest.fixture
def eulers():
    rng = np.random.default_rng(1)
    return rng.uniform(-1.2, 1.2, size=(50, 3))


def test_euler_round_trip(eulers):
    for e in eulers:
        r = euler_to_matrix(e)
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(matrix_to_euler(r), e, atol=1e-10)


def test_euler_composition_order():
    rx, ry, rz = 0.3, -0.2, 0.5

    def axis(k, a):
        return axis_angle_to_matrix(np.eye(3)[k] * a)

    np.testing.assert_allclose(
        euler_to_matrix(np.array([rx, ry, rz])), axis(0, rx) @ axis(1, ry) @ axis(2, rz), atol=1e-12
    )


def test_float32_stays_float32():
    r = euler_to_matrix(np.array([0.1, 0.2, 0.3], np.float32))
    assert r.dtype == np.float32 and matrix_to_euler(r).dtype == np.float32


def test_axis_angle_matches_opencv(eulers):
    for e in eulers:
        r = euler_to_matrix(e)
        expected, _ = cv2.Rodrigues(r)
        np.testing.assert_allclose(matrix_to_axis_angle(r), expected.ravel(), atol=1e-9)
        back, _ = cv2.Rodrigues(expected)
        np.testing.assert_allclose(axis_angle_to_matrix(expected.ravel()), back, atol=1e-12)


def test_axis_angle_near_pi_and_zero():
    for v in (np.array([np.pi, 0, 0]), np.array([0, 0, np.pi - 1e-9]), np.zeros(3)):
        r = axis_angle_to_matrix(v)
        np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_axis_angle(r)), r, atol=1e-6)


def test_orthonormalise_keeps_handedness():
    rng = np.random.default_rng(2)
    noisy = euler_to_matrix(np.array([0.2, 0.1, -0.3])) + rng.normal(0, 0.01, (3, 3))
    r = orthonormalise(noisy)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
