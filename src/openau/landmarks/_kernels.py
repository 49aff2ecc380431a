"""Numba kernel of one NU-RLMS pass (OpenFace's ``CLNF::NU_RLMS``).

Kept apart from :mod:`openau.landmarks.fitting` so that importing the package
does not import numba; the fitting module loads this one on first use.

A pass runs up to five iterations of projection, Jacobian, mean-shift on the
response maps and a regularised Gauss-Newton step; done in numpy, the many
small array calls cost far more than the arithmetic, so the whole pass is one
compiled loop. The arithmetic keeps OpenFace's float32 storage; sums that
OpenCV's small-matrix products accumulate in double are accumulated in double.

The PDM pieces needed inside the loop (projection, Jacobian rows, the rotation
update) mirror :mod:`openau.geometry.pdm`, which stays the reference
implementation; they are compiled here because numba cannot call numpy-level
functions from a compiled loop.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Cached compilation; C semantics for floating-point errors (NaN or inf, not
# exceptions), as in OpenFace.
_JIT = {"cache": True, "error_model": "numpy"}

_F32 = np.float32
#: A pass stops when the shape moves less than this (pixels, L2 over all points).
CONVERGENCE = 0.01


@njit(**_JIT)
def _euler_to_matrix(rx, ry, rz):
    """OpenFace's ``Euler2RotationMatrix``: sines in double, stored as float32."""
    s1 = np.float32(math.sin(rx))
    s2 = np.float32(math.sin(ry))
    s3 = np.float32(math.sin(rz))
    c1 = np.float32(math.cos(rx))
    c2 = np.float32(math.cos(ry))
    c3 = np.float32(math.cos(rz))
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


@njit(**_JIT)
def _inverse_transpose(a):
    cof = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            i1, i2 = (i + 1) % 3, (i + 2) % 3
            j1, j2 = (j + 1) % 3, (j + 2) % 3
            cof[i, j] = a[i1, j1] * a[i2, j2] - a[i1, j2] * a[i2, j1]
    det = a[0, 0] * cof[0, 0] + a[0, 1] * cof[0, 1] + a[0, 2] * cof[0, 2]
    return cof / det


@njit(**_JIT)
def _polar(m):
    """Nearest rotation of a near-orthonormal matrix (the SVD's ``U V^T``), by Newton."""
    x = m.copy()
    for _ in range(4):
        x = (x + _inverse_transpose(x)) / 2.0
    return x


@njit(**_JIT)
def _rodrigues_vector(r):
    """OpenCV's ``Rodrigues`` (matrix to axis-angle), double precision."""
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
        t = (r[0, 0] + 1.0) * 0.5
        ax = math.sqrt(max(t, 0.0))
        t = (r[1, 1] + 1.0) * 0.5
        ay = math.sqrt(max(t, 0.0)) * (-1.0 if r[0, 1] < 0 else 1.0)
        t = (r[2, 2] + 1.0) * 0.5
        az = math.sqrt(max(t, 0.0)) * (-1.0 if r[0, 2] < 0 else 1.0)
        if abs(ax) < abs(ay) and abs(ax) < abs(az) and (r[1, 2] > 0) != (ay * az > 0):
            az = -az
        theta /= math.sqrt(ax * ax + ay * ay + az * az)
        out[0], out[1], out[2] = ax * theta, ay * theta, az * theta
        return out
    scale = 1.0 / (2.0 * s) * theta
    out[0], out[1], out[2] = rx * scale, ry * scale, rz * scale
    return out


@njit(**_JIT)
def _rodrigues_matrix(v):
    """OpenCV's ``Rodrigues`` (axis-angle to matrix), double precision."""
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
    r[0, 1] -= s * k[2]
    r[0, 2] += s * k[1]
    r[1, 0] += s * k[2]
    r[1, 2] -= s * k[0]
    r[2, 0] -= s * k[1]
    r[2, 1] += s * k[0]
    return r


