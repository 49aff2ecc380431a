"""Numba kernel of one CLNF scale: patch responses, then NU-RLMS (OpenFace's ``CLNF::Fit`` body).

Kept apart from :mod:`openau.landmarks.fitting` so that importing the package
does not import numba; the fitting module loads this one on first use.

:func:`fit_scale` is the landmark fitter's one compiled entry point (numba
loads every entry point from its cache separately, so there is one). For one
scale it

1. projects the current shape into the image and into the patch experts'
   reference frame and takes the similarity between them
   (``AlignShapesWithScale``);
2. computes every visible landmark's CCNF response map around its current
   position (:mod:`openau.landmarks._response_kernel`);
3. runs NU-RLMS twice on those maps: for the rigid parameters only, then for
   all parameters with the PDM prior. Each iteration projects the shape,
   takes a mean-shift step on each map under a Gaussian kernel (looked up on
   a 0.1-pixel grid), solves the regularised Gauss-Newton system
   ``(J^T W J + Lambda) dp = J^T W v - Lambda p`` and applies the update.

Done in numpy, the many small array calls cost far more than the arithmetic.
The arithmetic keeps OpenFace's float32 storage; sums that OpenCV's
small-matrix products accumulate in double are accumulated in double. The PDM
maths (shape, projection, rotation update, Cholesky solve, similarity) are
the compiled primitives of :mod:`openau.geometry._kernels`, shared with the
AU stage's ``CalcParams``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from openau.geometry._kernels import (
    JIT_OPTIONS,
    cholesky_solve,
    euler_to_matrix,
    project,
    shape_3d,
    similarity_transform,
    update_rotation,
)
from openau.landmarks._response_kernel import ccnf_responses
from openau.landmarks.fitting import KDE_STEP

#: A pass stops when the shape moves less than this (pixels, L2 over all points).
CONVERGENCE = 0.01


@njit(**JIT_OPTIONS)
def _mean_shift(responses, dx_in, dy_in, visible, table, stride, out):
    """Kernel mean-shift on each response map, kernels looked up on a 0.1 grid."""
    n, window, _ = responses.shape
    step = KDE_STEP
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


@njit(**JIT_OPTIONS)
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


@njit(fastmath=True, **JIT_OPTIONS)
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


@njit(**JIT_OPTIONS)
def _pass(
    mean,
    comps,
    comps_t,
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
    rigid,
    reg_factor,
    sigma,
    iterations,
    compute_likelihood,
):
    """One NU-RLMS pass (rigid or not), updating ``glob`` and ``local`` in place.

    Returns
    -------
    likelihood : float32
        0 unless ``compute_likelihood``.
    """
    n, _, m = comps.shape
    p = 6 if rigid else 6 + m
    window = responses.shape[1]
    centre = np.float32((window - 1) // 2)
    limits = np.empty(m, np.float32)
    prior = np.zeros(m, np.float32)
    for k in range(m):
        limits[k] = np.float32(3) * np.float32(math.sqrt(eigenvalues[k]))
        prior[k] = reg_factor / eigenvalues[k]

    rot = np.empty((3, 3), np.float32)
    work = np.empty((2, 3, 3), np.float32)
    acc3 = np.empty((n, 3))
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
    hessian = np.empty((p, p), np.float32)
    rhs = np.empty(p, np.float32)
    delta = np.empty(p, np.float32)
    for i in range(n):
        if visible[i]:
            wcol[2 * i] = weights[i]
            wcol[2 * i + 1] = weights[i]
    computed = False

    for it in range(iterations):
        shape_3d(mean, comps_t, local, acc3, shape3d)
        euler_to_matrix(glob[1], glob[2], glob[3], rot)
        project(shape3d, glob, rot, shape)
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
        _gram(jwt, jt, hessian)
        for k in range(p):
            acc = 0.0
            for col in range(2 * n):
                acc += np.float64(jwt[k, col]) * np.float64(vec[col])
            rhs[k] = np.float32(acc)
        if not rigid:
            for k in range(m):
                rhs[6 + k] -= np.float32(prior[k] * local[k])
                hessian[6 + k, 6 + k] += prior[k]
        cholesky_solve(hessian, rhs, delta)
        # PDM::UpdateModelParameters, then PDM::Clamp.
        glob[0] += delta[0]
        glob[4] += delta[4]
        glob[5] += delta[5]
        glob[1], glob[2], glob[3] = update_rotation(
            rot, np.float64(delta[1]), np.float64(delta[2]), np.float64(delta[3]), work
        )
        if not rigid:
            for k in range(m):
                local[k] += delta[6 + k]
        for k in range(m):
            if abs(local[k]) > limits[k]:
                local[k] = limits[k] if local[k] > 0 else -limits[k]

    if compute_likelihood and computed:
        return _likelihood(responses, dxs, dys, visible, sigma)
    return np.float32(0)


@njit(**JIT_OPTIONS)
def _reference_transforms(shape3d, glob, ref_scale, base, img_to_ref, ref_to_img):
    """The landmarks in the image and the similarities image <-> experts' reference frame.

    The reference frame holds the same shape unrotated at the experts' scale;
    ``ref_to_img`` is the float32 adjugate inverse of ``img_to_ref`` (what
    ``cv::Matx22f::inv`` does).
    """
    n = shape3d.shape[0]
    rot = np.empty((3, 3), np.float32)
    euler_to_matrix(glob[1], glob[2], glob[3], rot)
    project(shape3d, glob, rot, base)
    ref_glob = np.zeros(6, np.float32)
    ref_glob[0] = ref_scale
    euler_to_matrix(ref_glob[1], ref_glob[2], ref_glob[3], rot)
    reference = np.empty((n, 2), np.float32)
    project(shape3d, ref_glob, rot, reference)
    similarity_transform(base, reference, np.empty((2, n, 2), np.float32), img_to_ref)
    a, b = img_to_ref[0, 0], img_to_ref[0, 1]
    c, d = img_to_ref[1, 0], img_to_ref[1, 1]
    inv_det = np.float32(1) / np.float32(a * d - b * c)
    ref_to_img[0, 0] = d * inv_det
    ref_to_img[0, 1] = -b * inv_det
    ref_to_img[1, 0] = -c * inv_det
    ref_to_img[1, 1] = a * inv_det


@njit(**JIT_OPTIONS)
def _area_maps(base, index, ref_to_img, side, mats):
    """Affine maps (v, 2, 3) float64 from each search area's pixels to the image.

    The area is ``side x side`` pixels of the reference frame, centred on the
    landmark, with the reference frame's axes (OpenFace's
    ``Patch_experts::Response``); the float32 matrix is widened to double, as
    ``cv::warpAffine`` takes it.
    """
    a1 = ref_to_img[0, 0]
    b1 = -ref_to_img[0, 1]
    half = np.float32(side - 1.0)
    ha = a1 * half / np.float32(2)
    hb = b1 * half / np.float32(2)
    for j in range(index.shape[0]):
        i = index[j]
        mats[j, 0, 0] = a1
        mats[j, 0, 1] = -b1
        mats[j, 0, 2] = base[i, 0] - ha + hb
        mats[j, 1, 0] = b1
        mats[j, 1, 1] = a1
        mats[j, 1, 2] = base[i, 1] - ha - hb


@njit(**JIT_OPTIONS)
def fit_scale(
    image,
    mean,
    comps,
    comps_t,
    eigenvalues,
    glob,
    local,
    ref_scale,
    index,
    visible,
    patch_h,
    patch_w,
    weights,
    biases,
    alphas2,
    sigma_t,
    landmark_weights,
    table,
    stride,
    reg_factor,
    sigma,
    iterations,
    last_scale,
    likelihood_below,
    responses,
    base,
    ref_to_img,
):
    """Responses and NU-RLMS at one scale: OpenFace's ``CLNF::Fit`` for one window size.

    Parameters
    ----------
    image : (H, W) float32
        Grayscale, 0-255.
    mean, comps, comps_t, eigenvalues : float32
        The PDM: ``(n, 3)``, ``(n, 3, m)``, the same as ``(m, n, 3)``, ``(m,)``.
    glob : (6,) float32
    local : (m,) float32
        Updated in place.
    ref_scale : float32
        Scale of the experts' reference frame.
    index : (v,) int64
        The visible landmarks; ``visible`` (n,) bool says the same per landmark.
    patch_h, patch_w : int
    weights, biases, alphas2, sigma_t : float32
        The view's experts (see :class:`openau.landmarks.model.ExpertView`)
        and its transposed CCNF covariances for this window.
    landmark_weights : (n,) float32
        NU-RLMS weights (0 for invisible landmarks).
    table : (steps^2, window^2) float32
        Mean-shift kernels on the 0.1-pixel grid; ``stride`` its grid rows.
    reg_factor, sigma : float32
        Prior weight, kernel width.
    iterations : int
        Per pass; 0 computes the responses only.
    last_scale : bool
        Record the likelihood (also recorded when the rigid pass leaves the
        scale below ``likelihood_below``, as in ``CLNF::Fit``).
    responses : (n, window, window) float32
        Filled with the response maps (zeros for invisible landmarks).
    base : (n, 2) float32
        Filled with the landmarks the maps are centred on.
    ref_to_img : (2, 2) float32
        Filled with the reference-to-image similarity.

    Returns
    -------
    likelihood : float32
        0 when not recorded.
    recorded : bool
    """
    n, _, m = comps.shape
    window = responses.shape[1]
    acc3 = np.empty((n, 3))
    shape3d = np.empty((n, 3), np.float32)
    shape_3d(mean, comps_t, local, acc3, shape3d)
    img_to_ref = np.empty((2, 2), np.float32)
    _reference_transforms(shape3d, glob, ref_scale, base, img_to_ref, ref_to_img)

    side = window + max(patch_h, patch_w) - 1
    mats = np.empty((index.shape[0], 2, 3))
    _area_maps(base, index, ref_to_img, side, mats)
    maps = responses.reshape((n, window * window))
    for i in range(n):
        if not visible[i]:
            for o in range(window * window):
                maps[i, o] = 0
    ccnf_responses(
        image, mats, index, side, patch_h, patch_w, window, weights, biases, alphas2, sigma_t,
        maps,
    )

    args = (responses, base, img_to_ref, ref_to_img, visible, landmark_weights, table, stride)
    _pass(mean, comps, comps_t, eigenvalues, glob, local, *args, True, reg_factor, sigma,
          iterations, False)
    record = last_scale or glob[0] < likelihood_below
    likelihood = _pass(mean, comps, comps_t, eigenvalues, glob, local, *args, False, reg_factor,
                       sigma, iterations, record)
    return likelihood, record
