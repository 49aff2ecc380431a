"""Finding, verifying and reading OpenFace 2.2's model files.

Only this package touches model files. Each reader returns frozen dataclasses
of numpy arrays; loaded models describe, they hold no per-frame state.

Other stages get a file through the model store::

    store = resolve_models(explicit_folder_or_None)
    path = store.path("model/main_clnf_general.txt")

The names below are imported from their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openau._lazy import lazy_names

if TYPE_CHECKING:
    from openau.models.ccnf import CCNFPatchExperts, CCNFView, read_ccnf_patch_experts
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
    from openau.models.store import ModelStore, locate_models, resolve_models
    from openau.models.triangulation import read_triangulation, read_triangulations
    from openau.models.validator import DetectionValidator, read_detection_validator
    from openau.models.download import DownloadProgress, DownloadResult, download_models

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
    # landmark-model data files
    "CCNFPatchExperts",
    "CCNFView",
    "read_ccnf_patch_experts",
    "DetectionValidator",
    "read_detection_validator",
    # MTCNN face detector networks
    "CNNModel",
    "MTCNNModel",
    "find_mtcnn_dir",
    "read_cnn",
    "read_mtcnn",
]

# Each name is imported from its module on first use: a video run needs the
# readers, not the model check and its manifest (hashing, JSON, temporary
# files), nor the downloader (urllib); importing everything here cost about
# 30 ms of every process's start-up.
_SUBMODULE = {
    "CCNFPatchExperts": "ccnf",
    "CCNFView": "ccnf",
    "read_ccnf_patch_experts": "ccnf",
    "CheckReport": "check",
    "FileState": "check",
    "FileStatus": "check",
    "check_models": "check",
    "CLNFDescription": "description",
    "MainModelDescription": "description",
    "PartDescription": "description",
    "PatchExpertFile": "description",
    "PatchExpertKind": "description",
    "clnf_model_files": "description",
    "read_clnf_description": "description",
    "read_face_detector_conversion": "description",
    "read_main_description": "description",
    "Manifest": "manifest",
    "ManifestEntry": "manifest",
    "load_manifest": "manifest",
    "CNNModel": "mtcnn",
    "MTCNNModel": "mtcnn",
    "find_mtcnn_dir": "mtcnn",
    "read_cnn": "mtcnn",
    "read_mtcnn": "mtcnn",
    "AUModelSet": "au",
    "FaceAnalyserModels": "au",
    "LinearAUModel": "au",
    "face_analyser_path": "au",
    "read_au_model": "au",
    "read_au_models": "au",
    "read_face_analyser": "au",
    "PDMModel": "pdm",
    "read_pdm": "pdm",
    "ModelStore": "store",
    "locate_models": "store",
    "resolve_models": "store",
    "read_triangulation": "triangulation",
    "read_triangulations": "triangulation",
    "DetectionValidator": "validator",
    "read_detection_validator": "validator",
    "DownloadProgress": "download",
    "DownloadResult": "download",
    "download_models": "download",
}


__getattr__, __dir__ = lazy_names(__name__, _SUBMODULE, __all__)