@njit(**_JIT)
def _matrix_to_euler(r):
    """OpenFace's ``RotationMatrix2Euler`` (float32 quaternion)."""
    q0 = np.float32(math.sqrt(np.float32(1) + r[0, 0] + r[1, 1] + r[2, 2]) / 2.0)
    four = np.float32(4) * q0
    q1 = (r[2, 1] - r[1, 2]) / four
    q2 = (r[0, 2] - r[2, 0]) / four
    q3 = (r[1, 0] - r[0, 1]) / four
    t1 = np.float32(2) * (q0 * q2 + q1 * q3)
    t1 = min(max(t1, np.float32(-1)), np.float32(1))
    yaw = np.float32(math.asin(t1))
    pitch = np.float32(
        math.atan2(np.float32(2) * (q0 * q1 - q2 * q3), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3)
    )
    roll = np.float32(
        math.atan2(np.float32(2) * (q0 * q3 - q1 * q2), q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3)
    )
    return pitch, yaw, roll


@njit(**_JIT)
def _update_global(glob, delta):
    """OpenFace's ``PDM::UpdateModelParameters`` for the global parameters."""
    out = glob.copy()
    out[0] += delta[0]
    out[4] += delta[4]
    out[5] += delta[5]
    r1 = _euler_to_matrix(glob[1], glob[2], glob[3])
    small = np.eye(3)
    wx, wy, wz = np.float64(delta[1]), np.float64(delta[2]), np.float64(delta[3])
    small[0, 1], small[0, 2] = -wz, wy
    small[1, 0], small[1, 2] = wz, -wx
    small[2, 0], small[2, 1] = -wy, wx
    r2 = _polar(small).astype(np.float32)
    r3 = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            acc = np.float32(0)
            for k in range(3):
                acc += r1[i, k] * r2[k, j]
            r3[i, j] = acc
    axis = _rodrigues_vector(_polar(r3)).astype(np.float32)
    back = _rodrigues_matrix(axis.astype(np.float64)).astype(np.float32)
    pitch, yaw, roll = _matrix_to_euler(back)
    if np.isnan(pitch) or np.isnan(yaw) or np.isnan(roll):
        pitch = yaw = roll = np.float32(0)
    out[1], out[2], out[3] = pitch, yaw, roll
    return out


@njit(**_JIT)
def _shape_3d(mean, comps, local, out):
    """``mean + comps @ local`` (float32, as OpenFace's ``sgemm`` call)."""
    n, _, m = comps.shape
    for i in range(n):
        for c in range(3):
            acc = np.float32(0)
            for k in range(m):
                acc += comps[i, c, k] * local[k]
            out[i, c] = mean[i, c] + acc


@njit(**_JIT)
def _project(shape3d, glob, rot, out):
    s, tx, ty = glob[0], glob[4], glob[5]
    for i in range(shape3d.shape[0]):
        x, y, z = shape3d[i, 0], shape3d[i, 1], shape3d[i, 2]
        out[i, 0] = s * (rot[0, 0] * x + rot[0, 1] * y + rot[0, 2] * z) + tx
        out[i, 1] = s * (rot[1, 0] * x + rot[1, 1] * y + rot[1, 2] * z) + ty


@njit(**_JIT)
def _cholesky_solve(a, b):
    """Solve an SPD system like OpenCV's ``DECOMP_CHOLESKY`` (float32 factors, double sums)."""
    m = a.shape[0]
    low = a.copy()
    x = b.copy()
    for i in range(m):
        for j in range(i):
            s = np.float64(low[i, j])
            for k in range(j):
                s -= np.float64(low[i, k]) * np.float64(low[j, k])
            low[i, j] = np.float32(s * low[j, j])
        s = np.float64(low[i, i])
        for k in range(i):
            t = np.float64(low[i, k])
            s -= t * t
        if s < 1.1920929e-07:
            return np.zeros(m, np.float32)
        low[i, i] = np.float32(1.0 / math.sqrt(s))
    for i in range(m):
        s = np.float64(x[i])
        for k in range(i):
            s -= np.float64(low[i, k]) * np.float64(x[k])
        x[i] = np.float32(s * low[i, i])
    for i in range(m - 1, -1, -1):
        s = np.float64(x[i])
        for k in range(m - 1, i, -1):
            s -= np.float64(low[k, i]) * np.float64(x[k])
        x[i] = np.float32(s * low[i, i])
    return x


