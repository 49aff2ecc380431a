"""Compiled PDM primitives shared by every numba kernel that fits the PDM.

Two compiled loops fit the point distribution model: the landmark fitter's
NU-RLMS passes (:mod:`openau.landmarks._kernels`) and OpenFace's ``CalcParams``
(:mod:`openau.geometry._fit_kernel`). numba cannot call numpy-level functions
from a compiled loop, so both need compiled versions of the rotation, shape,
projection and linear-solve maths; they live here, once. The numpy functions
of :mod:`openau.geometry.pdm` and :mod:`openau.geometry.rotation` compute the
same quantities for Python callers.

Arithmetic follows OpenFace's storage: parameters, rotations and shapes are
float32 (``cv::Mat_<float>``, ``cv::Matx33f``); where OpenCV or OpenFace
accumulates a small product in double, so do these functions. Every function
writes into caller-provided arrays and allocates nothing, so kernels can call
them in their inner loops; all are ``nogil``.

Loaded by the kernels that use them (importing this module imports numba).
numba's on-disk cache checks only the source file of the function compiled:
after editing this file in a development checkout, delete the callers'
cached code (``__pycache__/*.nbi`` and ``*.nbc`` under ``landmarks/`` and
``geometry/``) or they keep running the old primitives.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Cached compilation, no GIL (pure array code), C semantics for floating-point
# errors (NaN or inf, not exceptions), as in OpenFace.
JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}

#: OpenCV's Cholesky gives up below this pivot (float32 machine epsilon).
CHOLESKY_MIN_PIVOT = float(np.finfo(np.float32).eps)


@njit(**JIT_OPTIONS)
def euler_to_matrix(rx, ry, rz, out):
    """OpenFace's ``Euler2RotationMatrix``: ``R = Rx Ry Rz`` in float32, into ``out`` (3, 3)."""
    s1, s2, s3 = np.sin(rx), np.sin(ry), np.sin(rz)
    c1, c2, c3 = np.cos(rx), np.cos(ry), np.cos(rz)
    out[0, 0] = c2 * c3
    out[0, 1] = -c2 * s3
    out[0, 2] = s2
    out[1, 0] = c1 * s3 + c3 * s1 * s2
    out[1, 1] = c1 * c3 - s1 * s2 * s3
    out[1, 2] = -c2 * s1
    out[2, 0] = s1 * s3 - c1 * c3 * s2
    out[2, 1] = c3 * s1 + c1 * s2 * s3
    out[2, 2] = c1 * c2


@njit(**JIT_OPTIONS)
def axis_angle_to_matrix(vx, vy, vz, out):
    """Rotation matrix of an axis-angle vector: Rodrigues' formula in float64, stored float32."""
    theta = math.sqrt(vx * vx + vy * vy + vz * vz)
    if theta < 1e-300:
        kx, ky, kz, c, s = 1.0, 0.0, 0.0, 1.0, 0.0
    else:
        kx, ky, kz = vx / theta, vy / theta, vz / theta
        c, s = math.cos(theta), math.sin(theta)
    c1 = 1.0 - c
    out[0, 0] = np.float32(c + c1 * kx * kx)
    out[0, 1] = np.float32(c1 * kx * ky - s * kz)
    out[0, 2] = np.float32(c1 * kx * kz + s * ky)
    out[1, 0] = np.float32(c1 * ky * kx + s * kz)
    out[1, 1] = np.float32(c + c1 * ky * ky)
    out[1, 2] = np.float32(c1 * ky * kz - s * kx)
    out[2, 0] = np.float32(c1 * kz * kx - s * ky)
    out[2, 1] = np.float32(c1 * kz * ky + s * kx)
    out[2, 2] = np.float32(c + c1 * kz * kz)


