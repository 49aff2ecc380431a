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

The kernels release the GIL (``nogil``): the engine's AU thread then runs
beside the landmark thread on a machine with more than one core.
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
_N_UNSIGNED = 9
#: Largest |central difference| of an 8-bit image.
_MAX_GRADIENT = 255
_N_SIGNED = 18
_TRUNCATION = np.float32(0.2)
_TEXTURE_WEIGHT = np.float32(2 * 0.2357)  # 0.2357 ~ 1 / sqrt(18), times 2 to undo the 0.5
_EPS = np.float32(0.0001)


# Inlined by numba itself (LLVM left it a call): a quarter of the FHOG time.
@njit(cache=True, nogil=True, inline="always")
def _gradient(image, y, x, prefer_first):
    """Central differences of the channel with the largest squared gradient.

    Ties keep the first channel in memory order (``prefer_first``, dlib's SIMD
    path) or the last one (its scalar path).
    """
    n_channels = image.shape[2]
    if n_channels == 3:  # unrolled: the common case
        left, right, up, down = image[y, x - 1], image[y, x + 1], image[y - 1, x], image[y + 1, x]
        gx0 = np.int32(right[0]) - np.int32(left[0])
        gy0 = np.int32(down[0]) - np.int32(up[0])
        gx1 = np.int32(right[1]) - np.int32(left[1])
        gy1 = np.int32(down[1]) - np.int32(up[1])
        gx2 = np.int32(right[2]) - np.int32(left[2])
        gy2 = np.int32(down[2]) - np.int32(up[2])
        l0 = gx0 * gx0 + gy0 * gy0
        l1 = gx1 * gx1 + gy1 * gy1
        l2 = gx2 * gx2 + gy2 * gy2
        if prefer_first:
            best_gx, best_gy, best_len = gx0, gy0, l0
            if l1 > best_len:
                best_gx, best_gy, best_len = gx1, gy1, l1
            if l2 > best_len:
                best_gx, best_gy, best_len = gx2, gy2, l2
        else:
            best_gx, best_gy, best_len = gx2, gy2, l2
            if l1 > best_len:
                best_gx, best_gy, best_len = gx1, gy1, l1
            if l0 > best_len:
                best_gx, best_gy, best_len = gx0, gy0, l0
        return best_gx, best_gy, best_len
    best_gx, best_gy, best_len = 0, 0, -1
    for step in range(n_channels):
        ch = step if prefer_first else n_channels - 1 - step
        gx = np.int32(image[y, x + 1, ch]) - np.int32(image[y, x - 1, ch])
        gy = np.int32(image[y + 1, x, ch]) - np.int32(image[y - 1, x, ch])
        length = gx * gx + gy * gy
        if length > best_len:
            best_gx, best_gy, best_len = gx, gy, length
    return best_gx, best_gy, best_len


@njit(cache=True, nogil=True)
def _snap_rows(gradients, directions, first_row):
    """Orientation bins of the gradients ``(gradients[i], gradients[j])`` for rows ``i >= first_row``."""
    n = gradients.shape[0]
    bins = np.zeros((n - first_row, n), np.uint8)
    for i in range(first_row, n):
        fx = gradients[i]
        for j in range(n):
            fy = gradients[j]
            best = 0.0
            snapped = 0
            for o in range(_N_UNSIGNED):
                dot = fx * directions[o, 0] + fy * directions[o, 1]
                if dot > best:
                    best, snapped = dot, o
                elif -dot > best:
                    best, snapped = -dot, o + _N_UNSIGNED
            bins[i - first_row, j] = snapped
    return bins