@njit(**_JIT)
def _mean_shift(responses, dx_in, dy_in, visible, table, stride, out):
    """Kernel mean-shift on each response map, kernels looked up on a 0.1 grid."""
    n, window, _ = responses.shape
    step = np.float32(0.1)
    upper = np.float32(window) - step
    for i in range(n):
        if not visible[i]:
            out[i, 0] = 0
            out[i, 1] = 0
            continue
        dx = dx_in[i]
        dy = dy_in[i]
        if dx < 0:
            dx = np.float32(0)
        if dy < 0:
            dy = np.float32(0)
        dx = min(dx, upper)
        dy = min(dy, upper)
        row = int(np.float64(dx / step) + 0.5)
        col = int(np.float64(dy / step) + 0.5)
        kde = table[row * stride + col]
        mx = np.float32(0)
        my = np.float32(0)
        total = np.float32(0)
        p = 0
        for ii in range(window):
            for jj in range(window):
                v = responses[i, ii, jj] * kde[p]
                p += 1
                total += v
                mx += v * np.float32(jj)
                my += v * np.float32(ii)
        out[i, 0] = mx / total - dx
        out[i, 1] = my / total - dy


@njit(**_JIT)
def _likelihood(responses, dxs, dys, visible, sigma):
    n, window, _ = responses.shape
    sigma2 = np.float64(sigma * sigma)
    loglhood = np.float32(0)
    count = 0
    for i in range(n):
        if not visible[i]:
            continue
        count += 1
        total = np.float32(0)
        for ii in range(window):
            vx = (dys[i] - np.float32(ii)) * (dys[i] - np.float32(ii))
            for jj in range(window):
                vy = (dxs[i] - np.float32(jj)) * (dxs[i] - np.float32(jj))
                kernel = math.exp(-0.5 * np.float64(vx + vy) / sigma2)
                total += np.float32(responses[i, ii, jj] * kernel)
        loglhood = np.float32(loglhood + math.log(np.float64(total) + 1e-8))
    return np.float32(loglhood / count)


@njit(fastmath=True, **_JIT)
def _gram(a, b, out):
    """``out = a @ b.T`` for ``(p, r)`` float32 rows (sums reordered for SIMD)."""
    p, r = a.shape
    for k in range(p):
        for j in range(k, p):
            acc = np.float32(0)
            for t in range(r):
                acc += a[k, t] * b[j, t]
            out[k, j] = acc
            out[j, k] = acc