@njit(**JIT_OPTIONS)
def matrix_to_euler(r):
    """OpenFace's ``RotationMatrix2Euler`` (through a float32 quaternion): ``(rx, ry, rz)``."""
    one, two, four = np.float32(1), np.float32(2), np.float32(4)
    q0 = np.sqrt(one + r[0, 0] + r[1, 1] + r[2, 2]) / two
    q1 = (r[2, 1] - r[1, 2]) / (four * q0)
    q2 = (r[0, 2] - r[2, 0]) / (four * q0)
    q3 = (r[1, 0] - r[0, 1]) / (four * q0)
    t1 = min(max(two * (q0 * q2 + q1 * q3), -one), one)
    yaw = np.arcsin(t1)
    pitch = np.arctan2(two * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
    roll = np.arctan2(two * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    return pitch, yaw, roll


@njit(**JIT_OPTIONS)
def update_rotation(r1, wx, wy, wz, work):
    """Euler angles of ``R1 @ orth(I + [w]x)``, as OpenFace's ``PDM::UpdateModelParameters``.

    Parameters
    ----------
    r1 : (3, 3) float32
        Rotation of the current angles (:func:`euler_to_matrix`).
    wx, wy, wz : float64
        The small-angle rotation step (float32 values).
    work : (2, 3, 3) float32
        Scratch.

    Returns
    -------
    pitch, yaw, roll : float32
        Zeros if the conversion breaks down (NaN), as in OpenFace.

    Notes
    -----
    OpenFace orthonormalises ``I + [w]x`` by SVD; the result is the rotation
    about ``w`` by ``atan |w|``, computed here in closed form. The product is
    taken in float32, turned into a float32 axis-angle vector (OpenCV's
    ``Rodrigues`` into a ``cv::Vec3f``; here through the quaternion, in
    float64) and back into a matrix, then into float32 Euler angles.
    """
    r2, r3 = work[0], work[1]
    theta = math.sqrt(wx * wx + wy * wy + wz * wz)
    scale = math.atan(theta) / theta if theta > 0 else 1.0
    axis_angle_to_matrix(wx * scale, wy * scale, wz * scale, r2)
    for i in range(3):
        for j in range(3):
            acc = np.float32(0)
            for k in range(3):
                acc += r1[i, k] * r2[k, j]
            r3[i, j] = acc
    # Axis-angle vector of R3 through its quaternion (float64), stored in float32.
    m00, m11, m22 = np.float64(r3[0, 0]), np.float64(r3[1, 1]), np.float64(r3[2, 2])
    trace = m00 + m11 + m22
    if trace > -0.99:
        qw = 0.5 * math.sqrt(max(1.0 + trace, 0.0))
        qx = (np.float64(r3[2, 1]) - r3[1, 2]) / (4.0 * qw)
        qy = (np.float64(r3[0, 2]) - r3[2, 0]) / (4.0 * qw)
        qz = (np.float64(r3[1, 0]) - r3[0, 1]) / (4.0 * qw)
    else:  # near a half turn: take the axis from the largest diagonal entry
        if m00 >= m11 and m00 >= m22:
            qx = 0.5 * math.sqrt(max(1.0 + m00 - m11 - m22, 0.0))
            qw = (np.float64(r3[2, 1]) - r3[1, 2]) / (4.0 * qx)
            qy = (np.float64(r3[0, 1]) + r3[1, 0]) / (4.0 * qx)
            qz = (np.float64(r3[0, 2]) + r3[2, 0]) / (4.0 * qx)
        elif m11 >= m22:
            qy = 0.5 * math.sqrt(max(1.0 - m00 + m11 - m22, 0.0))
            qw = (np.float64(r3[0, 2]) - r3[2, 0]) / (4.0 * qy)
            qx = (np.float64(r3[0, 1]) + r3[1, 0]) / (4.0 * qy)
            qz = (np.float64(r3[1, 2]) + r3[2, 1]) / (4.0 * qy)
        else:
            qz = 0.5 * math.sqrt(max(1.0 - m00 - m11 + m22, 0.0))
            qw = (np.float64(r3[1, 0]) - r3[0, 1]) / (4.0 * qz)
            qx = (np.float64(r3[0, 2]) + r3[2, 0]) / (4.0 * qz)
            qy = (np.float64(r3[1, 2]) + r3[2, 1]) / (4.0 * qz)
        if qw < 0:
            qw, qx, qy, qz = -qw, -qx, -qy, -qz
    norm_v = math.sqrt(qx * qx + qy * qy + qz * qz)
    angle = 2.0 * math.atan2(norm_v, qw)
    factor = angle / norm_v if norm_v > 0 else 2.0
    vx = np.float32(qx * factor)
    vy = np.float32(qy * factor)
    vz = np.float32(qz * factor)
    axis_angle_to_matrix(np.float64(vx), np.float64(vy), np.float64(vz), r3)
    pitch, yaw, roll = matrix_to_euler(r3)
    if np.isnan(pitch) or np.isnan(yaw) or np.isnan(roll):
        return np.float32(0), np.float32(0), np.float32(0)
    return pitch, yaw, roll


@njit(**JIT_OPTIONS)
def shape_3d(mean, comps_t, local, acc, out):
    """3-D shape ``mean + V p`` (OpenFace's ``CalcShape3D``), into ``out``.

    Parameters
    ----------
    mean : (n, 3) float32
    comps_t : (m, n, 3) float32
        The PDM's components with the mode axis first (so that the loop over
        points, innermost, vectorises).
    local : (m,) float32
    acc : (n, 3) float64
        Scratch.
    out : (n, 3) float32
        Products summed in float64 over the modes in order, plus the mean,
        rounded once (OpenCV's ``gemm`` accumulates small products in double).
    """
    n = mean.shape[0]
    for i in range(n):
        for c in range(3):
            acc[i, c] = 0.0
    for k in range(comps_t.shape[0]):
        w = np.float64(local[k])
        for i in range(n):
            for c in range(3):
                acc[i, c] += comps_t[k, i, c] * w
    for i in range(n):
        for c in range(3):
            out[i, c] = np.float32(acc[i, c] + mean[i, c])


@njit(**JIT_OPTIONS)
def project_point(shape, i, c, glob, rot):
    """Coordinate ``c`` of landmark ``i`` under the weak-perspective camera.

    ``s R[c] . X_i + t_c``: the dot product in float64 (exact float32
    products), scaled and rounded to float32, then translated in float32.
    """
    dot = (
        np.float64(shape[i, 0]) * rot[c, 0]
        + np.float64(shape[i, 1]) * rot[c, 1]
        + np.float64(shape[i, 2]) * rot[c, 2]
    )
    return np.float32(np.float32(dot * np.float64(glob[0])) + glob[4 + c])


@njit(**JIT_OPTIONS)
def project(shape, glob, rot, out):
    """2-D landmarks ``(n, 2)`` float32 of a 3-D shape (``PDM::CalcShape2D``), into ``out``."""
    for i in range(shape.shape[0]):
        out[i, 0] = project_point(shape, i, 0, glob, rot)
        out[i, 1] = project_point(shape, i, 1, glob, rot)


@njit(**JIT_OPTIONS)
def _cholesky_diagonal(a, i):
    """Row ``i``'s inverted pivot from its finished off-diagonal entries; False if not SPD."""
    s = np.float64(a[i, i])
    for k in range(i):
        t = np.float64(a[i, k])
        s -= t * t
    if s < CHOLESKY_MIN_PIVOT:
        return False
    a[i, i] = np.float32(1.0 / math.sqrt(s))
    return True


@njit(**JIT_OPTIONS)
def cholesky_solve(a, b, out):
    """Solve the SPD system ``a x = b`` as OpenCV's ``solve(..., DECOMP_CHOLESKY)`` on float32.

    OpenCV's ``Cholesky`` (``CholImpl``) keeps the factor in float32 (its
    diagonal inverted) and accumulates each dot product in double, but forms
    the off-diagonal products in float32 (``float * float`` in C++) and only
    the squares of the diagonal sums in double; so does this function, term
    by term in OpenCV's order. Two rows are factored side by side (their
    entries are independent sums), which only overlaps the two chains of
    additions.

    Parameters
    ----------
    a : (p, p) float32
        Lower triangle read; overwritten with the factor.
    b : (p,) float32
    out : (p,) float32
        The solution; zeros when a pivot falls below float32 epsilon (OpenCV
        reports failure and OpenFace then applies no update).

    Returns
    -------
    bool
        False when ``a`` was not positive definite.
    """
    m = a.shape[0]
    for i in range(0, m, 2):
        pair = i + 1 < m
        for j in range(i):
            s0 = np.float64(a[i, j])
            s1 = np.float64(a[i + 1, j]) if pair else 0.0
            for k in range(j):
                ajk = a[j, k]
                s0 -= np.float64(a[i, k] * ajk)
                if pair:
                    s1 -= np.float64(a[i + 1, k] * ajk)
            a[i, j] = np.float32(s0 * a[j, j])
            if pair:
                a[i + 1, j] = np.float32(s1 * a[j, j])
        ok = _cholesky_diagonal(a, i)
        if ok and pair:
            s1 = np.float64(a[i + 1, i])
            for k in range(i):
                s1 -= np.float64(a[i + 1, k] * a[i, k])
            a[i + 1, i] = np.float32(s1 * a[i, i])
            ok = _cholesky_diagonal(a, i + 1)
        if not ok:
            for k in range(m):
                out[k] = 0
            return False
    for i in range(m):
        s = np.float64(b[i])
        for k in range(i):
            s -= np.float64(a[i, k] * out[k])
        out[i] = np.float32(s * a[i, i])
    for i in range(m - 1, -1, -1):
        s = np.float64(out[i])
        for k in range(m - 1, i, -1):
            s -= np.float64(a[k, i] * out[k])
        out[i] = np.float32(s * a[i, i])
    return True


@njit(**JIT_OPTIONS)
def _normalise_points(points, out):
    """Centre ``points`` (n, 2) float32 and scale them to unit RMS radius, into ``out``.

    The steps of :func:`openau.geometry.similarity.normalise_points`: float64
    centroid rounded to float32, float32 squares summed in float64, and
    division done as multiplication by the float32 reciprocal. Returns the
    float32 radius.
    """
    n = points.shape[0]
    sx = 0.0
    sy = 0.0
    for i in range(n):
        sx += points[i, 0]
        sy += points[i, 1]
    cx = np.float32(sx / n)
    cy = np.float32(sy / n)
    acc = 0.0
    for i in range(n):
        dx = points[i, 0] - cx
        dy = points[i, 1] - cy
        out[i, 0] = dx
        out[i, 1] = dy
        acc += np.float64(dx * dx)
        acc += np.float64(dy * dy)
    radius = np.float32(math.sqrt(acc / n))
    inverse = np.float32(1.0 / np.float64(radius))
    for i in range(n):
        out[i, 0] *= inverse
        out[i, 1] *= inverse
    return radius


@njit(**JIT_OPTIONS)
def similarity_transform(source, target, work, out):
    """Scale-rotation ``A`` (2, 2) float32 best mapping centred ``source`` onto ``target``.

    The compiled form of :func:`openau.geometry.similarity_transform`
    (OpenFace's ``AlignShapesWithScale``): the same normalisation, and the
    least-squares rotation in closed form, ``atan2`` of the cross-covariance's
    antisymmetric and symmetric parts (in 2-D the Kabsch SVD with its
    reflection guard reduces to this). It agrees with the SVD to float32
    rounding; the AU stage, whose warp amplifies the last bit, uses the
    OpenCV-exact numpy function instead.

    Parameters
    ----------
    source, target : (n, 2) float32
    work : (2, n, 2) float32
        Scratch.
    out : (2, 2) float32
    """
    src, dst = work[0], work[1]
    scale = np.float32(_normalise_points(target, dst) / _normalise_points(source, src))
    cos_part = 0.0
    sin_part = 0.0
    for i in range(source.shape[0]):
        sx, sy = np.float64(src[i, 0]), np.float64(src[i, 1])
        tx, ty = np.float64(dst[i, 0]), np.float64(dst[i, 1])
        cos_part += sx * tx + sy * ty
        sin_part += sx * ty - sy * tx
    norm = math.sqrt(cos_part * cos_part + sin_part * sin_part)
    c, s = (1.0, 0.0) if norm == 0 else (cos_part / norm, sin_part / norm)
    out[0, 0] = np.float32(c) * scale
    out[0, 1] = -np.float32(s) * scale
    out[1, 0] = np.float32(s) * scale
    out[1, 1] = np.float32(c) * scale
