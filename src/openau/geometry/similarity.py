"""2-D similarity alignment of point sets (scale and rotation, no translation).

OpenFace aligns faces for the AU stage and warps image patches for the patch
experts with ``AlignShapesWithScale``: both point sets are centred and
normalised to unit RMS radius, the rotation comes from the Kabsch SVD (with a
reflection guard), and the scale is the ratio of the RMS radii.

The AU stage's aligned face is resampled with OpenCV's fixed-point
``warpAffine``, where a change in the last bit of the matrix can move a pixel
by one grey level, and the HOG of nearly empty cells amplifies that. So this
module repeats OpenCV's arithmetic: float32 values, float64 sums, division by
a radius done as multiplication by its float32 reciprocal (OpenCV's
``Mat / double``), the 2x2 SVD from OpenCV itself (``cv2.SVDecomp``), and
matrix products summed in float64 and rounded once (OpenCV's small ``gemm``).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["similarity_transform"]

_F32 = np.float32


def _gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product of float32 matrices as OpenCV forms it: float64 sums, float32 result."""
    return (a.astype(np.float64) @ b.astype(np.float64)).astype(_F32)


def _normalise(points: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Centre points and scale them to unit RMS radius; return them and the radius."""
    n = points.shape[0]
    centre = points.astype(np.float64).mean(axis=0).astype(_F32)
    centred = points - centre
    radius = _F32(np.sqrt(np.sum((centred * centred).astype(np.float64)) / n))
    return (centred * _F32(1.0 / np.float64(radius))).astype(_F32), radius


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The scale-rotation matrix ``A`` that best maps centred ``source`` onto ``target``.

    Parameters
    ----------
    source, target : (n, 2) ndarray
        Corresponding points (x, y). They are centred internally, so the
        translation is left to the caller: ``target ~ (source - mean_s) @ A.T + mean_t``.

    Returns
    -------
    (2, 2) float32 ndarray
        ``s * R`` with ``R`` a proper rotation (det +1) and ``s`` the ratio of
        the RMS distances of ``target`` and ``source`` from their centroids.
    """
    src, s_src = _normalise(np.asarray(source, dtype=_F32))
    dst, s_dst = _normalise(np.asarray(target, dtype=_F32))
    scale = _F32(s_dst / s_src)
    # Kabsch: R = V diag(1, d) U^T for the SVD U S V^T of src^T dst.
    _, u, vt = cv2.SVDecomp(_gemm(src.T, dst))
    det = np.linalg.det(vt.T.astype(np.float64) @ u.T.astype(np.float64))
    reflect = np.diag([1.0, 1.0 if det > 0 else -1.0]).astype(_F32)
    rotation = _gemm(_gemm(vt.T, reflect), u.T)
    return (rotation * scale).astype(_F32)
