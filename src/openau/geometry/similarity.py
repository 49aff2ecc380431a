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

__all__ = ["normalise_points", "similarity_from_normalised", "similarity_transform"]

_F32 = np.float32


def normalise_points(points: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Centre points and scale them to unit RMS radius, as ``AlignShapesWithScale``.

    Parameters
    ----------
    points : (n, 2) array_like

    Returns
    -------
    normalised : (n, 2) float32 ndarray
    radius : float32
        RMS distance from the centroid.
    """
    pts = np.asarray(points, dtype=_F32)
    centred = pts - pts.mean(axis=0, dtype=np.float64).astype(_F32)
    squares = centred * centred
    radius = _F32(np.sqrt(squares.sum(dtype=np.float64) / pts.shape[0]))
    # OpenCV's Mat / double multiplies by the float32 reciprocal.
    return centred * _F32(1.0 / np.float64(radius)), radius


def similarity_from_normalised(
    source: np.ndarray, source_radius: float, target: np.ndarray, target_radius: float
) -> np.ndarray:
    """:func:`similarity_transform` from already :func:`normalise_points`-ed sets."""
    scale = _F32(_F32(target_radius) / _F32(source_radius))
    # Kabsch: R = V diag(1, d) U^T for the SVD U S V^T of src^T dst.
    cross = (source.T.astype(np.float64) @ target.astype(np.float64)).astype(_F32)
    _, u, vt = cv2.SVDecomp(cross)
    u64, vt64 = u.astype(np.float64), vt.astype(np.float64)
    det = np.linalg.det(u64) * np.linalg.det(vt64)  # = det(V U^T)
    v = vt.T.copy()
    if det <= 0:
        v[:, 1] = -v[:, 1]  # V @ diag(1, -1), exact in float32
    rotation = (v.astype(np.float64) @ u64.T).astype(_F32)
    return rotation * scale


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
    return similarity_from_normalised(*normalise_points(source), *normalise_points(target))
