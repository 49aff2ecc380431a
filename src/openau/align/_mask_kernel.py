"""Numba kernel: which pixels of the aligned face lie inside the face mesh.

The kernels release the GIL (``nogil``): the engine's AU thread then runs
beside the landmark thread on a machine with more than one core.
"""

from __future__ import annotations

import numpy as np
from numba import njit


#: Columns farther than this (pixels) from a triangle's edges along a row are
#: classified without the float32 test, whose rounding error near an edge is
#: far smaller (about 1e-4 px for faces of this size).
_MARGIN = 0.01
#: Below this doubled area (pixels squared) a triangle is treated as flat.
_FLAT_AREA = 1e-3


@njit(cache=True, nogil=True)
def _same_side(x0, y0, x1, y1, x2, y2, x3, y3):
    """Whether (x0, y0) and (x1, y1) lie on the same side of the line (x2, y2)-(x3, y3).

    float32 arithmetic, points on the line count as inside: OpenFace's
    ``PAW::sameSide``.
    """
    a = (x3 - x2) * (y0 - y2) - (x0 - x2) * (y3 - y2)
    b = (x3 - x2) * (y1 - y2) - (x1 - x2) * (y3 - y2)
    return a * b >= np.float32(0)


@njit(cache=True, nogil=True)
def face_mask(landmarks, warp, lifted, lift, triangles, height, width):
    """Mark the aligned-image pixels covered by the face mesh.

    Parameters
    ----------
    landmarks : (n, 2) float32
        Landmarks in the frame, pixels (x, y).
    warp : (2, 3) float32
        Frame-to-aligned affine map.
    lifted : (k,) int64
        Landmarks moved up by ``lift`` pixels after warping.
    lift : float64
    triangles : (t, 3) int32
        Vertex indices.
    height, width : int

    Returns
    -------
    (height, width) uint8
        1 inside, 0 outside. A pixel is tested against a triangle only inside
        the triangle's bounding box, as OpenFace's ``PAW::findTriangle`` does.
    """
    n = landmarks.shape[0]
    points = np.empty((n, 2), np.float32)
    for i in range(n):
        x, y = np.float64(landmarks[i, 0]), np.float64(landmarks[i, 1])
        for c in range(2):
            # OpenCV's gemm: float64 sums rounded once, then a float32 shift.
            moved = np.float32(x * warp[c, 0] + y * warp[c, 1])
            points[i, c] = moved + warp[c, 2]
    for j in range(lifted.shape[0]):
        i = lifted[j]
        points[i, 1] = np.float32(points[i, 1] - lift)
    mask = np.zeros((height, width), np.uint8)
    for t in range(triangles.shape[0]):
        j, k, l = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        x1, y1 = points[j, 0], points[j, 1]
        x2, y2 = points[k, 0], points[k, 1]
        x3, y3 = points[l, 0], points[l, 1]
        lo_x, hi_x = min(x1, x2, x3), max(x1, x2, x3)
        lo_y, hi_y = min(y1, y2, y3), max(y1, y2, y3)
        if not (hi_x >= 0 and hi_y >= 0 and lo_x <= width - 1 and lo_y <= height - 1):
            continue
        c0 = max(int(np.ceil(lo_x)), 0)
        c1 = min(int(np.floor(hi_x)), width - 1)
        r0 = max(int(np.ceil(lo_y)), 0)
        r1 = min(int(np.floor(hi_y)), height - 1)
        # Twice the signed area; a (nearly) flat triangle is tested pixel by pixel.
        area = (np.float64(x2) - x1) * (np.float64(y3) - y1) - (np.float64(x3) - x1) * (
            np.float64(y2) - y1
        )
        flat = abs(area) < _FLAT_AREA
        for r in range(r0, r1 + 1):
            y0 = np.float32(r)
            lo, hi = c0, c1
            inner_lo, inner_hi = 1, 0  # empty: every column gets the exact test
            if not flat:
                # The row's span inside the triangle, in float64. Columns more
                # than _MARGIN from its ends are inside for certain; only the
                # few near the edges need OpenFace's float32 test.
                span_lo, span_hi = np.inf, -np.inf
                for e in range(3):
                    ax, ay = (x1, y1) if e == 0 else ((x2, y2) if e == 1 else (x3, y3))
                    bx, by = (x2, y2) if e == 0 else ((x3, y3) if e == 1 else (x1, y1))
                    ay64, by64 = np.float64(ay), np.float64(by)
                    if (ay64 - r) * (by64 - r) <= 0 and ay64 != by64:
                        xr = ax + (r - ay64) * (np.float64(bx) - ax) / (by64 - ay64)
                        span_lo, span_hi = min(span_lo, xr), max(span_hi, xr)
                if span_lo > span_hi:
                    continue
                lo = max(lo, int(np.floor(span_lo - _MARGIN)))
                hi = min(hi, int(np.ceil(span_hi + _MARGIN)))
                inner_lo = int(np.ceil(span_lo + _MARGIN))
                inner_hi = int(np.floor(span_hi - _MARGIN))
            for c in range(lo, hi + 1):
                if mask[r, c]:
                    continue
                if inner_lo <= c <= inner_hi:
                    mask[r, c] = 1
                    continue
                x0 = np.float32(c)
                if (
                    _same_side(x0, y0, x1, y1, x2, y2, x3, y3)
                    and _same_side(x0, y0, x2, y2, x1, y1, x3, y3)
                    and _same_side(x0, y0, x3, y3, x1, y1, x2, y2)
                ):
                    mask[r, c] = 1
    return mask


@njit(cache=True, nogil=True)
def zero_outside(image, mask):
    """Set the pixels of ``image`` (H, W, C) uint8 where ``mask`` (H, W) is 0 to 0, in place."""
    height, width, channels = image.shape
    for r in range(height):
        for c in range(width):
            if not mask[r, c]:
                for k in range(channels):
                    image[r, c, k] = 0
