"""2-D similarity alignment of point sets (scale and rotation, no translation).

OpenFace aligns faces for the AU stage and warps image patches for the patch
experts with ``AlignShapesWithScale``: both point sets are centred and
normalised to unit RMS radius, the rotation comes from the Kabsch SVD (with a
reflection guard), and the scale is the ratio of the RMS radii.
"""

from __future__ import annotations

import numpy as np

__all__ = ["similarity_transform"]


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
    src = np.asarray(source, dtype=np.float32)
    dst = np.asarray(target, dtype=np.float32)
    n = src.shape[0]
    src_c = src - src.mean(axis=0, dtype=np.float64).astype(np.float32)
    dst_c = dst - dst.mean(axis=0, dtype=np.float64).astype(np.float32)
    s_src = np.float32(np.sqrt(np.sum(src_c.astype(np.float64) ** 2) / n))
    s_dst = np.float32(np.sqrt(np.sum(dst_c.astype(np.float64) ** 2) / n))
    src_n = src_c / s_src
    dst_n = dst_c / s_dst
    # Kabsch: R = V diag(1, d) U^T for the SVD U S V^T of src^T dst.
    u, _, vt = np.linalg.svd(src_n.T @ dst_n)
    d = 1.0 if np.linalg.det(vt.T @ u.T) > 0 else -1.0
    rotation = vt.T @ np.diag([1.0, d]).astype(vt.dtype) @ u.T
    return (np.float32(s_dst / s_src) * rotation).astype(np.float32)
