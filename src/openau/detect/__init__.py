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

from openau._lazy import lazy_names

# Public name -> the module that defines it. Imported on first access, so that
# importing a light part (``openau.detect._runtime`` for the command line's
# --device choices) does not load numpy and every detector module.
_WHERE = {
    "BOX_CORRECTION": "_boxes",
    "apply_regression": "_boxes",
    "correct_for_landmarks": "_boxes",
    "non_maximum_suppression": "_boxes",
    "pnet_proposals": "_boxes",
    "square_boxes": "_boxes",
    "FaceBoxes": "_cascade",
    "MTCNNParams": "_cascade",
    "crop_patches": "_cascade",
    "pick_video_face": "_cascade",
    "pyramid_scales": "_cascade",
    "run_cascade": "_cascade",
    "MTCNNDetector": "_detector",
    "numpy_networks": "_detector",
    "build_onnx": "_onnx",
    "forward_numpy": "_oracle",
    "DEVICES": "_runtime",
    "check_device": "_runtime",
    "installed_devices": "_runtime",
}

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


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)
