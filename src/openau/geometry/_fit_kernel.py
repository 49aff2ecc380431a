"""Numba kernel of OpenFace's ``PDM::CalcParams`` (landmarks to PDM parameters).

Kept apart from :mod:`openau.geometry.pdm` so that importing the geometry
package does not import numba; :func:`openau.geometry.fit_to_landmarks` loads
this module on first use.

The parameters live in float32 as in OpenFace (``cv::Mat_<float>``), the
projection and error follow its float32/float64 steps, and the rotation update
goes through an axis-angle vector stored in float32 (OpenCV's ``Rodrigues``
into a ``cv::Vec3f``) and float32 Euler angles, as ``PDM::UpdateModelParameters``
does. The AU stage aligns faces with this fit's translation, where one unit in
its last place can move an aligned pixel: the translation agrees with
OpenFace's to the last bit on every frame of the reference clips. It is robust
(it converges to the landmarks' centroid, the PDM being centred), so the
normal equations may be summed in another order than OpenFace's BLAS: even a
pure float64 fit reproduces it. The non-rigid parameters agree to ~1e-4.

Speed: OpenFace forms ``J^T J`` from the full ``(2n, 6 + m)`` Jacobian (about
110 000 multiply-adds per step). Here the normal equations are assembled from
moments of the model precomputed once per model and visibility pattern
(:func:`moments`): the non-rigid block is ``s^2 sum_ab P_ab G_ab`` with
``P = R[:2]^T R[:2]`` and ``G_ab = sum_i V_i[a]^T V_i[b]``, and the mixed block
uses ``sum_i X_i[b] V_i[a]``, which is linear in the non-rigid parameters. The
sums are the same; only their float rounding differs (float64 here, with
``fastmath`` letting LLVM vectorise the loops).

Compile time matters (users wait for it once): the kernel avoids array
methods, slice assignments and many small helpers, which each pull in numba
machinery; a cold compile takes about 10-20 s, later runs load it from cache.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_F32 = np.float32


@njit(cache=True)
def _euler_to_matrix(rx, ry, rz, out):
    """OpenFace's ``Euler2RotationMatrix`` in float32 (``R = Rx Ry Rz``), into ``out``."""
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


@njit(cache=True)
def _axis_angle_matrix(vx, vy, vz, out):
    """Rotation matrix (float64 maths, float32 ``out``) of an axis-angle vector."""
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


