"""CCNF patch-expert responses for every landmark at once.

For each landmark, OpenFace cuts a square area around its current position out
of the image, rotated and scaled into the reference frame the experts were
trained in, and evaluates the expert at every offset of a ``window x window``
search grid (``Patch_experts::Response``, ``CCNF_patch_expert::ResponseOpenBlas``):

1. every ``h x w`` sub-patch is contrast-normalised (mean 0, norm 1);
2. each neuron computes ``2 alpha / (1 + exp(-(bias + norm_weight w . patch)))``
   and the neurons are summed;
3. the summed map is multiplied by the CCNF covariance ``Sigma`` (spatial
   smoothing by the edge potentials) and shifted to be non-negative.

Here steps 1-3 run for all visible landmarks in one compiled call
(:mod:`openau.landmarks._response_kernel`): per landmark, the search area is
sampled, laid out as an im2col matrix (one column per offset), normalised
column-wise and multiplied by the stacked neuron weights, then by ``Sigma``.

References
----------
.. [1] T. Baltrusaitis, P. Robinson, L.-P. Morency, "Constrained local neural
   fields for robust facial landmark detection in the wild", ICCV Workshops 2013.
"""

from __future__ import annotations

import numpy as np

from openau.geometry import project, similarity_transform
from openau.landmarks.model import ScaleExperts
from openau.models.pdm import PDMModel

__all__ = ["patch_responses", "reference_transforms", "view_index"]

_F32 = np.float32


def view_index(view_centres: np.ndarray, params_global: np.ndarray) -> int:
    """The view whose orientation is nearest the head's (OpenFace's ``GetViewIdx``).

    Parameters
    ----------
    view_centres : (v, 3) ndarray
        Euler angles of the views, radians.
    params_global : (6,) float32 ndarray

    Returns
    -------
    int
        The first view at the smallest squared Euler-angle distance.
    """
    diff = np.asarray(params_global[1:4], _F32) - view_centres.astype(_F32)
    return int(np.argmin(np.sum(diff * diff, axis=1, dtype=_F32)))


def reference_transforms(
    pdm: PDMModel, params_global: np.ndarray, params_local: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Similarity transforms between the image and the experts' reference frame.

    The reference frame holds the same (non-rigid) shape, unrotated, at the
    experts' scale; the transform is the least-squares similarity between the
    two point sets (OpenFace's ``AlignShapesWithScale``).

    Returns
    -------
    landmarks : (n, 2) float32 ndarray
        Current landmarks in the image, pixels.
    img_to_ref, ref_to_img : (2, 2) float32 ndarray
        Linear parts (scale and rotation) of the two transforms.
    """
    landmarks = project(pdm, params_global, params_local)
    ref_params = np.array([scale, 0, 0, 0, 0, 0], dtype=_F32)
    reference = project(pdm, ref_params, params_local)
    img_to_ref = similarity_transform(landmarks, reference)
    # 2x2 inverse by the adjugate in float32 (what cv::Matx22f::inv does).
    a, b = img_to_ref[0]
    c, d = img_to_ref[1]
    inv_det = _F32(1) / _F32(a * d - b * c)
    ref_to_img = np.array([[d * inv_det, -b * inv_det], [-c * inv_det, a * inv_det]], _F32)
    return landmarks, img_to_ref, ref_to_img


def _area_maps(centres: np.ndarray, ref_to_img: np.ndarray, side: int) -> np.ndarray:
    """Affine maps from each search area's pixels to the image.

    The area is ``side x side`` pixels of the reference frame, centred on the
    landmark, with the reference frame's axes (OpenFace's ``Patch_experts::Response``).
    """
    a1 = ref_to_img[0, 0]
    b1 = -ref_to_img[0, 1]
    half = _F32(side - 1.0)
    ha = a1 * half / _F32(2)
    hb = b1 * half / _F32(2)
    n = centres.shape[0]
    mats = np.empty((n, 2, 3), np.float32)
    mats[:, 0, 0] = a1
    mats[:, 0, 1] = -b1
    mats[:, 0, 2] = centres[:, 0] - ha + hb
    mats[:, 1, 0] = b1
    mats[:, 1, 1] = a1
    mats[:, 1, 2] = centres[:, 1] - ha - hb
    # cv::warpAffine takes the float matrix in double.
    return mats.astype(np.float64)


def patch_responses(
    image: np.ndarray,
    landmarks: np.ndarray,
    ref_to_img: np.ndarray,
    experts: ScaleExperts,
    view: int,
    window: int,
) -> np.ndarray:
    """Response maps of every landmark's patch expert around its current position.

    Parameters
    ----------
    image : (H, W) float32 ndarray
        Grayscale image, 0-255.
    landmarks : (n, 2) float32 ndarray
        Current landmark positions, pixels.
    ref_to_img : (2, 2) float32 ndarray
        Reference-to-image similarity (from :func:`reference_transforms`).
    experts : ScaleExperts
    view : int
        Index of the view to use.
    window : int
        Side of the search grid (odd); the map centre is the current position.

    Returns
    -------
    (n, window, window) float32 ndarray
        Non-negative responses; ``[i, y, x]`` scores landmark ``i`` at offset
        ``(x - window // 2, y - window // 2)`` in the reference frame's axes.
        Landmarks invisible in the view get zeros.
    """
    expert = experts.views[view]
    n = landmarks.shape[0]
    out = np.zeros((n, window, window), _F32)
    index = expert.index
    if index.size == 0:
        return out
    from openau.landmarks import _response_kernel  # numba: compiled on first use

    h, w = expert.patch_shape
    side = window + max(h, w) - 1
    mats = _area_maps(landmarks[index], ref_to_img, side)
    maps = np.empty((index.size, window * window), _F32)
    _response_kernel.ccnf_responses(
        np.ascontiguousarray(image, dtype=_F32),
        mats,
        side,
        h,
        w,
        window,
        expert.weights,
        expert.biases,
        expert.alphas2,
        expert.sigma_t(window),
        maps,
    )
    out[index] = maps.reshape(-1, window, window)
    return out
