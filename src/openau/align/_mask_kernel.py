"""Numba kernel: which pixels of the aligned face lie inside the face mesh."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _same_side(x0, y0, x1, y1, x2, y2, x3, y3):
    """Whether (x0, y0) and (x1, y1) lie on the same side of the line (x2, y2)-(x3, y3).

    float32 arithmetic, points on the line count as inside: OpenFace's
    ``PAW::sameSide``.
    """
    a = (x3 - x2) * (y0 - y2) - (x0 - x2) * (y3 - y2)
    b = (x3 - x2) * (y1 - y2) - (x1 - x2) * (y3 - y2)
    return a * b >= np.float32(0)


@njit(cache=True)
def triangle_mask(points, triangles, height, width):
    """Mark the pixel centres (integer coordinates) covered by any triangle.

    Parameters
    ----------
    points : (n, 2) float32
        Triangle vertices, pixels (x, y).
    triangles : (t, 3) int32
        Vertex indices.
    height, width : int

    Returns
    -------
    (height, width) uint8
        1 inside, 0 outside. A pixel is tested against a triangle only inside
        the triangle's bounding box, as OpenFace's ``PAW::findTriangle`` does.
    """
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
        for r in range(r0, r1 + 1):
            y0 = np.float32(r)
            for c in range(c0, c1 + 1):
                if mask[r, c]:
                    continue
                x0 = np.float32(c)
                if (
                    _same_side(x0, y0, x1, y1, x2, y2, x3, y3)
                    and _same_side(x0, y0, x2, y2, x1, y1, x3, y3)
                    and _same_side(x0, y0, x3, y3, x1, y1, x2, y2)
                ):
                    mask[r, c] = 1
    return mask
