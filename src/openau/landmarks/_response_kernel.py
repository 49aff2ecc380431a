"""Numba kernel of the CCNF patch responses of every landmark's search area.

Called by the scale kernel (:func:`openau.landmarks._kernels.fit_scale`). For
each visible landmark it samples the search area from the image exactly as
OpenCV's ``warpAffine`` (10-bit fixed-point positions, 1/32-pixel bilinear
weights, zero border; see :mod:`openau.landmarks._sampling`), then for every
search offset normalises the sub-patch (mean 0, norm 1), sums the neurons'
scaled sigmoids and smooths the map with the CCNF covariance. One landmark's
im2col matrix lives in cache at a time.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from openau.geometry._kernels import JIT_OPTIONS
from openau.landmarks._sampling import warp_affine_into

# Cephes' single-precision exp: ln 2 split in two, and the minimax polynomial.
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_EXP_POLY = (
    np.float32(1.9875691500e-4),
    np.float32(1.3981999507e-3),
    np.float32(8.3334519073e-3),
    np.float32(4.1665795894e-2),
    np.float32(1.6666665459e-1),
    np.float32(5.0000001201e-1),
)


@njit(**JIT_OPTIONS)
def _exp_neg(x, out, bits):
    """``out = exp(-x)`` (float32, within 1.4 ulp of exact), in loops that vectorise.

    OpenFace takes the sigmoid's exponential from libm; a call per value would
    dominate this kernel, and 1-ulp differences are below the float32 rounding
    of the sums that follow.
    """
    c0, c1, c2, c3, c4, c5 = _EXP_POLY
    for i in range(x.shape[0]):
        v = min(max(-x[i], np.float32(-87.3)), np.float32(88.0))
        k = np.floor(v * _LOG2E + np.float32(0.5))
        r = v - k * _LN2_HI - k * _LN2_LO
        p = ((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5
        out[i] = p * (r * r) + r + np.float32(1)
        bits[i] = (np.int32(k) + np.int32(127)) << 23
    scale = bits.view(np.float32)
    for i in range(x.shape[0]):
        out[i] *= scale[i]


@njit(fastmath={"contract"}, **JIT_OPTIONS)
def _smooth(sigma_t, summed, resp):
    """``resp = Sigma @ summed``, each output a running fused multiply-add over
    the inputs in order (as OpenFace's BLAS kernel accumulates it)."""
    resp[:] = 0
    for q in range(summed.shape[0]):
        v = summed[q]
        for o in range(resp.shape[0]):
            resp[o] += sigma_t[q, o] * v


@njit(**JIT_OPTIONS)
def _neuron_products(weights, k, cols, out):
    """``out[o] = sum_p weights[p, k] * cols[p, o]``, summed over ``p`` in order.

    Eight patch pixels are taken per pass over the offsets, so that each
    partial sum is loaded and stored once per eight products instead of once
    per product (the order of the additions, and so the float32 result, is
    unchanged).
    """
    size, n_off = cols.shape
    for o in range(n_off):
        out[o] = 0
    p = 0
    while p + 8 <= size:
        w0, w1, w2, w3 = weights[p, k], weights[p + 1, k], weights[p + 2, k], weights[p + 3, k]
        w4, w5, w6, w7 = weights[p + 4, k], weights[p + 5, k], weights[p + 6, k], weights[p + 7, k]
        c0, c1, c2, c3 = cols[p], cols[p + 1], cols[p + 2], cols[p + 3]
        c4, c5, c6, c7 = cols[p + 4], cols[p + 5], cols[p + 6], cols[p + 7]
        for o in range(n_off):
            acc = out[o] + w0 * c0[o]
            acc = acc + w1 * c1[o]
            acc = acc + w2 * c2[o]
            acc = acc + w3 * c3[o]
            acc = acc + w4 * c4[o]
            acc = acc + w5 * c5[o]
            acc = acc + w6 * c6[o]
            out[o] = acc + w7 * c7[o]
        p += 8
    while p < size:
        w = weights[p, k]
        c = cols[p]
        for o in range(n_off):
            out[o] += w * c[o]
        p += 1


@njit(**JIT_OPTIONS)
def ccnf_responses(
    image, mats, index, side, patch_h, patch_w, window, weights, biases, alphas2, sigmas_t, out
):
    """CCNF response maps of every landmark at every search offset.

    Parameters
    ----------
    image : (H, W) float32
    mats : (v, 2, 3) float64
        Per visible landmark, the map from search-area pixels to image pixels.
    index : (v,) int64
        The visible landmarks' indices (rows of ``out``).
    side : int
        Search-area side, ``window + patch - 1``.
    patch_h, patch_w : int
    window : int
    weights : (v, patch_h * patch_w, k) float32
        Neuron weights (times norm weights), patch pixels row-major.
    biases : (v, k) float32
    alphas2 : (v, k) float32
        ``2 alpha``; 0 for skipped neurons.
    sigmas_t : (v, window^2, window^2) float32
        Transposed CCNF covariances.
    out : (n, window * window) float32
        Rows ``index`` filled with the responses ``Sigma @ sum``, shifted to be non-negative,
        offsets row-major (y, then x).

    Notes
    -----
    The sub-patches are laid out as columns of a ``patch x offsets`` matrix
    (im2col, transposed) so that every inner loop runs over offsets: the
    means, norms and neuron products then vectorise without reordering any
    sum.
    """
    n_points, size, n_neurons = weights.shape
    n_off = window * window
    area = np.empty((side, side), np.float32)
    adelta = np.empty(side, np.int64)
    bdelta = np.empty(side, np.int64)
    cols = np.empty((size, n_off), np.float32)
    mean = np.empty(n_off, np.float32)
    scale = np.empty(n_off, np.float32)
    pre = np.empty((n_neurons, n_off), np.float32)
    summed = np.empty(n_off, np.float32)
    arg = np.empty(n_off, np.float32)
    expo = np.empty(n_off, np.float32)
    bits = np.empty(n_off, np.int32)
    count = np.float32(size)
    for i in range(n_points):
        warp_affine_into(image, mats[i], area, adelta, bdelta)
        # im2col, summing each column (sub-patch) on the way.
        mean[:] = 0
        p = 0
        for yy in range(patch_h):
            for xx in range(patch_w):
                for oy in range(window):
                    row = area[oy + yy]
                    base = oy * window
                    for ox in range(window):
                        v = row[ox + xx]
                        cols[p, base + ox] = v
                        mean[base + ox] += v
                p += 1
        for o in range(n_off):
            mean[o] = mean[o] / count
        # Contrast normalisation: mean 0, then divide by the L2 norm (1 if 0).
        scale[:] = 0
        for p in range(size):
            for o in range(n_off):
                d = cols[p, o] - mean[o]
                cols[p, o] = d
                scale[o] += d * d
        for o in range(n_off):
            norm = np.float32(math.sqrt(scale[o]))
            scale[o] = np.float32(1.0 / norm) if norm != 0 else np.float32(1)
        # Neuron pre-activations: weights . normalised patch (+ bias below).
        for k in range(n_neurons):
            if alphas2[i, k] != 0:
                _neuron_products(weights[i], k, cols, pre[k])
        # The neurons' scaled sigmoids, summed neuron by neuron.
        summed[:] = 0
        for k in range(n_neurons):
            alpha2 = alphas2[i, k]
            if alpha2 == 0:
                continue
            bias = biases[i, k]
            for o in range(n_off):
                arg[o] = pre[k, o] * scale[o] + bias
            _exp_neg(arg, expo, bits)
            for o in range(n_off):
                summed[o] += alpha2 / (np.float32(1) + expo[o])
        # Spatial smoothing by the edge potentials, then no negative values.
        resp = out[index[i]]
        _smooth(sigmas_t[i], summed, resp)
        low = resp.min()
        if low < 0:
            for o in range(n_off):
                resp[o] -= low
