"""Everything the AU models read from one frame: aligned face, HOG, geometry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openau.align.face import ALIGNED_SCALE, ALIGNED_SIZE, align_face
from openau.features.fhog import HOG_DIM, hog_descriptor
from openau.features.geometry import geometry_descriptor, geometry_dim
from openau.geometry.pdm import N_GLOBAL, fit_to_landmarks
from openau.models.pdm import PDMModel

__all__ = ["FrameFeatures", "frame_features"]


@dataclass(frozen=True, eq=False)
class FrameFeatures:
    """The AU stage's view of one frame (immutable).

    Attributes
    ----------
    success : bool
        Whether the face was tracked; a failed frame has a black face, zero
        HOG, zero geometry and zero parameters, as in OpenFace.
    aligned_face : (112, 112, 3) uint8 ndarray
        BGR, masked (OpenFace's ``aligned/`` images).
    hog : (4464,) float64 ndarray
        FHOG of the aligned face in OpenFace's order (its ``.hog`` records).
    geometry : (238,) float64 ndarray
        :func:`openau.features.geometry.geometry_descriptor` of ``params_local``.
    params_global : (6,) float32 ndarray
        ``(scale, rx, ry, rz, tx, ty)`` of the AU stage's own PDM fit to the
        landmarks (OpenFace's ``FaceAnalyser`` re-fits them with ``CalcParams``).
    params_local : (34,) float32 ndarray
    """

    success: bool
    aligned_face: np.ndarray
    hog: np.ndarray
    geometry: np.ndarray
    params_global: np.ndarray
    params_local: np.ndarray

    @property
    def descriptor(self) -> np.ndarray:
        """``[hog, geometry]``, the ``(4702,)`` input of the AU models."""
        return np.concatenate([self.hog, self.geometry])


def frame_features(
    image: np.ndarray | None,
    landmarks: np.ndarray | None,
    success: bool,
    pdm: PDMModel,
    triangulation: np.ndarray,
) -> FrameFeatures:
    """Fit, align and describe one face as OpenFace's ``FaceAnalyser::AddNextFrame``.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray or None
        The frame, BGR. Unused (may be None) when ``success`` is False.
    landmarks : (68, 2) array_like or None
        The tracked landmarks, pixels. Unused when ``success`` is False.
    success : bool
        Whether tracking succeeded on this frame.
    pdm : PDMModel
    triangulation : (t, 3) int32 ndarray

    Returns
    -------
    FrameFeatures
    """
    if not success:
        return FrameFeatures(
            success=False,
            aligned_face=np.zeros((ALIGNED_SIZE, ALIGNED_SIZE, 3), np.uint8),
            # dlib's FHOG of an all-black image is exactly zero.
            hog=np.zeros(HOG_DIM),
            geometry=np.zeros(geometry_dim(pdm)),
            params_global=np.zeros(N_GLOBAL, np.float32),
            params_local=np.zeros(pdm.n_modes, np.float32),
        )
    if image is None or landmarks is None:
        raise ValueError("a successful frame needs its image and landmarks")
    params_global, params_local = fit_to_landmarks(pdm, landmarks)
    aligned = align_face(
        image, landmarks, params_global, pdm, triangulation, ALIGNED_SCALE, ALIGNED_SIZE
    )
    if aligned.ndim == 2:
        aligned = np.repeat(aligned[:, :, None], 3, axis=2)
    return FrameFeatures(
        success=True,
        aligned_face=aligned,
        hog=hog_descriptor(aligned),
        geometry=geometry_descriptor(pdm, params_local),
        params_global=params_global,
        params_local=params_local,
    )
