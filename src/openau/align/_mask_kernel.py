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
