"""Rotations as OpenFace parametrises them.

OpenFace's head pose is three Euler angles ``(rx, ry, rz)`` in radians (pitch,
yaw, roll) composing ``R = Rx(rx) @ Ry(ry) @ Rz(rz)`` (OpenFace's
``Euler2RotationMatrix``). Camera frame: x right, y down, z forward.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "euler_to_matrix",
    "matrix_to_euler",
    "orthonormalise",
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
]


def euler_to_matrix(euler: np.ndarray) -> np.ndarray:
    """Rotation matrix of Euler angles ``(rx, ry, rz)``.

    Parameters
    ----------
    euler : (3,) array_like
        Radians; ``R = Rx(rx) @ Ry(ry) @ Rz(rz)``.

    Returns
    -------
    (3, 3) ndarray
        In the dtype of ``euler`` (float32 when given float32).
    """
    euler = np.asarray(euler)
    dtype = euler.dtype if euler.dtype.kind == "f" else np.float64
    s1, s2, s3 = np.sin(euler).astype(dtype)
    c1, c2, c3 = np.cos(euler).astype(dtype)
    return np.array(
        [
            [c2 * c3, -c2 * s3, s2],
            [c1 * s3 + c3 * s1 * s2, c1 * c3 - s1 * s2 * s3, -c2 * s1],
            [s1 * s3 - c1 * c3 * s2, c3 * s1 + c1 * s2 * s3, c1 * c2],
        ],
        dtype=dtype,
    )


def matrix_to_euler(rotation: np.ndarray) -> np.ndarray:
    """Euler angles ``(rx, ry, rz)`` of a rotation matrix, through its quaternion.

    The yaw's sine is clipped to [-1, 1] before ``arcsin`` as OpenFace does, so
    a slightly non-orthonormal matrix still gives finite angles.

    Parameters
    ----------
    rotation : (3, 3) ndarray

    Returns
    -------
    (3,) ndarray
        Radians, in the dtype of ``rotation``.
    """
    r = np.asarray(rotation)
    dtype = r.dtype if r.dtype.kind == "f" else np.float64
    r = r.astype(dtype, copy=False)
    q0 = np.sqrt(dtype.type(1) + r[0, 0] + r[1, 1] + r[2, 2]) / dtype.type(2)
    q1 = (r[2, 1] - r[1, 2]) / (4 * q0)
    q2 = (r[0, 2] - r[2, 0]) / (4 * q0)
    q3 = (r[1, 0] - r[0, 1]) / (4 * q0)
    sin_yaw = np.clip(2 * (q0 * q2 + q1 * q3), -1, 1)
    yaw = np.arcsin(sin_yaw)
    pitch = np.arctan2(2 * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
    roll = np.arctan2(2 * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    return np.array([pitch, yaw, roll], dtype=dtype)


def orthonormalise(matrix: np.ndarray) -> np.ndarray:
    """The rotation closest to ``matrix`` (SVD, determinant forced to +1).

    Parameters
    ----------
    matrix : (3, 3) ndarray

    Returns
    -------
    (3, 3) ndarray
        ``U @ diag(1, 1, det(U V^T)) @ V^T``, same dtype as the input.
    """
    u, _, vt = np.linalg.svd(matrix)
    d = np.linalg.det(u @ vt)
    return (u * np.array([1, 1, d], dtype=u.dtype)) @ vt


def axis_angle_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """Rotation matrix of an axis-angle vector (Rodrigues' formula).

    Parameters
    ----------
    axis_angle : (3,) array_like
        Rotation axis scaled by the angle in radians.

    Returns
    -------
    (3, 3) ndarray
    """
    v = np.asarray(axis_angle, dtype=np.float64)
    theta = float(np.linalg.norm(v))
    if theta < 1e-12:
        return np.eye(3)
    k = v / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)


def matrix_to_axis_angle(rotation: np.ndarray) -> np.ndarray:
    """Axis-angle vector of a rotation matrix (inverse Rodrigues).

    The matrix is orthonormalised first, as OpenCV's ``Rodrigues`` does.

    Parameters
    ----------
    rotation : (3, 3) ndarray

    Returns
    -------
    (3,) float64 ndarray
        Axis times angle, angle in [0, pi].
    """
    r = orthonormalise(np.asarray(rotation, dtype=np.float64))
    cos_theta = np.clip((np.trace(r) - 1) / 2, -1.0, 1.0)
    theta = np.arccos(cos_theta)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    sin_theta = np.sin(theta)
    if sin_theta > 1e-6:
        return axis * (theta / (2 * sin_theta))
    if cos_theta > 0:  # identity: no rotation
        return np.zeros(3)
    # theta ~ pi: the axis is the dominant column of (R + I) / 2.
    b = (r + np.eye(3)) / 2
    col = int(np.argmax(np.diag(b)))
    axis = b[:, col] / np.sqrt(b[col, col])
    return axis * theta
