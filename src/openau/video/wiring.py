"""openau's own stages, put together for one worker.

:func:`build_openau_stages` loads every model a worker needs once (MTCNN
configuration, CLNF patch experts, AU predictors, PDMs) and returns the
:class:`~openau.video.stages.Stages` the engine drives. The MTCNN detector's
ONNX Runtime sessions are created lazily by the detector itself, in the
thread that first detects (the engine's landmark thread).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from openau.au import AUAnalyser, LinearAUPredictor, predict_image_aus
from openau.detect import MTCNNDetector
from openau.geometry.camera import CameraIntrinsics, head_pose, landmarks_3d
from openau.landmarks import FaceTracker, detect_image_landmarks, load_landmark_model
from openau.models.au import read_face_analyser
from openau.video.config import ExtractConfig
from openau.video.stages import ImageFace, LandmarkResultLike, Stages, models_root

__all__ = ["build_openau_stages"]


def _detector_function(detector: MTCNNDetector):
    """The landmark stage's detector interface: image -> [(corrected box, confidence), ...]."""

    def detect(image_bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
        faces = detector.detect(image_bgr)
        return [(faces.corrected[i], float(faces.confidences[i])) for i in range(len(faces))]

    return detect


def _geometry(pdm, camera: tuple[float, float, float, float] | None):
    """Pose and 3-D landmarks per frame, with the given camera or OpenFace's default for the frame size."""

    def geometry(
        params_global: np.ndarray, params_local: np.ndarray, landmarks: np.ndarray, width: int, height: int
    ) -> tuple[np.ndarray, np.ndarray]:
        intrinsics = CameraIntrinsics(*camera) if camera else CameraIntrinsics.default(width, height)
        n = len(params_global)
        pose = np.empty((n, 6), np.float32)
        points = np.empty((n, landmarks.shape[1], 3), np.float32)
        for i in range(n):
            pose[i] = head_pose(pdm, params_global[i], params_local[i], landmarks[i], intrinsics)
            points[i] = landmarks_3d(pdm, params_global[i], params_local[i], landmarks[i], intrinsics)
        return pose, points

    return geometry


def build_openau_stages(config: ExtractConfig) -> Stages:
    """Load the detector, landmark, AU and geometry stages for one worker.

    Raises
    ------
    ModelsNotFoundError, ModelFileError
        The model folder is missing or a file in it is malformed.
    """
    root = models_root(config)
    # One thread per ONNX Runtime session unless told otherwise: a worker is
    # one of several, and its other stages run beside the detector.
    detector = MTCNNDetector(root, device=config.device, threads=config.threads or 1)
    landmark_model = load_landmark_model(root)
    detect = _detector_function(detector)
    tracker = FaceTracker(landmark_model, detect)
    dynamic = read_face_analyser(root, dynamic=True)
    static: list = []

    def new_analyser() -> AUAnalyser:
        return AUAnalyser(dynamic)

    boundary = np.float32(landmark_model.validation_boundary)

    def au_success(fit: LandmarkResultLike) -> bool:
        # OpenFace's AU stage gets the validator's verdict on this frame's fit;
        # the CSV says success on the frame where tracking (re)starts even
        # when the validator rejects that fit (the reference README).
        return bool(fit.success) and bool(np.float32(fit.confidence) > boundary)

    def analyse_image(image_bgr: np.ndarray) -> Sequence[ImageFace]:
        if not static:  # FaceLandmarkImg's static models, read on the first image
            models = read_face_analyser(root, dynamic=False)
            static.extend([models, LinearAUPredictor.from_models(models.aus)])
        faces = []
        for fit in detect_image_landmarks(image_bgr, landmark_model, detect):
            aus = predict_image_aus(image_bgr, fit.landmarks, static[0], static[1])
            faces.append(ImageFace(fit, aus.intensity, aus.presence, aus.intensity_names, aus.presence_names))
        return faces

    names = LinearAUPredictor.from_models(dynamic.aus)
    return Stages(
        tracker=tracker,
        new_analyser=new_analyser,
        geometry=_geometry(landmark_model.main.pdm, config.camera),
        analyse_image=analyse_image,
        intensity_names=tuple(names.intensity_names),
        presence_names=tuple(names.presence_names),
        au_success=au_success,
    )
