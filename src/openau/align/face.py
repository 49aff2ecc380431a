"""The similarity-aligned, masked face OpenFace's AU models read.

OpenFace's ``FaceAnalyser`` aligns each face to the PDM's mean shape before
extracting HOG (``AlignFaceMask`` in ``Face_utils.cpp``):

1. a scale-rotation ``A`` maps the detected landmarks onto the mean shape
   scaled by 0.7 (pixels per millimetre), using only 24 rigid landmarks
   (jaw sides, nose, eye corners) that move little with expression;
2. the PDM translation ``(tx, ty)`` is mapped to the centre of a 112 x 112
   image: ``x' = A x - A t + (56, 56)``, and the frame is resampled with
   bilinear ``warpAffine`` (black outside the frame);
3. the landmarks are carried into the aligned image, the brows (and jaw ends)
   lifted by 30 px (at scale 0.7) to keep the forehead, and every pixel
   outside the 111 triangles of ``tris_68_full.txt`` is set to black.

Coordinates are pixels, x right, y down; images are BGR ``uint8``.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from openau._native import kernels
from openau.geometry.similarity import normalise_points, similarity_from_normalised
from openau.models.pdm import PDMModel

__all__ = [
    "ALIGNED_SIZE",
    "ALIGNED_SCALE",
    "RIGID_POINTS",
    "alignment_matrix",
    "face_mask",
    "align_face",
]

#: Side of the aligned face, pixels (OpenFace's ``sim_size_au``).
ALIGNED_SIZE = 112
#: Pixels per PDM millimetre in the aligned face (OpenFace's ``sim_scale_au``).
ALIGNED_SCALE = 0.7
#: Landmarks that define the alignment: jaw sides, nose bridge and base, eye
#: corners and lower lids (OpenFace's ``extract_rigid_points``).
RIGID_POINTS = (
    1, 2, 3, 4, 12, 13, 14, 15, 27, 28, 29, 31, 32, 33, 34, 35, 36, 39, 40, 41, 42, 45, 46, 47,
)  # fmt: skip
#: Landmarks lifted before masking: the two jaw ends and the ten brow points.
LIFTED_POINTS = (0, 16, *range(17, 27))
#: How far they are lifted, pixels per unit of alignment scale (30 px at 0.7).
LIFT_PER_SCALE = 30 / 0.7

_F32 = np.float32
_RIGID = np.array(RIGID_POINTS)
_LIFTED = np.array(LIFTED_POINTS, dtype=np.int64)


@functools.lru_cache(maxsize=8)
def _reference(pdm: PDMModel, scale: float) -> tuple[np.ndarray, np.float32]:
    """The normalised rigid points of the scaled mean shape (fixed per model)."""
    reference = pdm.mean_shape[:, :2] * _F32(scale)
    return normalise_points(reference[_RIGID])


def _check(landmarks: np.ndarray, n_points: int | None = None) -> np.ndarray:
    points = np.ascontiguousarray(landmarks, dtype=_F32)
    if points.ndim != 2 or points.shape[1] != 2 or (n_points and points.shape[0] != n_points):
        expected = f"({n_points or 'n'}, 2)"
        raise ValueError(f"landmarks must have shape {expected}, got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("landmarks must be finite")
    return points


def alignment_matrix(
    landmarks: np.ndarray,
    params_global: np.ndarray,
    pdm: PDMModel,
    scale: float = ALIGNED_SCALE,
    size: int = ALIGNED_SIZE,
) -> np.ndarray:
    """The affine map from the frame to the aligned face.

    Parameters
    ----------
    landmarks : (68, 2) array_like
        Landmarks in the frame, pixels.
    params_global : (6,) array_like
        PDM global parameters of the same face (only ``tx, ty`` are used): the
        result of :func:`openau.geometry.fit_to_landmarks`, as OpenFace uses
        its own ``CalcParams`` here.
    pdm : PDMModel
    scale : float
        Aligned pixels per model millimetre.
    size : int
        Side of the square output, pixels.

    Returns
    -------
    (2, 3) float32 ndarray
        ``[A | -A t + size / 2]``, for :func:`cv2.warpAffine`.
    """
    points = _check(landmarks, pdm.n_points)
    glob = np.asarray(params_global, dtype=_F32)
    a = similarity_from_normalised(*normalise_points(points[_RIGID]), *_reference(pdm, scale))
    # OpenCV's Matx product: float32 sums of float32 products.
    tx, ty = glob[4], glob[5]
    centre = _F32(size // 2)
    warp = np.empty((2, 3), _F32)
    warp[:, :2] = a
    warp[0, 2] = -(a[0, 0] * tx + a[0, 1] * ty) + centre
    warp[1, 2] = -(a[1, 0] * tx + a[1, 1] * ty) + centre
    return warp


def face_mask(
    landmarks: np.ndarray,
    warp: np.ndarray,
    triangulation: np.ndarray,
    scale: float = ALIGNED_SCALE,
    size: int = ALIGNED_SIZE,
) -> np.ndarray:
    """The face region of the aligned image (OpenFace's ``PAW`` pixel mask).

    Parameters
    ----------
    landmarks : (68, 2) array_like
        Landmarks in the frame, pixels.
    warp : (2, 3) float32 ndarray
        From :func:`alignment_matrix`.
    triangulation : (t, 3) int32 ndarray
        ``tris_68_full.txt``.
    scale, size
        As for :func:`alignment_matrix`.

    Returns
    -------
    (size, size) bool ndarray
    """
    _mask_kernel = kernels("openau.align._mask_kernel")

    points = _check(landmarks)
    tris = triangulation
    if tris.dtype != np.int32 or not tris.flags.c_contiguous:
        tris = np.ascontiguousarray(tris, dtype=np.int32)
    mask = _mask_kernel.face_mask(
        points, np.asarray(warp, dtype=_F32), _LIFTED, LIFT_PER_SCALE * scale, tris, size, size
    )
    return mask.view(bool)


def align_face(
    image: np.ndarray,
    landmarks: np.ndarray,
    params_global: np.ndarray,
    pdm: PDMModel,
    triangulation: np.ndarray | None,
    scale: float = ALIGNED_SCALE,
    size: int = ALIGNED_SIZE,
) -> np.ndarray:
    """Similarity-align a face to the PDM mean shape and mask it.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) uint8 ndarray
        The frame, BGR.
    landmarks : (68, 2) array_like
        Landmarks in the frame, pixels.
    params_global : (6,) array_like
        PDM global parameters fitted to ``landmarks``.
    pdm : PDMModel
    triangulation : (t, 3) int32 ndarray or None
        The mask's triangles; ``None`` leaves the face unmasked.
    scale, size
        As for :func:`alignment_matrix`.

    Returns
    -------
    (size, size, 3) or (size, size) uint8 ndarray
        Pixels outside the frame and outside the mask are 0.

    Notes
    -----
    Reproduces OpenFace 2.2's aligned faces bit for bit on the reference
    clips, given the same frame and landmarks.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"image must be a uint8 (H, W[, 3]) array, got {img.dtype} {img.shape}")
    warp = alignment_matrix(landmarks, params_global, pdm, scale, size)
    aligned = cv2.warpAffine(img, warp, (size, size), flags=cv2.INTER_LINEAR)
    if triangulation is None:
        return aligned
    _mask_kernel = kernels("openau.align._mask_kernel")

    mask = face_mask(landmarks, warp, triangulation, scale, size)
    _mask_kernel.zero_outside(aligned.reshape(size, size, -1), mask.view(np.uint8))
    return aligned
