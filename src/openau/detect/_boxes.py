"""Box arithmetic of OpenFace's MTCNN: proposals, NMS, regression, squaring, correction.

Boxes are ``(k, 4)`` float32 arrays of ``[x, y, w, h]`` in pixels of the input
frame (x = column, y = row, OpenCV's convention), as OpenFace keeps them in
``cv::Rect_<float>``. Every function reproduces OpenFace 2.2's arithmetic
(``FaceDetectorMTCNN.cpp``) including where it rounds, truncates or computes in
float32 versus double, because those choices move boxes by whole pixels.
"""

from __future__ import annotations

import numpy as np

from openau._native import kernels

__all__ = [
    "PNET_STRIDE",
    "PNET_CELL",
    "BOX_CORRECTION",
    "face_probability",
    "pnet_proposals",
    "pnet_level_proposals",
    "logit_screen",
    "non_maximum_suppression",
    "apply_regression",
    "square_boxes",
    "correct_for_landmarks",
]

#: P-Net's output stride in pixels of its input (one 2x2 max pooling).
PNET_STRIDE = 2
#: P-Net's receptive field: each output cell sees a 12x12 window.
PNET_CELL = 12

#: How far (in logits) above the exact cut a cell must lie before P-Net's
#: probability is skipped as certainly below the threshold. The float32
#: probability of a cell a few ulps from the cut may round either way; this
#: margin is orders of magnitude wider than that rounding.
LOGIT_SCREEN_MARGIN = 0.5

#: OpenFace's fixed adjustment of the final MTCNN box so that it fits the 68
#: landmarks CLNF is initialised from (``DetectFaces``): x += dx * w,
#: y += dy * h, w *= sw, h *= sh.
BOX_CORRECTION = {"dx": -0.0075, "dy": 0.2459, "sw": 1.0323, "sh": 0.7751}

_F32 = np.float32


def face_probability(logits: np.ndarray) -> np.ndarray:
    """R- and O-Net's face probability from their two class outputs.

    Parameters
    ----------
    logits : (2, k) float32 ndarray
        Non-face and face logits.

    Returns
    -------
    (k,) float32 ndarray
        ``1 / (1 + exp(l0 - l1))``.

    Notes
    -----
    OpenFace takes a float32 ``exp`` (glibc's ``expf``, correctly rounded in
    practice; reproduced here as the double ``exp`` rounded to float32) and
    finishes the formula in double before storing float32. The rounding can
    decide the order of nearly equal scores in the NMS that follows. (P-Net's
    heat map is computed all in float32, in :func:`pnet_proposals`.)
    """
    diff = (logits[0].astype(_F32) - logits[1].astype(_F32)).astype(np.float64)
    e = np.exp(diff).astype(_F32)
    return (1.0 / (1.0 + e.astype(np.float64))).astype(_F32)


def logit_screen(threshold: float) -> float:
    """Logit difference above which a P-Net cell cannot reach ``threshold``.

    A cell's probability ``1 / (1 + exp(l0 - l1))`` is at least ``t`` only
    when ``l0 - l1 <= log(1 / t - 1)``. Most cells of a frame are far above
    that cut; skipping their ``exp`` keeps the result identical, since every
    cell within :data:`LOGIT_SCREEN_MARGIN` of the cut is still computed in
    full. Returns ``inf`` (screen nothing) for thresholds so close to 0 or 1
    that the probability's rounding is not small against the margin.
    """
    if not 0.01 <= threshold <= 0.99:
        return float("inf")
    return float(np.log(1.0 / threshold - 1.0)) + LOGIT_SCREEN_MARGIN


