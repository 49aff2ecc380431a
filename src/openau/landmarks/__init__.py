"""Facial landmarks: OpenFace 2.2's CLNF (CCNF patch experts + PDM), tracked over video.

Public entry points: :class:`FaceTracker` for videos (one face, tracked frame to
frame with re-detection on failure, as FeatureExtraction does) and
:func:`detect_image_landmarks` for still images (every detected face, as
FaceLandmarkImg does).
"""

from __future__ import annotations

from openau.landmarks.model import LandmarkModel, load_landmark_model

__all__ = ["LandmarkModel", "load_landmark_model"]
