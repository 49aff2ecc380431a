"""Finding, verifying and reading OpenFace 2.2's model files.

Only this package touches model files. Each reader returns frozen dataclasses
of numpy arrays; loaded models describe, they hold no per-frame state.

Other stages get a file through the model store::

    store = resolve_models(explicit_folder_or_None)
    path = store.path("model/main_clnf_general.txt")

``download_models`` and the other names of :mod:`openau.models.download` are
imported on first use (they pull in ``urllib``).
"""

from __future__ import annotations

from openau.models.check import CheckReport, FileState, FileStatus, check_models
from openau.models.description import (
    CLNFDescription,
    MainModelDescription,
    PartDescription,
    PatchExpertFile,
    PatchExpertKind,
    clnf_model_files,
    read_clnf_description,
    read_face_detector_conversion,
    read_main_description,
)
from openau.models.manifest import Manifest, ManifestEntry, load_manifest
from openau.models.mtcnn import CNNModel, MTCNNModel, find_mtcnn_dir, read_cnn, read_mtcnn
from openau.models.pdm import PDMModel, read_pdm
from openau.models.store import ModelStore, locate_models, resolve_models
from openau.models.triangulation import read_triangulation, read_triangulations

__all__ = [
    "PDMModel",
    "read_pdm",
    "read_triangulation",
    "read_triangulations",
    # store
    "ModelStore",
    "locate_models",
    "resolve_models",
    "Manifest",
    "ManifestEntry",
    "load_manifest",
    "CheckReport",
    "FileState",
    "FileStatus",
    "check_models",
    "DownloadProgress",
    "DownloadResult",
    "download_models",
    # landmark-model description files
    "MainModelDescription",
    "PartDescription",
    "CLNFDescription",
    "PatchExpertFile",
    "PatchExpertKind",
    "read_main_description",
    "read_clnf_description",
    "read_face_detector_conversion",
    "clnf_model_files",
    # MTCNN face detector networks
    "CNNModel",
    "MTCNNModel",
    "find_mtcnn_dir",
    "read_cnn",
    "read_mtcnn",
]

_LAZY = {"DownloadProgress", "DownloadResult", "download_models"}


def __getattr__(name: str):
    if name in _LAZY:
        from openau.models import download

        return getattr(download, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
