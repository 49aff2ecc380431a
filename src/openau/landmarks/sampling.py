"""Bilinear image sampling exactly as OpenCV 4 (the version OpenFace 2.2 runs on) does it.

OpenFace samples the image twice in landmark fitting: ``cv::warpAffine`` cuts
the patch-expert search areas out of the image (reproduced in
:mod:`openau.landmarks._response_kernel`), and ``cv::remap`` warps the face for
the detection validator (here). OpenCV does not interpolate at the exact
source position: it quantises each position to 1/32 pixel (``INTER_BITS = 5``)
and reads the bilinear weights from a table. A response moves measurably when
a sample moves by 1/64 pixel, so we reproduce the quantisation rather than
interpolate exactly, and do not depend on the installed OpenCV's routines.
Pixels outside the source read as 0 (``BORDER_CONSTANT``), as in OpenFace.
"""

from __future__ import annotations

import numpy as np

__all__ = ["remap"]

# OpenCV's interpolation quantisation: positions in 1/32 pixel.
INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS

_F32 = np.float32
# Bilinear weights per 1/32 fraction, as OpenCV's float table holds them.
_FRACTIONS = np.arange(INTER_TAB_SIZE, dtype=_F32) * _F32(1.0 / INTER_TAB_SIZE)
_ONE_MINUS = _F32(1) - _FRACTIONS


def _bilinear(image: np.ndarray, ix, iy, fx, fy) -> np.ndarray:
    """OpenCV's ``remapBilinear`` for a float image with a zero constant border.

    ``ix, iy`` are the integer top-left source pixels and ``fx, fy`` the
    fractions in 1/32 pixel; neighbours outside the image read as 0.
    """
    height, width = image.shape
    flat = image.reshape(-1)
    x1 = ix + 1
    y1 = iy + 1
    in_x0 = (ix >= 0) & (ix < width)
    in_x1 = (x1 >= 0) & (x1 < width)
    in_y0 = (iy >= 0) & (iy < height)
    in_y1 = (y1 >= 0) & (y1 < height)
    cx0 = np.clip(ix, 0, width - 1)
    cx1 = np.clip(x1, 0, width - 1)
    row0 = np.clip(iy, 0, height - 1) * width
    row1 = np.clip(y1, 0, height - 1) * width
    zero = _F32(0)
    v00 = np.where(in_y0 & in_x0, flat[row0 + cx0], zero)
    v01 = np.where(in_y0 & in_x1, flat[row0 + cx1], zero)
    v10 = np.where(in_y1 & in_x0, flat[row1 + cx0], zero)
    v11 = np.where(in_y1 & in_x1, flat[row1 + cx1], zero)
    wx1 = _FRACTIONS[fx]
    wx0 = _ONE_MINUS[fx]
    wy1 = _FRACTIONS[fy]
    wy0 = _ONE_MINUS[fy]
    # Same products and summation order as OpenCV (float, left to right).
    return v00 * (wy0 * wx0) + v01 * (wy0 * wx1) + v10 * (wy1 * wx0) + v11 * (wy1 * wx1)


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample an image at float positions (``cv::remap`` with ``INTER_LINEAR``).

    Parameters
    ----------
    image : (H, W) float32 ndarray
    map_x, map_y : float32 ndarray, same shape
        Source x and y of every output pixel.

    Returns
    -------
    float32 ndarray
        Shaped like ``map_x``.
    """
    scale = _F32(INTER_TAB_SIZE)
    sx = np.rint(np.asarray(map_x, dtype=_F32) * scale).astype(np.int64)
    sy = np.rint(np.asarray(map_y, dtype=_F32) * scale).astype(np.int64)
    mask = INTER_TAB_SIZE - 1
    image = np.ascontiguousarray(image, dtype=_F32)
    return _bilinear(image, sx >> INTER_BITS, sy >> INTER_BITS, sx & mask, sy & mask)
