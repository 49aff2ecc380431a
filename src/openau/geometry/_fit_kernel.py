"""Numba kernel of OpenFace's ``PDM::CalcParams`` (landmarks to PDM parameters).

Kept apart from :mod:`openau.geometry.pdm` so that importing the geometry
package does not import numba; :func:`openau.geometry.fit_to_landmarks` loads
this module on first use.

The parameters live in float32 as in OpenFace (``cv::Mat_<float>``), the
projection and error follow its float32/float64 steps, and the rotation update
goes through an axis-angle vector stored in float32 (OpenCV's ``Rodrigues``
into a ``cv::Vec3f``) and float32 Euler angles, as ``PDM::UpdateModelParameters``
does. The AU stage aligns faces with this fit's translation; with these choices
the translation agrees with OpenFace's to the last bit on every reference frame.

Speed: OpenFace forms ``J^T J`` from the full ``(2n, 6 + m)`` Jacobian (about
110 000 multiply-adds per step). Here the normal equations are assembled from
moments of the model precomputed once per model and visibility pattern
(:func:`moments`): the non-rigid block is ``s^2 sum_ab P_ab G_ab`` with
``P = R[:2]^T R[:2]`` and ``G_ab = sum_i V_i[a]^T V_i[b]``, and the mixed block
uses ``sum_i X_i[b] V_i[a]``, which is linear in the non-rigid parameters. The
sums are the same; only their float rounding differs (float64 here).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_F32 = np.float32


@njit(cache=True)
def _euler_to_matrix(rx, ry, rz):
    """OpenFace's ``Euler2RotationMatrix`` in float32 (R = Rx Ry Rz)."""
    s1, s2, s3 = np.sin(rx), np.sin(ry), np.sin(rz)
    c1, c2, c3 = np.cos(rx), np.cos(ry), np.cos(rz)
    r = np.empty((3, 3), np.float32)
    r[0, 0] = c2 * c3
    r[0, 1] = -c2 * s3
    r[0, 2] = s2
    r[1, 0] = c1 * s3 + c3 * s1 * s2
    r[1, 1] = c1 * c3 - s1 * s2 * s3
    r[1, 2] = -c2 * s1
    r[2, 0] = s1 * s3 - c1 * c3 * s2
    r[2, 1] = c3 * s1 + c1 * s2 * s3
    r[2, 2] = c1 * c2
    return r


