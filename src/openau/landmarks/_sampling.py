"""Bilinear image sampling exactly as OpenCV 4 (the version OpenFace 2.2 runs on) does it.

Numba kernels, loaded on first use. OpenFace samples the image twice in
landmark fitting: ``cv::warpAffine`` cuts the patch-expert search areas out of
the image, and ``cv::remap`` warps the face for the detection validator.
OpenCV does not interpolate at the exact source position: it quantises each
position to 1/32 pixel (``INTER_BITS = 5``) and reads the bilinear weights
from a table; ``warpAffine`` first computes positions in 10-bit fixed point.
A patch response moves measurably when a sample moves by 1/64 pixel, so these
kernels reproduce the quantisation instead of interpolating exactly, and do
not depend on the installed OpenCV's routines. Pixels outside the source read
as 0 (``BORDER_CONSTANT``), as in OpenFace.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from openau.geometry._kernels import JIT_OPTIONS

INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS
_AB_SCALE = 1024.0  # warpAffine's fixed point: AB_BITS = 10
_SHIFT = 5  # AB_BITS - INTER_BITS
_ROUND_DELTA = 16  # AB_SCALE / INTER_TAB_SIZE / 2: rounds to the nearest 1/32


@njit(**JIT_OPTIONS)
def _bilinear(image, sx, sy):
    """OpenCV's float ``remapBilinear`` at a position in 1/32 pixel, zero border."""
    height, width = image.shape
    ix = sx >> INTER_BITS
    iy = sy >> INTER_BITS
    inv = np.float32(1.0 / INTER_TAB_SIZE)
    fx = np.float32(sx & (INTER_TAB_SIZE - 1)) * inv
    fy = np.float32(sy & (INTER_TAB_SIZE - 1)) * inv
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
    # OpenCV's table products and left-to-right float sum.
    return v00 * (gy * gx) + v01 * (gy * fx) + v10 * (fy * gx) + v11 * (fy * fx)


@njit(**JIT_OPTIONS)
def warp_affine(image, mat, out):
    """``cv::warpAffine(image, out, mat, WARP_INVERSE_MAP | INTER_LINEAR)`` of a float image.

    Parameters
    ----------
    image : (H, W) float32
    mat : (2, 3) float64
        Output pixel to source position (OpenCV takes the matrix in double).
    out : (h, w) float32
        Filled.
    """
    width = out.shape[1]
    warp_affine_into(image, mat, out, np.empty(width, np.int64), np.empty(width, np.int64))


@njit(**JIT_OPTIONS)
def warp_affine_into(image, mat, out, adelta, bdelta):
    """:func:`warp_affine` with scratch ``adelta``, ``bdelta`` (w,) int64 from the caller."""
    out_h, out_w = out.shape
    height, width = image.shape
    # OpenCV's fixed point: a per-column and a per-row offset, summed and
    # shifted to 1/32 pixel.
    for x in range(out_w):
        adelta[x] = np.int64(np.rint(mat[0, 0] * x * _AB_SCALE))
        bdelta[x] = np.int64(np.rint(mat[1, 0] * x * _AB_SCALE))
    # Usually the whole area lies inside the image: then skip the border
    # tests. Positions are monotonic along each axis, so the corners bound them.
    inside = True
    for y in (0, out_h - 1):
        x0 = np.int64(np.rint((mat[0, 1] * y + mat[0, 2]) * _AB_SCALE)) + _ROUND_DELTA
        y0 = np.int64(np.rint((mat[1, 1] * y + mat[1, 2]) * _AB_SCALE)) + _ROUND_DELTA
        for x in (0, out_w - 1):
            ix = ((x0 + adelta[x]) >> _SHIFT) >> INTER_BITS
            iy = ((y0 + bdelta[x]) >> _SHIFT) >> INTER_BITS
            if ix < 0 or iy < 0 or ix + 1 >= width or iy + 1 >= height:
                inside = False
    inv = np.float32(1.0 / INTER_TAB_SIZE)
    for y in range(out_h):
        x0 = np.int64(np.rint((mat[0, 1] * y + mat[0, 2]) * _AB_SCALE)) + _ROUND_DELTA
        y0 = np.int64(np.rint((mat[1, 1] * y + mat[1, 2]) * _AB_SCALE)) + _ROUND_DELTA
        if not inside:
            for x in range(out_w):
                out[y, x] = _bilinear(image, (x0 + adelta[x]) >> _SHIFT, (y0 + bdelta[x]) >> _SHIFT)
            continue
        for x in range(out_w):
            px = (x0 + adelta[x]) >> _SHIFT
            py = (y0 + bdelta[x]) >> _SHIFT
            ix = px >> INTER_BITS
            iy = py >> INTER_BITS
            fx = np.float32(px & (INTER_TAB_SIZE - 1)) * inv
            fy = np.float32(py & (INTER_TAB_SIZE - 1)) * inv
            gx = np.float32(1) - fx
            gy = np.float32(1) - fy
            out[y, x] = (
                image[iy, ix] * (gy * gx)
                + image[iy, ix + 1] * (gy * fx)
                + image[iy + 1, ix] * (fy * gx)
                + image[iy + 1, ix + 1] * (fy * fx)
            )


