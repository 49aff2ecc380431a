"""Facial landmarks: OpenFace 2.2's CLNF (CCNF patch experts + PDM), tracked over video.

Public entry points: :class:`FaceTracker` for videos (one face, tracked frame to
frame with re-detection on failure, as FeatureExtraction does) and
:func:`detect_image_landmarks` for still images (every detected face, as
FaceLandmarkImg does). Both take a face detector through the small
:data:`Detector` interface and return :class:`LandmarkResult` values.
"""

from __future__ import annotations

from openau.landmarks.image import detect_image_landmarks
from openau.landmarks.model import LandmarkModel, load_landmark_model
from openau.landmarks.tracker import Detector, FaceTracker, LandmarkResult

__all__ = [
    "Detector",
    "FaceTracker",
    "LandmarkModel",
    "LandmarkResult",
    "detect_image_landmarks",
    "load_landmark_model",
]
