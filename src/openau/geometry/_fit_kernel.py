"""Numba kernel of OpenFace's ``PDM::CalcParams`` (landmarks to PDM parameters).

Kept apart from :mod:`openau.geometry.pdm` so that importing the geometry
package does not import numba; :func:`openau.geometry.fit_to_landmarks` loads
this module on first use.

The parameters live in float32 as in OpenFace (``cv::Mat_<float>``); shape,
projection, rotation update and Cholesky solve are the compiled primitives
shared with the landmark fitter (:mod:`openau.geometry._kernels`). The AU
stage aligns faces with this fit's translation, where one unit in its last
place can move an aligned pixel: the translation agrees with OpenFace's to
the last bit on every frame of the reference clips. It is robust
(it converges to the landmarks' centroid, the PDM being centred), so the
normal equations may be summed in another order than OpenFace's BLAS: even a
pure float64 fit reproduces it. The non-rigid parameters agree to ~1e-4.

Speed: OpenFace forms ``J^T J`` from the full ``(2n, 6 + m)`` Jacobian (about
110 000 multiply-adds per step). Here the normal equations are assembled from
moments of the model computed once per model and visibility pattern
(:func:`_moments`, kept by the caller): the non-rigid block is ``s^2 sum_ab P_ab G_ab`` with
``P = R[:2]^T R[:2]`` and ``G_ab = sum_i V_i[a]^T V_i[b]``, and the mixed block
uses ``sum_i X_i[b] V_i[a]``, which is linear in the non-rigid parameters. The
sums are the same; only their float rounding differs (float64 here, with
``fastmath`` letting LLVM vectorise the loops).

Compile and load time matter (users wait for them): :func:`fit` is the only
entry point (each entry point is loaded from numba's cache separately), and
the kernel avoids array methods and slice assignments, which pull in numba
machinery; a cold compile takes about 10-20 s, later runs load it from cache.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from openau.geometry._kernels import (
    JIT_OPTIONS,
    cholesky_solve,
    euler_to_matrix,
    project_point,
    shape_3d,
    update_rotation,
)

_F32 = np.float32


@njit(**JIT_OPTIONS)
def _moments(mean, comps, gram, comp_sum, mean_comp):
    """Add the model moments for the normal equations (float64) to zeroed arrays.

    gram : (3, 3, m, m)
        ``gram[a, b] = sum_i V_i[a]^T V_i[b]``, ``V_i`` the ``(3, m)``
        components of point i.
    comp_sum : (3, m)
        ``sum_i V_i[a]``.
    mean_comp : (3, 3, m)
        ``mean_comp[b, a] = sum_i mean_i[b] V_i[a]``.
    """
    n, _, m = comps.shape
    for i in range(n):
        for a in range(3):
            for k in range(m):
                va = np.float64(comps[i, a, k])
                comp_sum[a, k] += va
                for b in range(3):
                    mean_comp[b, a, k] += np.float64(mean[i, b]) * va
                    for l in range(m):
                        gram[a, b, k, l] += va * comps[i, b, l]


@njit(fastmath=True, **JIT_OPTIONS)
def fit(
    mean, comps, comps_t, eigenvalues, gram, comp_sum, mean_comp, have_moments, target,
    rotation, regularise, step, max_iterations, patience,
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
        Moments of ``mean`` and ``comps`` (see :func:`_moments`) for the
        normal equations; unless ``have_moments``, zeros that are filled first.
    have_moments : bool
        The moments arrays already hold the moments of this model (they
        depend only on the model and visibility, so callers keep them).
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
    if not have_moments:
        _moments(mean, comps, gram, comp_sum, mean_comp)

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
    h32 = np.empty((p, p), f32)
    g32 = np.empty(p, f32)
    x32 = np.empty(p, f32)

    euler_to_matrix(glob[1], glob[2], glob[3], rot)
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
        shape_3d(mean, comps_t, local, shape64, shape)
        # Residual of the weak-perspective projection.
        for i in range(n):
            for c in range(2):
                projected = project_point(shape, i, c, glob, rot)
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
        # Non-rigid block: s^2 sum_ab P_ab gram[a, b]. The Cholesky reads the
        # lower triangle only (the system is symmetric), so only it is formed.
        for a in range(3):
            for b in range(3):
                w = s * s * proj[a, b]
                for k in range(m):
                    for l in range(k + 1):
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
        # The float32 system OpenFace holds (J^T J + Lambda, J^T r - Lambda p),
        # solved by OpenCV's Cholesky.
        for k in range(p):
            for l in range(k + 1):
                h32[k, l] = f32(h[k, l])
            h32[k, k] += prior[k]
            g32[k] = f32(g[k])
        for k in range(m):
            g32[6 + k] -= f32(np.float64(prior[6 + k]) * np.float64(local[k]))
        if not cholesky_solve(h32, g32, x32):
            break
        for k in range(p):
            delta[k] = step * x32[k]

        # --- PDM::UpdateModelParameters ---
        glob[0] += delta[0]
        glob[4] += delta[4]
        glob[5] += delta[5]
        glob[1], glob[2], glob[3] = update_rotation(
            rot, np.float64(delta[1]), np.float64(delta[2]), np.float64(delta[3]), work
        )
        for k in range(m):
            local[k] += delta[6 + k]
        euler_to_matrix(glob[1], glob[2], glob[3], rot)

        # OpenFace measures the new error with the step's starting shape (the
        # non-rigid update not yet applied) under the new global parameters.
        acc = 0.0
        for i in range(n):
            for c in range(2):
                d = np.float64(project_point(shape, i, c, glob, rot) - target[i, c])
                acc += d * d
        new_error = f32(math.sqrt(acc))
        if 0.999 * np.float64(error) < np.float64(new_error):
            not_improved += 1
            if not_improved == patience:
                break
        error = new_error
    return glob, local, iterations
