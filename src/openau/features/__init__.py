"""Features the AU models read: dlib's FHOG of the aligned face and the PDM geometry."""

from __future__ import annotations

from openau.features.fhog import CELL_SIZE, FHOG_CHANNELS, HOG_CELLS, HOG_DIM, fhog, hog_descriptor
from openau.features.frame import FrameFeatures, frame_features
from openau.features.geometry import geometry_descriptor, geometry_dim

__all__ = [
    "CELL_SIZE",
    "FHOG_CHANNELS",
    "HOG_CELLS",
    "HOG_DIM",
    "FrameFeatures",
    "fhog",
    "frame_features",
    "geometry_descriptor",
    "geometry_dim",
    "hog_descriptor",
]
