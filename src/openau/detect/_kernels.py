"""Compiled loops of the MTCNN box logic (numba; imported lazily by ``_boxes``).

They run once per pyramid level and per stage on a few hundred boxes at
most, where a numpy formulation costs more in per-call overhead than in
arithmetic. Each reproduces OpenFace's float32 arithmetic step by step; the
tests compare them with straightforward numpy versions.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["pnet_cells", "greedy_nms", "pnet_level"]


@numba.njit(cache=True, nogil=True)
def pnet_cells(maps, scale, threshold, stride, cell, screen=np.inf):  # pragma: no cover - compiled
    """Cells of one P-Net output whose face probability reaches ``threshold``.

    Parameters
    ----------
    maps : (6, h, w) float32 ndarray
        Class logits (2) and box offsets (4).
    scale, threshold : float32
    stride, cell : int
        P-Net's output stride (2) and receptive field (12).
    screen : float
        Cells whose logit difference ``l0 - l1`` exceeds this are known to
        fall below ``threshold`` and skip the ``exp`` (see
        :func:`openau.detect._boxes.logit_screen`); ``inf`` screens nothing.

    Returns
    -------
    boxes : (k, 4) float32 ndarray
        ``[x, y, w, h]`` in frame pixels.
    scores : (k,) float32 ndarray
    offsets : (k, 4) float32 ndarray
    """
    h, w = maps.shape[1], maps.shape[2]
    one = np.float32(1.0)
    prob = np.zeros((h, w), np.float32)
    count = 0
    for y in range(h):
        for x in range(w):
            d = np.float32(maps[0, y, x] - maps[1, y, x])
            if d > screen:
                continue  # far below the threshold: leave probability 0
            p = one / (one + np.exp(d))
            prob[y, x] = p
            if p >= threshold:
                count += 1
    boxes = np.empty((count, 4), np.float32)
    scores = np.empty(count, np.float32)
    offsets = np.empty((count, 4), np.float32)
    k = 0
    # Column by column, as OpenFace visits the heat map.
    for x in range(w):
        for y in range(h):
            if count > 0 and prob[y, x] >= threshold:
                x1 = np.float32(int(np.float32(stride * x + 1) / scale))
                y1 = np.float32(int(np.float32(stride * y + 1) / scale))
                x2 = np.float32(int(np.float32(stride * x + cell) / scale))
                y2 = np.float32(int(np.float32(stride * y + cell) / scale))
                boxes[k, 0] = x1
                boxes[k, 1] = y1
                boxes[k, 2] = x2 - x1
                boxes[k, 3] = y2 - y1
                scores[k] = prob[y, x]
                for c in range(4):
                    offsets[k, c] = maps[2 + c, y, x]
                k += 1
    return boxes, scores, offsets


@numba.njit(cache=True, nogil=True, error_model="numpy")
def greedy_nms(rects, order, threshold, use_min):  # pragma: no cover - compiled
    """Greedy NMS over whole-pixel boxes visited in ``order``.

    Parameters
    ----------
    rects : (k, 4) int64 ndarray
        ``[x, y, w, h]``.
    order : (k,) int64 ndarray
        Visiting order, best first.
    threshold : float32
    use_min : bool
        Overlap over the smaller area instead of over the union.

    Returns
    -------
    (m,) int64 ndarray
        Kept indices, in visiting order.
    """
    n = order.shape[0]
    removed = np.zeros(n, np.bool_)
    keep = np.empty(n, np.int64)
    kept = 0
    for a in range(n):
        if removed[a]:
            continue
        i = order[a]
        keep[kept] = i
        kept += 1
        xi, yi, wi, hi = rects[i, 0], rects[i, 1], rects[i, 2], rects[i, 3]
        area_i = wi * hi
        for b in range(a + 1, n):
            if removed[b]:
                continue
            j = order[b]
            xj, yj, wj, hj = rects[j, 0], rects[j, 1], rects[j, 2], rects[j, 3]
            iw = min(xi + wi, xj + wj) - max(xi, xj)
            ih = min(yi + hi, yj + hj) - max(yi, yj)
            empty = iw <= 0 or ih <= 0 or wi <= 0 or hi <= 0 or wj <= 0 or hj <= 0
            inter = 0 if empty else iw * ih
            area_j = wj * hj
            denom = min(area_i, area_j) if use_min else area_i + area_j - inter
            # float32 ratio as OpenFace computes it.
            if np.float32(inter) / np.float32(denom) > threshold:
                removed[b] = True
    return keep[:kept]


@numba.njit(cache=True, nogil=True)
def score_order(scores):  # pragma: no cover - compiled
    """Visiting order of OpenFace's NMS: highest score first, equal scores last index first."""
    n = scores.shape[0]
    return n - 1 - np.argsort(-scores[::-1], kind="mergesort")


@numba.njit(cache=True, nogil=True)
def pnet_level(maps, scale, threshold, stride, cell, screen, nms_threshold):  # pragma: no cover - compiled
    """One pyramid level's P-Net candidates after the per-level NMS (intersection over union).

    :func:`pnet_cells`, then :func:`greedy_nms` on the whole-pixel boxes
    (they are integer valued already), in one compiled call: the per-call
    cost of three separate calls exceeds the work on the small levels.

    Returns
    -------
    boxes, scores, offsets
        As :func:`pnet_cells`, restricted to the kept cells, best first.
    """
    boxes, scores, offsets = pnet_cells(maps, scale, threshold, stride, cell, screen)
    if scores.shape[0] == 0:
        return boxes, scores, offsets
    rects = np.empty((boxes.shape[0], 4), np.int64)
    for i in range(boxes.shape[0]):
        for c in range(4):
            rects[i, c] = np.int64(np.rint(boxes[i, c]))
    keep = greedy_nms(rects, score_order(scores), nms_threshold, False)
    return boxes[keep], scores[keep], offsets[keep]