@njit(cache=True, nogil=True)
def orientation_table():
    """Orientation bin of every integer gradient, as dlib snaps it.

    dlib snaps a gradient ``(gx, gy)`` to the direction with the largest
    ``|dot|`` (bins 0-8 for positive dots, 9-17 for negative), scanning the 9
    directions in order and keeping the first strict maximum. Gradients of
    8-bit images are integers in [-255, 255], so the result is tabulated once.

    Returns
    -------
    (511, 511) uint8 ndarray
        Indexed by ``[gx + 255, gy + 255]``.

    Notes
    -----
    dlib's SIMD path computes the dot products in float32 and its scalar path
    in float64; for integer gradients both give the same bin everywhere (the
    tests check every entry), so one table serves both.

    Only the rows ``gx >= 0`` are computed: negating a gradient negates every
    dot product exactly, so ``-g`` falls in the opposite-sign bin of ``g``
    (``(b + 9) mod 18``), and the zero gradient in bin 0.
    """
    size = 2 * _MAX_GRADIENT + 1
    gradients = np.arange(-_MAX_GRADIENT, _MAX_GRADIENT + 1).astype(np.float64)
    bins = np.empty((size, size), np.uint8)
    bins[_MAX_GRADIENT:] = _snap_rows(gradients, _DIRECTIONS, _MAX_GRADIENT)
    # Row gx < 0 is row -gx reversed (gy -> -gy), in the opposite-sign bins.
    for i in range(_MAX_GRADIENT):
        for j in range(size):
            bins[i, j] = (bins[size - 1 - i, size - 1 - j] + _N_UNSIGNED) % _N_SIGNED
    return bins


@njit(cache=True, nogil=True)
def fhog(image, cell_size, orientation_bins):
    """31-channel FHOG of a uint8 image.

    Parameters
    ----------
    image : (H, W, C) uint8
        C = 3 (BGR) or 1.
    cell_size : int
    orientation_bins : (511, 511) uint8
        :func:`orientation_table`.

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

    # Horizontal bilinear weights per column, in each path's precision.
    col_f = np.empty(visible_nc, np.int64)
    w0_f = np.empty(visible_nc, np.float32)
    col_d = np.empty(visible_nc, np.int64)
    w0_d = np.empty(visible_nc)
    for x in range(1, visible_nc):
        xp_f = (np.float32(x) + half_f) / cell_f + half_f  # dlib's SIMD form, +1 cell
        col_f[x] = int(xp_f)
        w0_f[x] = xp_f - np.float32(col_f[x])
        xp = (x + 0.5) / cell_size - 0.5
        col_d[x] = int(math.floor(xp)) + 1
        w0_d[x] = xp - (col_d[x] - 1)

    for y in range(1, visible_nr):
        yp = (y + 0.5) / cell_size - 0.5
        iyp = int(math.floor(yp))
        vy0 = yp - iyp
        vy1 = 1.0 - vy0
        vy0_f, vy1_f = np.float32(vy0), np.float32(vy1)
        top, bottom = hist[iyp + 1], hist[iyp + 2]
        # SIMD path: float32 throughout, ties go to the first channel.
        for x in range(1, simd_end):
            gx, gy, length = _gradient(image, y, x, True)
            if length == 0:
                continue  # a vote of 0 changes nothing (masked-out pixels)
            v = np.sqrt(np.float32(length))
            o = orientation_bins[gx + _MAX_GRADIENT, gy + _MAX_GRADIENT]
            c = col_f[x]
            vx0 = w0_f[x]
            vx1 = np.float32(1) - vx0
            top[c, o] += vy1_f * vx1 * v
            bottom[c, o] += vy0_f * vx1 * v
            top[c + 1, o] += vy1_f * vx0 * v
            bottom[c + 1, o] += vy0_f * vx0 * v
        # Scalar path: float64, ties go to the last channel (red of BGR).
        for x in range(simd_end, visible_nc):
            gx, gy, length = _gradient(image, y, x, False)
            if length == 0:
                continue
            o = orientation_bins[gx + _MAX_GRADIENT, gy + _MAX_GRADIENT]
            v = math.sqrt(length)
            c = col_d[x]
            vx0 = w0_d[x]
            vx1 = 1.0 - vx0
            top[c, o] += vy1 * vx1 * v
            bottom[c, o] += vy0 * vx1 * v
            top[c + 1, o] += vy1 * vx0 * v
            bottom[c + 1, o] += vy0 * vx0 * v

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
