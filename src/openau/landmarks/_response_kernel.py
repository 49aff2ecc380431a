"""Numba kernel of the CCNF neuron layer for every landmark's search area.

Loaded on first use by :mod:`openau.landmarks.responses`. For each landmark it
samples the search area from the image exactly as OpenCV's ``warpAffine``
(10-bit fixed-point positions, 1/32-pixel bilinear weights, zero border; see
:mod:`openau.landmarks.sampling`), then for every search offset normalises the
sub-patch (mean 0, norm 1) and sums the neurons' scaled sigmoids. One landmark's
im2col matrix lives in cache at a time.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_AB_SCALE = 1024.0  # warpAffine's 10-bit fixed point
_SHIFT = 5  # AB_BITS - INTER_BITS
_INTER_BITS = 5
_TAB = 32
_ROUND_DELTA = 16


@njit(cache=True)
def _warp_area(image, mat, side, area):
    """One ``cv::warpAffine`` (WARP_INVERSE_MAP, INTER_LINEAR, zero border) of a float image."""
    height, width = image.shape
    adelta = np.empty(side, np.int64)
    bdelta = np.empty(side, np.int64)
    for x in range(side):
        adelta[x] = np.int64(np.rint(mat[0, 0] * x * _AB_SCALE))
        bdelta[x] = np.int64(np.rint(mat[1, 0] * x * _AB_SCALE))
    inv = np.float32(1.0 / _TAB)
    for y in range(side):
        x0 = np.int64(np.rint((mat[0, 1] * y + mat[0, 2]) * _AB_SCALE)) + _ROUND_DELTA
        y0 = np.int64(np.rint((mat[1, 1] * y + mat[1, 2]) * _AB_SCALE)) + _ROUND_DELTA
        for x in range(side):
            sx = (x0 + adelta[x]) >> _SHIFT
            sy = (y0 + bdelta[x]) >> _SHIFT
            ix = sx >> _INTER_BITS
            iy = sy >> _INTER_BITS
            fx = np.float32(sx & (_TAB - 1)) * inv
            fy = np.float32(sy & (_TAB - 1)) * inv
            gx = np.float32(1) - fx
            gy = np.float32(1) - fy
            v00 = np.float32(0)
            v01 = np.float32(0)
            v10 = np.float32(0)
            v11 = np.float32(0)
            if 0 <= iy < height:
                if 0 <= ix < width:
                    v00 = image[iy, ix]
                if 0 <= ix + 1 < width:
                    v01 = image[iy, ix + 1]
            if 0 <= iy + 1 < height:
                if 0 <= ix < width:
                    v10 = image[iy + 1, ix]
                if 0 <= ix + 1 < width:
                    v11 = image[iy + 1, ix + 1]
            area[y, x] = v00 * (gy * gx) + v01 * (gy * fx) + v10 * (fy * gx) + v11 * (fy * fx)


@njit(cache=True)
def neuron_maps(image, mats, side, patch_h, patch_w, window, weights, biases, alphas2, out):
    """Summed neuron outputs of every landmark at every search offset.

    Parameters
    ----------
    image : (H, W) float32
    mats : (v, 2, 3) float64
        Per landmark, the map from search-area pixels to image pixels.
    side : int
        Search-area side, ``window + patch - 1``.
    patch_h, patch_w : int
    window : int
    weights : (v, patch_h * patch_w, k) float32
        Neuron weights (times norm weights), patch pixels row-major.
    biases : (v, k) float32
    alphas2 : (v, k) float32
        ``2 alpha``; 0 for skipped neurons.
    out : (v, window * window) float32
        Filled with the sums, offsets row-major (y, then x).

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
    cols = np.empty((size, n_off), np.float32)
    mean = np.empty(n_off, np.float32)
    scale = np.empty(n_off, np.float32)
    pre = np.empty((n_neurons, n_off), np.float32)
    count = np.float32(size)
    for i in range(n_points):
        _warp_area(image, mats[i], side, area)
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
        # Neuron pre-activations: weights . normalised patch + bias.
        pre[:, :] = 0
        for p in range(size):
            for k in range(n_neurons):
                w = weights[i, p, k]
                for o in range(n_off):
                    pre[k, o] += w * cols[p, o]
        # OpenFace evaluates the sigmoids in double; float32 changes the sum by
        # float32 rounding only and saves a third of the kernel's time.
        for o in range(n_off):
            acc = np.float32(0)
            for k in range(n_neurons):
                alpha2 = alphas2[i, k]
                if alpha2 == 0:
                    continue
                x = pre[k, o] * scale[o] + biases[i, k]
                acc += alpha2 / (np.float32(1) + np.exp(-x))
            out[i, o] = acc