@njit(**JIT_OPTIONS)
def remap(image, map_x, map_y, out):
    """``cv::remap(image, out, map_x, map_y, INTER_LINEAR)`` of a float image.

    Parameters
    ----------
    image : (H, W) float32
    map_x, map_y : (h, w) float32
        Source position of every output pixel.
    out : (h, w) float32
        Filled.
    """
    scale = np.float32(INTER_TAB_SIZE)
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            sx = np.int64(np.rint(map_x[y, x] * scale))
            sy = np.int64(np.rint(map_y[y, x] * scale))
            out[y, x] = _bilinear(image, sx, sy)


@njit(**JIT_OPTIONS)
def piecewise_affine_warp(
    image, landmarks, triangles, triangle_id, mask, alpha, beta, min_x, min_y, out
):
    """OpenFace's ``PAW::Warp``: per-triangle affine maps, then ``cv::remap``.

    Parameters
    ----------
    image : (H, W) float32
    landmarks : (n, 2) float32
        Source landmarks in ``image`` coordinates.
    triangles : (t, 3) int32
    triangle_id : (h, w) int32
    mask : (h, w) bool
    alpha, beta : (t, 3) float32
        Barycentric coefficients of the destination triangles.
    min_x, min_y : float32
        Destination coordinates of output pixel (0, 0).
    out : (h, w) float32
        Filled (0 outside the mask).
    """
    n_tri = triangles.shape[0]
    coeff = np.empty((n_tri, 6), np.float32)
    for t in range(n_tri):
        i, j, k = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        c1 = landmarks[i, 0]
        c2 = landmarks[j, 0] - c1
        c3 = landmarks[k, 0] - c1
        c4 = landmarks[i, 1]
        c5 = landmarks[j, 1] - c4
        c6 = landmarks[k, 1] - c4
        coeff[t, 0] = c1 + c2 * alpha[t, 0] + c3 * beta[t, 0]
        coeff[t, 1] = c2 * alpha[t, 1] + c3 * beta[t, 1]
        coeff[t, 2] = c2 * alpha[t, 2] + c3 * beta[t, 2]
        coeff[t, 3] = c4 + c5 * alpha[t, 0] + c6 * beta[t, 0]
        coeff[t, 4] = c5 * alpha[t, 1] + c6 * beta[t, 1]
        coeff[t, 5] = c5 * alpha[t, 2] + c6 * beta[t, 2]
    scale = np.float32(INTER_TAB_SIZE)
    for y in range(out.shape[0]):
        yi = np.float32(y) + min_y
        for x in range(out.shape[1]):
            if not mask[y, x]:
                out[y, x] = 0
                continue
            xi = np.float32(x) + min_x
            c = coeff[triangle_id[y, x]]
            src_x = (c[0] + c[1] * xi) + c[2] * yi
            src_y = (c[3] + c[4] * xi) + c[5] * yi
            sx = np.int64(np.rint(src_x * scale))
            sy = np.int64(np.rint(src_y * scale))
            out[y, x] = _bilinear(image, sx, sy)