def pnet_proposals(
    output: np.ndarray, scale: float, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate boxes from one P-Net output map (OpenFace's ``generate_bounding_boxes``).

    Parameters
    ----------
    output : (6, h, w) float32 ndarray
        P-Net's raw output on one pyramid level: two class logits, then the
        four box offsets.
    scale : float
        The pyramid level's scale (level size / frame size).
    threshold : float
        Minimum face probability (P-Net threshold, 0.6 by default).

    Returns
    -------
    boxes : (k, 4) float32 ndarray
        ``[x, y, w, h]`` in frame pixels, integer valued.
    scores : (k,) float32 ndarray
    offsets : (k, 4) float32 ndarray
        Box regression ``[dx1, dy1, dx2, dy2]`` as fractions of the box size.

    Notes
    -----
    Cells are visited column by column (x outer, y inner) as OpenFace does,
    so the order of equal scores in the NMS that follows matches. The cell at
    (x, y) maps to ``int((2 x + 1) / scale)`` .. ``int((2 x + 12) / scale)``
    with a float32 division and truncation. The probability is
    ``1 / (1 + exp(l0 - l1))`` in float32 (skipped for cells that
    :func:`logit_screen` shows to be far below the threshold). The loop is
    compiled with numba.
    """
    pnet_cells = kernels("openau.detect._kernels").pnet_cells

    maps = np.ascontiguousarray(output, dtype=_F32)
    return pnet_cells(maps, _F32(scale), _F32(threshold), PNET_STRIDE, PNET_CELL, logit_screen(threshold))


def pnet_level_proposals(
    output: np.ndarray, scale: float, threshold: float, nms_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pnet_proposals` followed by the per-level NMS (union), in one compiled call.

    Returns
    -------
    boxes, scores, offsets
        The kept candidates of the level, best first; equal to
        ``non_maximum_suppression(*pnet_proposals(...)[:2], nms_threshold)``
        applied to the proposals.
    """
    pnet_level = kernels("openau.detect._kernels").pnet_level

    maps = np.ascontiguousarray(output, dtype=_F32)
    return pnet_level(
        maps, _F32(scale), _F32(threshold), PNET_STRIDE, PNET_CELL, logit_screen(threshold), _F32(nms_threshold)
    )


def non_maximum_suppression(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union"
) -> np.ndarray:
    """Greedy non-maximum suppression as OpenFace's ``non_maximum_supression``.

    Parameters
    ----------
    boxes : (k, 4) float32 ndarray
        ``[x, y, w, h]``.
    scores : (k,) float32 ndarray
    threshold : float
        A box is dropped when its overlap with a kept box is above this.
    mode : {"union", "min"}
        Overlap is intersection over union, or over the smaller box's area
        (OpenFace's final O-Net NMS).

    Returns
    -------
    (m,) int64 ndarray
        Indices of the kept boxes, highest score first. Equal scores are
        taken last-index first, as OpenFace's ``std::multimap`` yields them.

    Notes
    -----
    Overlaps are computed on the boxes rounded to integers (OpenFace compares
    ``cv::Rect``), with integer areas and a float32 ratio; an empty box
    overlaps nothing. The loop is compiled with numba.
    """
    if mode not in ("union", "min"):
        raise ValueError(f"mode must be 'union' or 'min', got {mode!r}")
    count = len(scores)
    if count == 0:
        return np.zeros(0, np.int64)
    greedy_nms = kernels("openau.detect._kernels").greedy_nms

    # OpenFace compares cv::Rect (int) copies: rounded half to even (cvRound).
    rects = np.rint(boxes).astype(np.int64)
    # Highest score first; among equal scores the later index first.
    order = count - 1 - np.argsort(-scores[::-1], kind="stable")
    return greedy_nms(rects, order, _F32(threshold), mode == "min")


def apply_regression(boxes: np.ndarray, offsets: np.ndarray, *, add_one: bool) -> np.ndarray:
    """Move box corners by a network's regression (OpenFace's ``apply_correction``).

    Parameters
    ----------
    boxes : (k, 4) float32 ndarray
        ``[x, y, w, h]``; rounded to integers first, as OpenFace does.
    offsets : (k, 4) float32 ndarray
        ``[dx1, dy1, dx2, dy2]``: corner shifts as fractions of the box size.
    add_one : bool
        Use ``w + 1`` and ``h + 1`` as the size (OpenFace does for O-Net).

    Returns
    -------
    (k, 4) float32 ndarray
        ``x1' = x + dx1 w``, ``x2' = x + w + dx2 w`` (same for y), in float32.
    """
    # OpenFace first binds the box to a cv::Rect: rounded half to even.
    rect = np.rint(boxes.astype(_F32))
    corner, size = rect[:, :2], rect[:, 2:]
    if add_one:
        size = size + _F32(1)
    offsets = offsets.astype(_F32)
    start = corner + offsets[:, :2] * size
    end = (corner + size) + size * offsets[:, 2:]
    return np.concatenate([start, end - start], axis=1)


def square_boxes(boxes: np.ndarray) -> np.ndarray:
    """Make boxes square around their centre, on whole pixels (OpenFace's ``rectify``).

    Parameters
    ----------
    boxes : (k, 4) float32 ndarray

    Returns
    -------
    (k, 4) float32 ndarray
        Side ``int(max(w, h))``; corner ``int(x + 0.5 (w - side))`` (and y),
        truncated towards zero; the half-difference is taken in double as in
        OpenFace.
    """
    boxes = boxes.astype(_F32)
    side = boxes[:, 2:].max(axis=1, keepdims=True)
    # float32 difference, halved and added in double, then truncated.
    corner = boxes[:, :2].astype(np.float64) + 0.5 * (boxes[:, 2:] - side).astype(np.float64)
    return np.trunc(np.concatenate([corner, side, side], axis=1)).astype(_F32)


def correct_for_landmarks(boxes: np.ndarray) -> np.ndarray:
    """OpenFace's fixed correction of an MTCNN box before CLNF initialisation.

    Parameters
    ----------
    boxes : (k, 4) float32 ndarray
        Final MTCNN boxes ``[x, y, w, h]``.

    Returns
    -------
    (k, 4) float32 ndarray
        ``[x - 0.0075 w, y + 0.2459 h, 1.0323 w, 0.7751 h]``, computed in double
        and stored in float32 as OpenFace does. This is the box OpenFace hands
        to the landmark detector: it is tight around the 68 landmarks.
    """
    x, y, w, h = (c.astype(np.float64) for c in boxes.astype(_F32).T)
    c = BOX_CORRECTION
    out = np.stack([w * c["dx"] + x, h * c["dy"] + y, c["sw"] * w, c["sh"] * h], axis=1)
    return out.astype(_F32)
