"""Finding, verifying and reading OpenFace 2.2's model files.

Only this package touches model files. Each reader returns frozen dataclasses
of numpy arrays; loaded models describe, they hold no per-frame state.
"""

from __future__ import annotations

from openau.models.au import (
    AUModelSet,
    FaceAnalyserModels,
    LinearAUModel,
    face_analyser_path,
    read_au_model,
    read_au_models,
    read_face_analyser,
)
from openau.models.pdm import PDMModel, read_pdm
from openau.models.triangulation import read_triangulation, read_triangulations

__all__ = [
    "AUModelSet",
    "FaceAnalyserModels",
    "LinearAUModel",
    "face_analyser_path",
    "read_au_model",
    "read_au_models",
    "read_face_analyser",
    "PDMModel",
    "read_pdm",
    "read_triangulation",
    "read_triangulations",
]