@numba.njit(cache=True, nogil=True)
def bgr_to_planes(images, mean, scale):  # pragma: no cover - compiled
    """``(N, H, W, 3)`` float32 BGR -> ``(N, 3, H, W)`` RGB planes ``(value - mean) * scale``.

    The same two float32 operations per value as the numpy expression, in
    one pass (numpy's strided transpose-and-flip costs several times more).
    """
    n, h, w = images.shape[0], images.shape[1], images.shape[2]
    out = np.empty((n, 3, h, w), np.float32)
    for i in range(n):
        for y in range(h):
            for x in range(w):
                for c in range(3):
                    out[i, c, y, x] = (images[i, y, x, 2 - c] - mean) * scale
    return out


@numba.njit(cache=True, nogil=True)
def _linear_taps(src_len, dst_len, index, weight):  # pragma: no cover - compiled
    """OpenCV's bilinear taps along one axis (``cv::resize``, ``INTER_LINEAR``).

    Output ``d`` samples source ``f = (d + 0.5) * (1 / (dst / src)) - 0.5``
    (the double scale as OpenCV forms it, rounded to float32): taps
    ``floor(f)`` and the next, weights ``1 - frac`` and ``frac`` in float32;
    clamped to the first or last source pixel past either end.
    """
    scale = 1.0 / (dst_len / src_len)
    for d in range(dst_len):
        f = np.float32((d + 0.5) * scale - 0.5)
        s = int(np.floor(f))
        f = np.float32(f - np.float32(s))
        if s < 0:
            s = 0
            f = np.float32(0.0)
        if s >= src_len - 1:
            s = src_len - 1
            f = np.float32(0.0)
        index[d] = s
        weight[d, 0] = np.float32(1.0) - f
        weight[d, 1] = f


@numba.njit(cache=True, nogil=True)
def resample_window(image, x0, y0, width, height, out, mean, scale):  # pragma: no cover - compiled
    """Bilinear resize of a window of a frame into normalised RGB planes.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        BGR frame.
    x0, y0, width, height : int
        The window: columns ``x0 .. x0 + width - 1``, rows ``y0 ..
        y0 + height - 1``; pixels outside the frame read as 0.
    out : (3, h, w) float32 ndarray
        Written with RGB planes ``(value - mean) * scale`` of the window
        resized to ``h x w``.
    mean, scale : float32

    Notes
    -----
    The arithmetic of OpenCV's generic float bilinear resize in float32:
    ``row = p0 * a0 + p1 * a1`` along x, then ``row0 * b0 + row1 * b1``
    along y (see :func:`_linear_taps`). cv::resize may run Intel IPP
    instead, which rounds differently: the two agree to ~1e-2 grey levels.
    """
    frame_h, frame_w = image.shape[0], image.shape[1]
    out_h, out_w = out.shape[1], out.shape[2]
    xi = np.empty(out_w, np.int64)
    xw = np.empty((out_w, 2), np.float32)
    yi = np.empty(out_h, np.int64)
    yw = np.empty((out_h, 2), np.float32)
    _linear_taps(width, out_w, xi, xw)
    _linear_taps(height, out_h, yi, yw)
    # Frame columns of both taps, -1 where outside the frame (reads 0).
    cols = np.empty((out_w, 2), np.int64)
    for dx in range(out_w):
        for t in range(2):
            sx = min(xi[dx] + t, width - 1)
            gx = x0 + sx
            cols[dx, t] = gx if 0 <= gx < frame_w else -1
    rows = np.zeros((2, out_w, 3), np.float32)
    loaded = np.array([-2, -2], np.int64)  # window row held in each buffer
    zero = np.float32(0.0)
    for dy in range(out_h):
        for t in range(2):
            sy = min(yi[dy] + t, height - 1)
            if loaded[t] == sy:
                continue
            if loaded[1 - t] == sy:
                rows[t] = rows[1 - t]
                loaded[t] = sy
                continue
            loaded[t] = sy
            gy = y0 + sy
            if gy < 0 or gy >= frame_h:
                rows[t] = zero
                continue
            for dx in range(out_w):
                c0, c1 = cols[dx, 0], cols[dx, 1]
                a0, a1 = xw[dx, 0], xw[dx, 1]
                for c in range(3):
                    p0 = np.float32(image[gy, c0, c]) if c0 >= 0 else zero
                    p1 = np.float32(image[gy, c1, c]) if c1 >= 0 else zero
                    rows[t, dx, c] = p0 * a0 + p1 * a1
        b0, b1 = yw[dy, 0], yw[dy, 1]
        for dx in range(out_w):
            for c in range(3):
                value = rows[0, dx, c] * b0 + rows[1, dx, c] * b1
                out[2 - c, dy, dx] = (value - mean) * scale


@numba.njit(cache=True, nogil=True)
def resample_windows(image, windows, size, mean, scale):  # pragma: no cover - compiled
    """:func:`resample_window` for ``(k, 4)`` int64 ``[x0, y0, width, height]`` windows.

    Returns
    -------
    (k, 3, size, size) float32 ndarray
        Degenerate windows (width or height < 1) give planes of ``-mean * scale``.
    """
    count = windows.shape[0]
    out = np.empty((count, 3, size, size), np.float32)
    for k in range(count):
        x0, y0, w, h = windows[k, 0], windows[k, 1], windows[k, 2], windows[k, 3]
        if w < 1 or h < 1:
            out[k] = (np.float32(0.0) - mean) * scale
        else:
            resample_window(image, x0, y0, w, h, out[k], mean, scale)
    return out