@njit(cache=True)
def _update_rotation(r1, wx, wy, wz, work):
    """Euler angles of ``R1 @ orth(I + [w]x)``, as ``PDM::UpdateModelParameters``.

    ``r1`` is the float32 rotation of the current angles, ``w`` the
    small-angle step, ``work`` a (2, 3, 3) float32 scratch array. OpenFace
    orthonormalises ``I + [w]x`` by SVD -- the rotation about ``w`` by
    ``atan |w|`` -- multiplies in float32, converts to a float32 axis-angle
    vector and back (OpenCV's ``Rodrigues``), then to float32 Euler angles
    through a quaternion. Returns zeros if that breaks down (NaN), as OpenFace.
    """
    r2, r3 = work[0], work[1]
    theta = math.sqrt(wx * wx + wy * wy + wz * wz)
    scale = math.atan(theta) / theta if theta > 0 else 1.0
    _axis_angle_matrix(wx * scale, wy * scale, wz * scale, r2)
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
    _axis_angle_matrix(np.float64(vx), np.float64(vy), np.float64(vz), r3)
    # OpenFace's RotationMatrix2Euler, float32.
    one, two, four = np.float32(1), np.float32(2), np.float32(4)
    q0 = np.sqrt(one + r3[0, 0] + r3[1, 1] + r3[2, 2]) / two
    q1 = (r3[2, 1] - r3[1, 2]) / (four * q0)
    q2 = (r3[0, 2] - r3[2, 0]) / (four * q0)
    q3 = (r3[1, 0] - r3[0, 1]) / (four * q0)
    t1 = min(max(two * (q0 * q2 + q1 * q3), -one), one)
    yaw = np.arcsin(t1)
    pitch = np.arctan2(two * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
    roll = np.arctan2(two * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    if np.isnan(pitch) or np.isnan(yaw) or np.isnan(roll):
        return np.float32(0), np.float32(0), np.float32(0)
    return pitch, yaw, roll


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


@njit(cache=True, fastmath=True)
def fit(
    mean, comps, comps_t, eigenvalues, gram, comp_sum, mean_comp, target, rotation, regularise,
    step, max_iterations, patience,
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
    f32 = np.float32
    half = f32(2)

    # Initial scale and translation from the two bounding boxes (the model's
    # mean shape seen head-on, and the landmarks).
    # (Explicit loops instead of array methods and slice assignments keep
    # numba's compile time down: those pull in error-message machinery.)
    lo_mx, hi_mx, lo_my, hi_my = mean[0, 0], mean[0, 0], mean[0, 1], mean[0, 1]
    for i in range(n):
        lo_mx, hi_mx = min(lo_mx, mean[i, 0]), max(hi_mx, mean[i, 0])
        lo_my, hi_my = min(lo_my, mean[i, 1]), max(hi_my, mean[i, 1])
    model_w = np.abs(lo_mx - hi_mx)
    model_h = np.abs(lo_my - hi_my)
    lo_x, hi_x, lo_y, hi_y = target[0, 0], target[0, 0], target[0, 1], target[0, 1]
    for i in range(n):
        lo_x, hi_x = min(lo_x, target[i, 0]), max(hi_x, target[i, 0])
        lo_y, hi_y = min(lo_y, target[i, 1]), max(hi_y, target[i, 1])
    glob = np.zeros(6, f32)
    glob[0] = (np.abs(lo_x - hi_x) / model_w + np.abs(lo_y - hi_y) / model_h) / half
    glob[1], glob[2], glob[3] = rotation[0], rotation[1], rotation[2]
    glob[4] = (lo_x + hi_x) / half
    glob[5] = (lo_y + hi_y) / half
    local = np.zeros(m, f32)
    prior = np.zeros(p, f32)
    if regularise:
        for k in range(m):
            prior[6 + k] = f32(1) / eigenvalues[k]

    rot = np.empty((3, 3), f32)
    work = np.empty((2, 3, 3), f32)
    shape = np.empty((n, 3), f32)
    shape64 = np.empty((n, 3))
    points = np.empty((n, 2), f32)
    residual = np.empty((n, 2))
    proj = np.empty((3, 3))
    xx = np.empty((3, 3))
    xs = np.empty(3)
    xr = np.empty((2, 3))
    rs = np.empty(2)
    q = np.empty((3, 3, m))
    h = np.empty((p, p))
    g = np.empty(p)
    amat = np.zeros((6, 3))
    row = np.empty(m)
    delta = np.empty(p, f32)

    _euler_to_matrix(glob[1], glob[2], glob[3], rot)
    # The first error uses OpenFace's explicit float32 projection loop.
    acc = 0.0
    for i in range(n):
        for c in range(2):
            v = rot[c, 0] * mean[i, 0] + rot[c, 1] * mean[i, 1] + rot[c, 2] * mean[i, 2]
            d = np.float64((glob[0] * v + glob[4 + c]) - target[i, c])
            acc += d * d
    error = f32(math.sqrt(acc))

    not_improved = 0
    iterations = 0
    for _ in range(max_iterations):
        iterations += 1
        s = np.float64(glob[0])
        # 3-D shape: mean + V p, float64 sums rounded to float32 (OpenCV gemm);
        # the loop over points is innermost so that it vectorises.
        for i in range(n):
            for c in range(3):
                shape64[i, c] = 0.0
        for k in range(m):
            w = np.float64(local[k])
            for i in range(n):
                for c in range(3):
                    shape64[i, c] += comps_t[k, i, c] * w
        for i in range(n):
            for c in range(3):
                shape[i, c] = f32(shape64[i, c] + mean[i, c])
        # Residual of the weak-perspective projection (dot product in float64).
        for i in range(n):
            for c in range(2):
                dot = (
                    np.float64(shape[i, 0]) * rot[c, 0]
                    + np.float64(shape[i, 1]) * rot[c, 1]
                    + np.float64(shape[i, 2]) * rot[c, 2]
                )
                projected = f32(f32(dot * s) + glob[4 + c])
                residual[i, c] = np.float64(target[i, c] - projected)

        # --- normal equations J^T J, J^T r from model moments ---
        for a in range(3):
            for b in range(3):
                proj[a, b] = (
                    np.float64(rot[0, a]) * rot[0, b] + np.float64(rot[1, a]) * rot[1, b]
                )
        for b in range(3):
            xs[b] = 0.0
            for e in range(3):
                xx[b, e] = 0.0
        for c in range(2):
            rs[c] = 0.0
            for b in range(3):
                xr[c, b] = 0.0
        for i in range(n):
            for b in range(3):
                xb = np.float64(shape[i, b])
                xs[b] += xb
                for e in range(3):
                    xx[b, e] += xb * shape[i, e]
                for c in range(2):
                    xr[c, b] += xb * residual[i, c]
            rs[0] += residual[i, 0]
            rs[1] += residual[i, 1]
        # q[b, a] = sum_i X_i[b] V_i[a] = mean_comp[b, a] + gram[a, b] @ p
        for a in range(3):
            for b in range(3):
                for k in range(m):
                    q[a, b, k] = mean_comp[a, b, k]
        for a in range(3):
            for b in range(3):
                for l in range(m):
                    w = np.float64(local[l])
                    for k in range(m):
                        q[b, a, k] += gram[b, a, l, k] * w  # = gram[a, b, k, l]
        for k in range(p):
            g[k] = 0.0
            for l in range(p):
                h[k, l] = 0.0
        for c in range(2):
            r0, r1, r2 = np.float64(rot[c, 0]), np.float64(rot[c, 1]), np.float64(rot[c, 2])
            # Rigid rows of coordinate c as A @ X + const: scale R[c].X,
            # rotation s (X x R[c]), translation e_c (ComputeJacobian).
            amat[0, 0], amat[0, 1], amat[0, 2] = r0, r1, r2
            amat[1, 0], amat[1, 1], amat[1, 2] = 0.0, s * r2, -s * r1
            amat[2, 0], amat[2, 1], amat[2, 2] = -s * r2, 0.0, s * r0
            amat[3, 0], amat[3, 1], amat[3, 2] = s * r1, -s * r0, 0.0
            for k1 in range(6):
                const1 = 1.0 if k1 == 4 + c else 0.0
                ax1 = amat[k1, 0] * xs[0] + amat[k1, 1] * xs[1] + amat[k1, 2] * xs[2]
                g[k1] += (
                    amat[k1, 0] * xr[c, 0] + amat[k1, 1] * xr[c, 1] + amat[k1, 2] * xr[c, 2]
                    + const1 * rs[c]
                )
                for k2 in range(6):
                    const2 = 1.0 if k2 == 4 + c else 0.0
                    ax2 = amat[k2, 0] * xs[0] + amat[k2, 1] * xs[1] + amat[k2, 2] * xs[2]
                    axx = 0.0
                    for b in range(3):
                        for e in range(3):
                            axx += amat[k1, b] * xx[b, e] * amat[k2, e]
                    h[k1, k2] += axx + ax1 * const2 + const1 * ax2 + n * const1 * const2
                # Rigid-nonrigid block: s sum_a R[c, a] (A q[:, a] + const comp_sum[a]).
                for a in range(3):
                    w = s * rot[c, a]
                    for l in range(m):
                        row[l] = const1 * comp_sum[a, l]
                    for b in range(3):
                        coef = amat[k1, b]
                        if coef != 0.0:
                            for l in range(m):
                                row[l] += coef * q[b, a, l]
                    for l in range(m):
                        h[k1, 6 + l] += w * row[l]
        # Non-rigid block: s^2 sum_ab P_ab gram[a, b].
        for a in range(3):
            for b in range(3):
                w = s * s * proj[a, b]
                for k in range(m):
                    for l in range(m):
                        h[6 + k, 6 + l] += w * gram[a, b, k, l]
        # Non-rigid gradient: s sum_i sum_a (sum_c R[c, a] r_ic) V_i[a].
        for i in range(n):
            for a in range(3):
                w = s * (rot[0, a] * residual[i, 0] + rot[1, a] * residual[i, 1])
                for l in range(m):
                    g[6 + l] += w * comps[i, a, l]
        for k in range(6):
            for l in range(m):
                h[6 + l, k] = h[k, 6 + l]
        # float32 system as OpenFace holds it, plus the prior.
        for k in range(p):
            for l in range(p):
                h[k, l] = np.float64(f32(h[k, l]))
            h[k, k] += prior[k]
            g[k] = np.float64(f32(g[k]))
        for k in range(m):
            g[6 + k] -= f32(np.float64(prior[6 + k]) * np.float64(local[k]))

        # --- Cholesky solve (right-looking U^T U, rows contiguous), float64 ---
        singular = False
        for k in range(p):
            d = h[k, k]
            if d <= 0.0:
                singular = True
                break
            d = math.sqrt(d)
            h[k, k] = d
            for j in range(k + 1, p):
                h[k, j] /= d
            for i in range(k + 1, p):
                w = h[k, i]
                for j in range(i, p):
                    h[i, j] -= w * h[k, j]
        if singular:
            break
        for i in range(p):
            v = g[i]
            for k in range(i):
                v -= h[k, i] * g[k]
            g[i] = v / h[i, i]
        for i in range(p - 1, -1, -1):
            v = g[i]
            for k in range(i + 1, p):
                v -= h[i, k] * g[k]
            g[i] = v / h[i, i]
        for k in range(p):
            delta[k] = step * f32(g[k])

        # --- PDM::UpdateModelParameters ---
        glob[0] += delta[0]
        glob[4] += delta[4]
        glob[5] += delta[5]
        glob[1], glob[2], glob[3] = _update_rotation(
            rot, np.float64(delta[1]), np.float64(delta[2]), np.float64(delta[3]), work
        )
        for k in range(m):
            local[k] += delta[6 + k]
        _euler_to_matrix(glob[1], glob[2], glob[3], rot)

        # OpenFace measures the new error with the step's starting shape (the
        # non-rigid update not yet applied) under the new global parameters.
        s = np.float64(glob[0])
        acc = 0.0
        for i in range(n):
            for c in range(2):
                dot = (
                    np.float64(shape[i, 0]) * rot[c, 0]
                    + np.float64(shape[i, 1]) * rot[c, 1]
                    + np.float64(shape[i, 2]) * rot[c, 2]
                )
                d = np.float64(f32(f32(dot * s) + glob[4 + c]) - target[i, c])
                acc += d * d
        new_error = f32(math.sqrt(acc))
        if 0.999 * np.float64(error) < np.float64(new_error):
            not_improved += 1
            if not_improved == patience:
                break
        error = new_error
    return glob, local, iterations
