"""Numba kernel of dlib's ``extract_fhog_features`` (Felzenszwalb's 31-channel HOG).

dlib's implementation, which OpenFace calls, has two code paths whose small
differences show in OpenFace's numbers, so both are reproduced:

* pixels ``x = 1 .. x_simd - 1`` go through an 8-wide SIMD loop that works in
  float32 and, when colour channels tie for the strongest gradient, keeps the
  first channel in memory order (blue of BGR);
* the remaining pixels of each row (``x_simd .. visible - 1``) go through a
  scalar loop that works in float64 and prefers red, then green, then blue.

Everything after the gradient histograms (block energies, truncated
normalisation, texture features) is float32, as in dlib.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Unit vectors of the 9 unsigned orientations, at 20 degree steps, rounded as
# dlib (and Felzenszwalb's features.cc) write them.
_DIRECTIONS = np.array(
    [
        [1.0000, 0.0000],
        [0.9397, 0.3420],
        [0.7660, 0.6428],
        [0.5000, 0.8660],
        [0.1736, 0.9848],
        [-0.1736, 0.9848],
        [-0.5000, 0.8660],
        [-0.7660, 0.6428],
        [-0.9397, 0.3420],
    ]
)
_DIRECTIONS_F32 = _DIRECTIONS.astype(np.float32)
_N_UNSIGNED = 9
_N_SIGNED = 18
_TRUNCATION = np.float32(0.2)
_TEXTURE_WEIGHT = np.float32(2 * 0.2357)  # 0.2357 ~ 1 / sqrt(18), times 2 to undo the 0.5
_EPS = np.float32(0.0001)


@njit(cache=True)
def _gradient(image, y, x, prefer_first):
    """Central differences of the channel with the largest squared gradient."""
    n_channels = image.shape[2]
    best_gx, best_gy, best_len = 0, 0, -1
    for step in range(n_channels):
        ch = step if prefer_first else n_channels - 1 - step
        gx = np.int32(image[y, x + 1, ch]) - np.int32(image[y, x - 1, ch])
        gy = np.int32(image[y + 1, x, ch]) - np.int32(image[y - 1, x, ch])
        length = gx * gx + gy * gy
        if length > best_len:
            best_gx, best_gy, best_len = gx, gy, length
    return best_gx, best_gy, best_len


@njit(cache=True)
def fhog(image, cell_size, directions, directions_f32):
    """31-channel FHOG of a uint8 image.

    Parameters
    ----------
    image : (H, W, C) uint8
        C = 3 (BGR) or 1.
    cell_size : int
    directions : (9, 2) float64
    directions_f32 : (9, 2) float32

    Returns
    -------
    (rows, cols, 31) float32
        ``rows = round(H / cell_size) - 2`` (likewise cols): 18 contrast-
        sensitive orientations, 9 contrast-insensitive ones, 4 texture
        (gradient energy) features.
    """
    nr, nc = image.shape[0], image.shape[1]
    cells_nr = int(nr / cell_size + 0.5)
    cells_nc = int(nc / cell_size + 0.5)
    hog_nr, hog_nc = max(cells_nr - 2, 0), max(cells_nc - 2, 0)
    out = np.zeros((hog_nr, hog_nc, 31), np.float32)
    if hog_nr == 0 or hog_nc == 0:
        return out
    # One cell of padding all round, so bilinear votes need no bounds checks.
    hist = np.zeros((cells_nr + 2, cells_nc + 2, _N_SIGNED), np.float32)
    visible_nr = min(cells_nr * cell_size, nr) - 1
    visible_nc = min(cells_nc * cell_size, nc) - 1
    simd_end = 1
    while simd_end < visible_nc - 7:
        simd_end += 8
    cell_f = np.float32(cell_size)
    half_f = np.float32(0.5)

    for y in range(1, visible_nr):
        yp = (y + 0.5) / cell_size - 0.5
        iyp = int(math.floor(yp))
        vy0 = yp - iyp
        vy1 = 1.0 - vy0
        vy0_f, vy1_f = np.float32(vy0), np.float32(vy1)
        # SIMD path: float32 throughout, ties go to the first channel.
        for x in range(1, simd_end):
            gx, gy, length = _gradient(image, y, x, True)
            gx_f, gy_f = np.float32(gx), np.float32(gy)
            v = np.sqrt(np.float32(length))
            best_dot = np.float32(0)
            best_o = 0
            for o in range(_N_UNSIGNED):
                dot = gx_f * directions_f32[o, 0] + gy_f * directions_f32[o, 1]
                if dot > best_dot:
                    best_dot, best_o = dot, o
                if -dot > best_dot:
                    best_dot, best_o = -dot, o + _N_UNSIGNED
            xp = (np.float32(x) + half_f) / cell_f + half_f
            ixp = int(xp)
            vx0 = xp - np.float32(ixp)
            vx1 = np.float32(1) - vx0
            hist[iyp + 1, ixp, best_o] += vy1_f * vx1 * v
            hist[iyp + 2, ixp, best_o] += vy0_f * vx1 * v
            hist[iyp + 1, ixp + 1, best_o] += vy1_f * vx0 * v
            hist[iyp + 2, ixp + 1, best_o] += vy0_f * vx0 * v
        # Scalar path: float64, ties go to the last channel (red of BGR).
        for x in range(simd_end, visible_nc):
            gx, gy, length = _gradient(image, y, x, False)
            best_dot = 0.0
            best_o = 0
            for o in range(_N_UNSIGNED):
                dot = directions[o, 0] * gx + directions[o, 1] * gy
                if dot > best_dot:
                    best_dot, best_o = dot, o
                elif -dot > best_dot:
                    best_dot, best_o = -dot, o + _N_UNSIGNED
            v = math.sqrt(length)
            xp = (x + 0.5) / cell_size - 0.5
            ixp = int(math.floor(xp))
            vx0 = xp - ixp
            vx1 = 1.0 - vx0
            hist[iyp + 1, ixp + 1, best_o] += vy1 * vx1 * v
            hist[iyp + 2, ixp + 1, best_o] += vy0 * vx1 * v
            hist[iyp + 1, ixp + 2, best_o] += vy1 * vx0 * v
            hist[iyp + 2, ixp + 2, best_o] += vy0 * vx0 * v

    # Gradient energy of each cell, from the contrast-insensitive histogram.
    energy = np.zeros((cells_nr, cells_nc), np.float32)
    for r in range(cells_nr):
        for c in range(cells_nc):
            acc = np.float32(0)
            for o in range(_N_UNSIGNED):
                s = hist[r + 1, c + 1, o] + hist[r + 1, c + 1, o + _N_UNSIGNED]
                acc += s * s
            energy[r, c] = acc

    lane_nn = np.empty(4, np.float32)
    lane_n = np.empty(4, np.float32)
    texture = np.empty(4, np.float32)
    for y in range(hog_nr):
        for x in range(hog_nc):
            # The four 2x2-cell blocks around cell (y+1, x+1), in dlib's lane
            # order: the block starting at (y+1, x+1), (y, x+1), (y+1, x), (y, x).
            for lane in range(4):
                by = y + 1 if lane == 0 or lane == 2 else y
                bx = x + 1 if lane < 2 else x
                z = energy[by, bx] + energy[by + 1, bx]
                z = z + energy[by, bx + 1]
                z = z + energy[by + 1, bx + 1]
                lane_nn[lane] = _TRUNCATION * np.sqrt(z + _EPS)
                lane_n[lane] = np.float32(0.1) / lane_nn[lane]
                texture[lane] = np.float32(0)
            cell = hist[y + 2, x + 2]
            # Contrast-sensitive: truncated at 0.2 under each normalisation, halved, summed.
            for o in range(_N_SIGNED):
                total = np.float32(0)
                for lane in range(4):
                    h = min(cell[o], lane_nn[lane]) * lane_n[lane]
                    total += h
                    texture[lane] += h
                out[y, x, o] = total
            # Contrast-insensitive: the same on the folded histogram.
            for o in range(_N_UNSIGNED):
                s = cell[o] + cell[o + _N_UNSIGNED]
                total = np.float32(0)
                for lane in range(4):
                    total += min(s, lane_nn[lane]) * lane_n[lane]
                out[y, x, _N_SIGNED + o] = total
            for lane in range(4):
                out[y, x, _N_SIGNED + _N_UNSIGNED + lane] = texture[lane] * _TEXTURE_WEIGHT
    return out