@njit(cache=True)
def _matrix_to_euler(r):
    """OpenFace's ``RotationMatrix2Euler`` (through a quaternion) in float32."""
    one, two, four = np.float32(1), np.float32(2), np.float32(4)
    q0 = np.sqrt(one + r[0, 0] + r[1, 1] + r[2, 2]) / two
    q1 = (r[2, 1] - r[1, 2]) / (four * q0)
    q2 = (r[0, 2] - r[2, 0]) / (four * q0)
    q3 = (r[1, 0] - r[0, 1]) / (four * q0)
    t1 = two * (q0 * q2 + q1 * q3)
    if t1 > one:
        t1 = one
    if t1 < -one:
        t1 = -one
    yaw = np.arcsin(t1)
    pitch = np.arctan2(two * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
    roll = np.arctan2(two * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    return pitch, yaw, roll


@njit(cache=True)
def _polar(m):
    """The rotation nearest a near-orthonormal float64 3x3 matrix.

    Newton's iteration ``X <- (X + X^-T) / 2`` converges quadratically to the
    orthogonal polar factor, which is what OpenCV's SVD-based
    orthonormalisation returns (``U V^T``) for a matrix with positive
    determinant.
    """
    x = m.copy()
    for _ in range(3):
        x = (x + _inverse_transpose(x)) / 2.0
    return x


@njit(cache=True)
def _inverse_transpose(a):
    """``inv(a).T`` of a 3x3 float64 matrix: its cofactors over its determinant."""
    cof = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            i1, i2 = (i + 1) % 3, (i + 2) % 3
            j1, j2 = (j + 1) % 3, (j + 2) % 3
            cof[i, j] = a[i1, j1] * a[i2, j2] - a[i1, j2] * a[i2, j1]
    det = a[0, 0] * cof[0, 0] + a[0, 1] * cof[0, 1] + a[0, 2] * cof[0, 2]
    return cof / det


@njit(cache=True)
def _rodrigues_vector(r):
    """Axis-angle vector of a rotation matrix (float64), as OpenCV computes it."""
    rx = r[2, 1] - r[1, 2]
    ry = r[0, 2] - r[2, 0]
    rz = r[1, 0] - r[0, 1]
    s = math.sqrt((rx * rx + ry * ry + rz * rz) * 0.25)
    c = (r[0, 0] + r[1, 1] + r[2, 2] - 1.0) * 0.5
    c = min(max(c, -1.0), 1.0)
    theta = math.acos(c)
    out = np.zeros(3)
    if s < 1e-5:
        if c > 0:
            return out
        # theta ~ pi: the axis from the diagonal of (R + I) / 2.
        for i in range(3):
            out[i] = math.sqrt(max((r[i, i] + 1.0) * 0.5, 0.0)) * theta
        if r[0, 1] < 0:
            out[1] = -out[1]
        if r[0, 2] < 0:
            out[2] = -out[2]
        if r[0, 1] * r[0, 2] * r[1, 2] < 0 and out[0] * out[1] * out[2] > 0:
            out[2] = -out[2]
        return out
    scale = 1.0 / (2.0 * s) * theta
    out[0] = rx * scale
    out[1] = ry * scale
    out[2] = rz * scale
    return out


@njit(cache=True)
def _rodrigues_matrix(v):
    """Rotation matrix (float64) of an axis-angle vector, as OpenCV computes it."""
    theta = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    r = np.eye(3)
    if theta < 2.220446049250313e-16:
        return r
    c, s = math.cos(theta), math.sin(theta)
    c1 = 1.0 - c
    k = v / theta
    for i in range(3):
        for j in range(3):
            r[i, j] = c1 * k[i] * k[j] + (c if i == j else 0.0)
    r[0, 1] += -s * k[2]
    r[0, 2] += s * k[1]
    r[1, 0] += s * k[2]
    r[1, 2] += -s * k[0]
    r[2, 0] += -s * k[1]
    r[2, 1] += s * k[0]
    return r


@njit(cache=True)
def update_rotation(rx, ry, rz, wx, wy, wz):
    """Compose Euler angles with a small-angle step, as ``PDM::UpdateModelParameters``.

    ``R_new = R(rx, ry, rz) @ orth(I + [w]x)``, orthonormalised, then taken
    through a float32 axis-angle vector back to float32 Euler angles. Zeros
    replace a result that is not a number.
    """
    r1 = _euler_to_matrix(rx, ry, rz)
    small = np.eye(3)
    small[0, 1], small[0, 2] = -wz, wy
    small[1, 0], small[1, 2] = wz, -wx
    small[2, 0], small[2, 1] = -wy, wx
    r2 = _polar(small).astype(np.float32)
    r3 = np.zeros((3, 3), np.float32)
    for i in range(3):
        for j in range(3):
            acc = np.float32(0)
            for k in range(3):
                acc += r1[i, k] * r2[k, j]
            r3[i, j] = acc
    axis = _rodrigues_vector(_polar(r3.astype(np.float64))).astype(np.float32)
    back = _rodrigues_matrix(axis.astype(np.float64)).astype(np.float32)
    pitch, yaw, roll = _matrix_to_euler(back)
    if np.isnan(pitch) or np.isnan(yaw) or np.isnan(roll):
        return np.float32(0), np.float32(0), np.float32(0)
    return pitch, yaw, roll


@njit(cache=True)
def _shape_3d(mean, comps_t, local, out):
    """``out = mean + comps @ local`` with float64 sums, float32 result.

    ``comps_t`` is ``(m, n, 3)``: the inner loop runs over contiguous points
    so that it vectorises while each sum still runs over ``k`` in order.
    """
    m, n, _ = comps_t.shape
    acc = np.zeros((n, 3))
    for k in range(m):
        w = np.float64(local[k])
        for i in range(n):
            for c in range(3):
                acc[i, c] += comps_t[k, i, c] * w
    for i in range(n):
        for c in range(3):
            out[i, c] = np.float32(acc[i, c] + mean[i, c])


@njit(cache=True)
def _project(shape, scale, rot, tx, ty, out):
    """Weak-perspective projection; the dot product in float64, as OpenCV's gemm."""
    for i in range(shape.shape[0]):
        for c in range(2):
            acc = (
                np.float64(shape[i, 0]) * rot[c, 0]
                + np.float64(shape[i, 1]) * rot[c, 1]
                + np.float64(shape[i, 2]) * rot[c, 2]
            )
            out[i, c] = np.float32(acc * scale)
        out[i, 0] += tx
        out[i, 1] += ty


@njit(cache=True)
def _error(points, target):
    """L2 norm of the residual, float64 sum rounded to float32 (``cv::norm``)."""
    acc = 0.0
    for i in range(points.shape[0]):
        for c in range(2):
            d = np.float64(points[i, c] - target[i, c])
            acc += d * d
    return np.float32(math.sqrt(acc))


@njit(cache=True)
def moments(mean, comps):
    """Model moments for the normal equations (float64).

    Returns
    -------
    gram : (3, 3, m, m)
        ``gram[a, b] = sum_i V_i[a]^T V_i[b]``, ``V_i`` the ``(3, m)``
        components of point i.
    comp_sum : (3, m)
        ``sum_i V_i[a]``.
    mean_comp : (3, 3, m)
        ``mean_comp[b, a] = sum_i mean_i[b] V_i[a]``.
    """
    n, _, m = comps.shape
    gram = np.zeros((3, 3, m, m))
    comp_sum = np.zeros((3, m))
    mean_comp = np.zeros((3, 3, m))
    for i in range(n):
        for a in range(3):
            for k in range(m):
                va = np.float64(comps[i, a, k])
                comp_sum[a, k] += va
                for b in range(3):
                    mean_comp[b, a, k] += np.float64(mean[i, b]) * va
                    for l in range(m):
                        gram[a, b, k, l] += va * comps[i, b, l]
    return gram, comp_sum, mean_comp


@njit(cache=True)
def _rigid_rows(rot, scale, c):
    """Rigid Jacobian row of coordinate ``c`` as ``A @ X + const`` (``ComputeJacobian``).

    Rows: scale ``R[c] . X``; rotation ``s (X x R[c])``; translation ``e_c``.
    """
    r0, r1, r2 = np.float64(rot[c, 0]), np.float64(rot[c, 1]), np.float64(rot[c, 2])
    s = np.float64(scale)
    a = np.zeros((6, 3))
    const = np.zeros(6)
    a[0, 0], a[0, 1], a[0, 2] = r0, r1, r2
    a[1, 1], a[1, 2] = s * r2, -s * r1
    a[2, 0], a[2, 2] = -s * r2, s * r0
    a[3, 0], a[3, 1] = s * r1, -s * r0
    const[4 + c] = 1.0
    return a, const


@njit(cache=True)
def _normal_equations(shape, comps, local, scale, rot, residual, gram, comp_sum, mean_comp):
    """``J^T J`` and ``J^T r`` of OpenFace's PDM Jacobian, from model moments.

    Returns float32 ``(6 + m, 6 + m)`` and ``(6 + m,)`` arrays.
    """
    n, _, m = comps.shape
    p = 6 + m
    s = np.float64(scale)
    r64 = rot.astype(np.float64)
    proj = np.zeros((3, 3))  # P = R[0]R[0]^T + R[1]R[1]^T
    for a in range(3):
        for b in range(3):
            proj[a, b] = r64[0, a] * r64[0, b] + r64[1, a] * r64[1, b]

    # Moments of the current shape: sum X X^T, sum X, and the residual sums.
    xx = np.zeros((3, 3))
    xs = np.zeros(3)
    xr = np.zeros((2, 3))
    rs = np.zeros(2)
    rv = np.zeros((3, n))  # sum_c R[c, a] r_ic, per point
    for i in range(n):
        for b in range(3):
            xb = np.float64(shape[i, b])
            xs[b] += xb
            for d in range(3):
                xx[b, d] += xb * shape[i, d]
            for c in range(2):
                xr[c, b] += xb * residual[i, c]
        for c in range(2):
            rs[c] += residual[i, c]
        for a in range(3):
            rv[a, i] = r64[0, a] * residual[i, 0] + r64[1, a] * residual[i, 1]

    # q[b, a] = sum_i X_i[b] V_i[a] = mean_comp[b, a] + gram[a, b] @ local.
    q = mean_comp.copy()
    for a in range(3):
        for b in range(3):
            for l in range(m):
                w = np.float64(local[l])
                for k in range(m):
                    q[b, a, k] += gram[b, a, l, k] * w  # gram[a, b, k, l]

    h = np.zeros((p, p))
    g = np.zeros(p)
    for c in range(2):
        amat, const = _rigid_rows(rot, scale, c)
        # rigid-rigid: sum_i (A X_i + k)(A X_i + k)^T
        ax = np.zeros(6)
        ax_r = np.zeros(6)
        axa = np.zeros((6, 3))  # A @ xx
        for k1 in range(6):
            for b in range(3):
                ax[k1] += amat[k1, b] * xs[b]
                ax_r[k1] += amat[k1, b] * xr[c, b]
                for d in range(3):
                    axa[k1, d] += amat[k1, b] * xx[b, d]
        axx = np.zeros((6, 6))
        for k1 in range(6):
            for k2 in range(6):
                for d in range(3):
                    axx[k1, k2] += axa[k1, d] * amat[k2, d]
        for k1 in range(6):
            g[k1] += ax_r[k1] + const[k1] * rs[c]
            for k2 in range(6):
                h[k1, k2] += axx[k1, k2] + ax[k1] * const[k2] + const[k1] * ax[k2]
                h[k1, k2] += n * const[k1] * const[k2]
        # rigid-nonrigid: s sum_a R[c, a] (sum_b A[k, b] q[b, a] + k_k comp_sum[a])
        for k1 in range(6):
            for a in range(3):
                w = s * r64[c, a]
                if w == 0.0:
                    continue
                acc = const[k1] * comp_sum[a]
                for b in range(3):
                    if amat[k1, b] != 0.0:
                        acc += amat[k1, b] * q[b, a]
                for l in range(m):
                    h[k1, 6 + l] += w * acc[l]
    # nonrigid-nonrigid: s^2 sum_ab P_ab gram[a, b]
    s2 = s * s
    for a in range(3):
        for b in range(3):
            w = s2 * proj[a, b]
            for k in range(m):
                for l in range(m):
                    h[6 + k, 6 + l] += w * gram[a, b, k, l]
    # nonrigid gradient: s sum_i sum_a rv[a, i] V_i[a]
    for i in range(n):
        for a in range(3):
            w = s * rv[a, i]
            for l in range(m):
                g[6 + l] += w * comps[i, a, l]
    for k in range(6):
        for l in range(m):
            h[6 + l, k] = h[k, 6 + l]
    return h.astype(np.float32), g.astype(np.float32)


@njit(cache=True)
def _solve_spd(a, b):
    """Solve ``a x = b`` (symmetric positive definite) by Cholesky in float64.

    Right-looking ``U^T U`` factorisation on rows, so that the inner loops run
    over contiguous memory. Returns the float32 solution and whether ``a`` was
    positive definite.
    """
    m = a.shape[0]
    u = a.astype(np.float64)
    x = b.astype(np.float64)
    for k in range(m):
        d = u[k, k]
        if d <= 0.0:
            return x.astype(np.float32), False
        d = math.sqrt(d)
        u[k, k] = d
        for j in range(k + 1, m):
            u[k, j] /= d
        for i in range(k + 1, m):
            w = u[k, i]
            for j in range(i, m):
                u[i, j] -= w * u[k, j]
    for i in range(m):  # U^T y = b
        v = x[i]
        for k in range(i):
            v -= u[k, i] * x[k]
        x[i] = v / u[i, i]
    for i in range(m - 1, -1, -1):  # U x = y
        v = x[i]
        for k in range(i + 1, m):
            v -= u[i, k] * x[k]
        x[i] = v / u[i, i]
    return x.astype(np.float32), True


@njit(cache=True)
def fit(
    mean, comps, comps_t, eigenvalues, gram, comp_sum, mean_comp, target, rotation, regularise, step,
    max_iterations, patience,
):
    """Regularised Gauss-Newton fit of PDM parameters to 2-D points.

    Parameters
    ----------
    mean : (n, 3) float32
    comps : (n, 3, m) float32
    comps_t : (m, n, 3) float32
        ``comps`` with the mode axis first.
    eigenvalues : (m,) float32
    gram, comp_sum, mean_comp : float64 arrays
        :func:`moments` of ``mean`` and ``comps``.
    target : (n, 2) float32
        Visible landmarks only.
    rotation : (3,) float32
        Starting Euler angles.
    regularise : bool
        Add the inverse-eigenvalue prior (OpenFace's CalcParams does).
    step : float32
        Damping of each step (0.75 in OpenFace).
    max_iterations, patience : int
        Iteration cap; stop after ``patience`` steps that each cut the error
        by less than 0.1 %.

    Returns
    -------
    glob : (6,) float32
    local : (m,) float32
    iterations : int
    """
    n, _, m = comps.shape
    p = 6 + m
    half = np.float32(2)

    # Initial scale and translation from the two bounding boxes (the model's
    # mean shape seen head-on, and the landmarks).
    model_w = np.abs(mean[:, 0].min() - mean[:, 0].max())
    model_h = np.abs(mean[:, 1].min() - mean[:, 1].max())
    lo_x, hi_x = target[:, 0].min(), target[:, 0].max()
    lo_y, hi_y = target[:, 1].min(), target[:, 1].max()
    width = np.abs(lo_x - hi_x)
    height = np.abs(lo_y - hi_y)
    glob = np.zeros(6, np.float32)
    glob[0] = (width / model_w + height / model_h) / half
    glob[1], glob[2], glob[3] = rotation[0], rotation[1], rotation[2]
    glob[4] = (lo_x + hi_x) / half
    glob[5] = (lo_y + hi_y) / half
    local = np.zeros(m, np.float32)

    prior = np.zeros(p, np.float32)
    if regularise:
        for k in range(m):
            prior[6 + k] = np.float32(1) / eigenvalues[k]

    shape = np.empty((n, 3), np.float32)
    points = np.empty((n, 2), np.float32)
    residual = np.empty((n, 2), np.float32)

    rot = _euler_to_matrix(glob[1], glob[2], glob[3])
    # The first error uses OpenFace's explicit float32 projection loop.
    for i in range(n):
        for c in range(2):
            v = rot[c, 0] * mean[i, 0] + rot[c, 1] * mean[i, 1] + rot[c, 2] * mean[i, 2]
            points[i, c] = glob[0] * v + glob[4 + c]
    error = _error(points, target)

    not_improved = 0
    iterations = 0
    for _ in range(max_iterations):
        iterations += 1
        _shape_3d(mean, comps_t, local, shape)
        _project(shape, glob[0], rot, glob[4], glob[5], points)
        for i in range(n):
            residual[i, 0] = target[i, 0] - points[i, 0]
            residual[i, 1] = target[i, 1] - points[i, 1]
        hessian, gradient = _normal_equations(
            shape, comps, local, glob[0], rot, residual, gram, comp_sum, mean_comp
        )
        for k in range(p):
            hessian[k, k] += prior[k]
        for k in range(m):
            gradient[6 + k] -= np.float32(np.float64(prior[6 + k]) * np.float64(local[k]))
        delta, ok = _solve_spd(hessian, gradient)
        if not ok:
            break
        for k in range(p):
            delta[k] = step * delta[k]

        glob[0] += delta[0]
        glob[4] += delta[4]
        glob[5] += delta[5]
        glob[1], glob[2], glob[3] = update_rotation(
            glob[1], glob[2], glob[3], np.float64(delta[1]), np.float64(delta[2]), np.float64(delta[3])
        )
        for k in range(m):
            local[k] += delta[6 + k]
        rot = _euler_to_matrix(glob[1], glob[2], glob[3])

        # OpenFace measures the new error with the step's starting shape (the
        # non-rigid update not yet applied) under the new global parameters.
        _project(shape, glob[0], rot, glob[4], glob[5], points)
        new_error = _error(points, target)
        if 0.999 * np.float64(error) < np.float64(new_error):
            not_improved += 1
            if not_improved == patience:
                break
        error = new_error
    return glob, local, iterations
