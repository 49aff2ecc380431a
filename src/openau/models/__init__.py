"""Finding, verifying and reading OpenFace 2.2's model files.

Only this package touches model files. Each reader returns frozen dataclasses
of numpy arrays; loaded models describe, they hold no per-frame state.
"""

from __future__ import annotations

from openau.models.mtcnn import CNNModel, MTCNNModel, find_mtcnn_dir, read_cnn, read_mtcnn
from openau.models.pdm import PDMModel, read_pdm
from openau.models.triangulation import read_triangulation, read_triangulations

__all__ = [
    "CNNModel",
    "MTCNNModel",
    "find_mtcnn_dir",
    "read_cnn",
    "read_mtcnn",
    "PDMModel",
    "read_pdm",
    "read_triangulation",
    "read_triangulations",
]
