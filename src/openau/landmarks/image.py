"""Landmarks of every face in a still image, as OpenFace's FaceLandmarkImg finds them.

FaceLandmarkImg runs the face detector once and fits the CLNF model in each
detected box, in the detector's order, with the settings of a first video
frame: large search windows at every scale, hierarchical part refinement and
the CNN validator, starting from the frontal mean shape (it does not try the
other head rotations, as the video tracker's re-detection does). Every face
yields a result, successful or not.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from openau.landmarks.detection import detect_from_box, initial_parts
from openau.landmarks.model import LandmarkModel, load_landmark_model
from openau.landmarks.tracker import (
    Detector,
    LandmarkResult,
    _eye_arrays,
    _valid_boxes,
    as_detector,
    gray_frame,
)

__all__ = ["detect_image_landmarks"]


def detect_image_landmarks(
    image_bgr: np.ndarray,
    models_root: str | PathLike[str] | LandmarkModel,
    detector: Detector,
) -> list[LandmarkResult]:
    """Fit landmarks to every face the detector finds in an image.

    Parameters
    ----------
    image_bgr : (H, W, 3) uint8 ndarray
    models_root : path-like or LandmarkModel
        OpenFace's model folder, or a loaded model (to avoid reloading it per image).
    detector : callable or MTCNNDetector
        ``detector(image_bgr) -> [(box, confidence), ...]``, OpenFace's corrected
        MTCNN boxes ``(x, y, w, h)``, or an :class:`~openau.detect.MTCNNDetector`.

    Returns
    -------
    list of LandmarkResult
        One per detected face, in the detector's order (boxes without area
        are skipped); ``success`` is the validator's verdict and ``detected``
        is True.
    """
    model = (
        models_root if isinstance(models_root, LandmarkModel) else load_landmark_model(models_root)
    )
    gray = gray_frame(image_bgr)
    results = []
    for box in _valid_boxes(as_detector(detector)(image_bgr)):
        det = detect_from_box(model, gray, box, initial_parts(model))
        eye_landmarks, eye_global, eye_local = _eye_arrays(model, det.parts)
        results.append(
            LandmarkResult(
                landmarks=det.landmarks,
                params_global=det.params_global,
                params_local=det.params_local,
                confidence=float(det.confidence),
                success=bool(det.success),
                detected=True,
                eye_landmarks=eye_landmarks,
                eye_params_global=eye_global,
                eye_params_local=eye_local,
            )
        )
    return results