@njit(**_JIT)
def _pass(
    mean,
    comps,
    eigenvalues,
    glob_in,
    local_in,
    responses,
    base_shape,
    img_to_ref,
    ref_to_img,
    visible,
    weights,
    table,
    stride,
    rigid,
    reg_factor,
    sigma,
    iterations,
    compute_likelihood,
):
    """One NU-RLMS pass (rigid or not) from ``glob_in``, ``local_in``.

    Returns
    -------
    glob : (6,) float32
    local : (m,) float32
    likelihood : float32
        0 unless ``compute_likelihood``.
    """
    n, _, m = comps.shape
    p = 6 if rigid else 6 + m
    window = responses.shape[1]
    centre = np.float32((window - 1) // 2)
    glob = glob_in.copy()
    local = local_in.copy()
    limits = np.empty(m, np.float32)
    prior = np.zeros(m, np.float32)
    for k in range(m):
        limits[k] = np.float32(3) * np.float32(math.sqrt(eigenvalues[k]))
        prior[k] = reg_factor / eigenvalues[k]

    shape3d = np.empty((n, 3), np.float32)
    shape = np.empty((n, 2), np.float32)
    previous = np.empty((n, 2), np.float32)
    dxs = np.zeros(n, np.float32)
    dys = np.zeros(n, np.float32)
    shifts = np.empty((n, 2), np.float32)
    jt = np.zeros((p, 2 * n), np.float32)
    jwt = np.zeros((p, 2 * n), np.float32)
    vec = np.zeros(2 * n, np.float32)
    wcol = np.zeros(2 * n, np.float32)
    for i in range(n):
        if visible[i]:
            wcol[2 * i] = weights[i]
            wcol[2 * i + 1] = weights[i]
    computed = False

    for it in range(iterations):
        _shape_3d(mean, comps, local, shape3d)
        rot = _euler_to_matrix(glob[0 + 1], glob[2], glob[3])
        _project(shape3d, glob, rot, shape)
        if it > 0:
            moved = 0.0
            for i in range(n):
                for c in range(2):
                    d = np.float64(shape[i, c]) - np.float64(previous[i, c])
                    moved += d * d
            if math.sqrt(moved) < CONVERGENCE:
                break
        previous[:, :] = shape

        # Offsets from the maps' centres, in the reference frame.
        for i in range(n):
            ox = np.float64(shape[i, 0] - base_shape[i, 0])
            oy = np.float64(shape[i, 1] - base_shape[i, 1])
            dxs[i] = np.float32(ox * img_to_ref[0, 0] + oy * img_to_ref[0, 1]) + centre
            dys[i] = np.float32(ox * img_to_ref[1, 0] + oy * img_to_ref[1, 1]) + centre
        computed = True
        _mean_shift(responses, dxs, dys, visible, table, stride, shifts)

        # Jacobian (transposed, one column per coordinate) and the mean-shift
        # vector in the image frame; invisible landmarks get zero weight.
        s = glob[0]
        for i in range(n):
            msx = np.float64(shifts[i, 0])
            msy = np.float64(shifts[i, 1])
            vec[2 * i] = np.float32(msx * ref_to_img[0, 0] + msy * ref_to_img[0, 1])
            vec[2 * i + 1] = np.float32(msx * ref_to_img[1, 0] + msy * ref_to_img[1, 1])
            x, y, z = shape3d[i, 0], shape3d[i, 1], shape3d[i, 2]
            for c in range(2):
                col = 2 * i + c
                r1, r2, r3 = rot[c, 0], rot[c, 1], rot[c, 2]
                jt[0, col] = x * r1 + y * r2 + z * r3
                jt[1, col] = s * (y * r3 - z * r2)
                jt[2, col] = -s * (x * r3 - z * r1)
                jt[3, col] = s * (x * r2 - y * r1)
                jt[4, col] = np.float32(1) if c == 0 else np.float32(0)
                jt[5, col] = np.float32(0) if c == 0 else np.float32(1)
                if not rigid:
                    for k in range(m):
                        jt[6 + k, col] = s * (
                            r1 * comps[i, 0, k] + r2 * comps[i, 1, k] + r3 * comps[i, 2, k]
                        )
        for k in range(p):
            for col in range(2 * n):
                jwt[k, col] = jt[k, col] * wcol[col]
        hessian = np.empty((p, p), np.float32)
        _gram(jwt, jt, hessian)
        grad = np.zeros(p)
        for k in range(p):
            acc = 0.0
            for col in range(2 * n):
                acc += np.float64(jwt[k, col]) * np.float64(vec[col])
            grad[k] = acc
        rhs = np.empty(p, np.float32)
        for k in range(p):
            rhs[k] = np.float32(grad[k])
        if not rigid:
            for k in range(m):
                rhs[6 + k] -= np.float32(prior[k] * local[k])
                hessian[6 + k, 6 + k] += prior[k]
        delta = _cholesky_solve(hessian, rhs)
        glob = _update_global(glob, delta)
        if not rigid:
            for k in range(m):
                local[k] += delta[6 + k]
        for k in range(m):
            if abs(local[k]) > limits[k]:
                local[k] = limits[k] if local[k] > 0 else -limits[k]

    likelihood = np.float32(0)
    if compute_likelihood and computed:
        likelihood = _likelihood(responses, dxs, dys, visible, sigma)
    return glob, local, likelihood


@njit(**_JIT)
def nu_rlms(
    mean,
    comps,
    eigenvalues,
    glob,
    local,
    responses,
    base_shape,
    img_to_ref,
    ref_to_img,
    visible,
    weights,
    table,
    stride,
    reg_factor,
    sigma,
    iterations,
    last_scale,
    likelihood_below,
):
    """NU-RLMS at one scale: a rigid pass, then a pass over all parameters.

    See :func:`openau.landmarks.fitting.nu_rlms` for the arguments. The
    likelihood is computed (in the second pass) when ``last_scale`` is true
    or the rigid pass left the scale below ``likelihood_below``, as in
    OpenFace's ``CLNF::Fit``.

    Returns
    -------
    glob : (6,) float32
    local : (m,) float32
    likelihood : float32
        0 when not computed.
    computed : bool
    """
    args = (responses, base_shape, img_to_ref, ref_to_img, visible, weights, table, stride)
    glob, local, _ = _pass(
        mean, comps, eigenvalues, glob, local, *args, True, reg_factor, sigma, iterations, False
    )
    record = last_scale or glob[0] < likelihood_below
    glob, local, likelihood = _pass(
        mean, comps, eigenvalues, glob, local, *args, False, reg_factor, sigma, iterations, record
    )
    return glob, local, likelihood, record
