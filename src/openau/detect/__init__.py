"""Face detection: OpenFace 2.2's MTCNN (P-, R- and O-Net cascade) on ONNX Runtime.

Typical use (the landmark tracker's interface)::

    from openau.detect import MTCNNDetector, pick_video_face

    detector = MTCNNDetector(models_dir, device="auto")
    faces = detector.detect_faces(frames)      # list of FaceBoxes, one per frame
    k = pick_video_face(faces[0])              # the face FeatureExtraction tracks
    box = faces[0].corrected[k]                # [x, y, w, h] for CLNF initialisation

Boxes are float32 ``[x, y, w, h]`` in pixels of the frame (x = column, y = row,
OpenCV convention). ``FaceBoxes.boxes`` is the plain MTCNN box,
``FaceBoxes.corrected`` the box after OpenFace's fixed correction, the one CLNF
starts from.

The procedure is also a pure function, :func:`run_cascade`, over any three
network callables (ONNX Runtime sessions, or :func:`numpy_networks`).
"""

from __future__ import annotations

from openau.detect._boxes import (
    BOX_CORRECTION,
    apply_regression,
    correct_for_landmarks,
    non_maximum_suppression,
    pnet_proposals,
    square_boxes,
)
from openau.detect._cascade import (
    FaceBoxes,
    MTCNNParams,
    crop_patches,
    pick_video_face,
    pyramid_scales,
    run_cascade,
)
from openau.detect._detector import MTCNNDetector, numpy_networks
from openau.detect._onnx import build_onnx
from openau.detect._oracle import forward_numpy
from openau.detect._runtime import DEVICES, check_device, installed_devices

__all__ = [
    "MTCNNDetector",
    "FaceBoxes",
    "MTCNNParams",
    "pick_video_face",
    "run_cascade",
    "numpy_networks",
    "forward_numpy",
    "build_onnx",
    "DEVICES",
    "check_device",
    "installed_devices",
    "BOX_CORRECTION",
    "pyramid_scales",
    "pnet_proposals",
    "non_maximum_suppression",
    "apply_regression",
    "square_boxes",
    "crop_patches",
    "correct_for_landmarks",
]
