"""Tracking one face through a video, as OpenFace's FeatureExtraction does.

OpenFace's ``DetectLandmarksInVideo`` keeps one CLNF fit per video and, for
every frame:

* once tracking has started, fits from the previous frame's parameters, with
  small search windows after a successful frame and large ones after a failed
  one; the validator's confidence decides success;
* runs the face detector only when needed: every 12th frame (the 1st, 13th,
  25th, ...) until a face has been found, and on the 1st, 3rd, 5th, ...
  failed frame in a row once tracking has started. A detection restarts the
  fit from the widest detected box, trying eleven head rotations. The first
  detection (or the first after a reset) is kept even when the validator
  rejects it, and the frame is reported successful; a later re-detection is
  kept only if validated, otherwise the tracked estimate is restored;
* after more than 100 failures in a row, forgets the face and goes back to
  detecting every 12th frame.

Frames before the first detection report zero landmarks, zero shape, scale 1
and confidence 0 (OpenFace's freshly reset model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike

import cv2
import numpy as np

from openau.errors import InputError
from openau.landmarks.detection import (
    ROTATION_HYPOTHESES,
    Detection,
    PartFit,
    detect_from_box,
    detect_landmarks,
    initial_parts,
)
from openau.landmarks.model import LandmarkModel, load_landmark_model

__all__ = ["Detector", "FaceTracker", "LandmarkResult", "as_detector", "gray_frame"]

_F32 = np.float32

#: A face detector: BGR image in, ``(box, confidence)`` pairs out, where the box
#: is OpenFace's corrected MTCNN box ``(x, y, width, height)`` in pixels.
Detector = Callable[[np.ndarray], Sequence[tuple[np.ndarray, float]]]

#: Until a face is found, the detector runs on every this many frames.
DETECT_EVERY_UNTRACKED = 12
#: Once tracking, it runs on every this many failed frames in a row (1st, 3rd, ...).
DETECT_EVERY_FAILED = 2
#: Failures in a row after which the face is forgotten.
MAX_FAILURES = 100


@dataclass(frozen=True, eq=False)
class LandmarkResult:
    """What the landmark stage reports for one face in one frame.

    Attributes
    ----------
    landmarks : (68, 2) float32 ndarray
        Pixel coordinates (x, y), origin at the top-left pixel's centre.
    params_global : (6,) float32 ndarray
        ``(scale, rx, ry, rz, tx, ty)`` of the PDM fit.
    params_local : (34,) float32 ndarray
        Non-rigid PDM parameters.
    confidence : float
        Validator confidence in [0, 1] (OpenFace's ``detection_certainty``).
    success : bool
        What FeatureExtraction writes in its ``success`` column.
    detected : bool
        Whether the face detector ran on this frame.
    eye_landmarks : (56, 2) float32 ndarray
        The two 28-point eye models' landmarks (OpenFace's ``eye_lmk_x/y``),
        left eye part first.
    eye_params_global : (2, 6) float32 ndarray
        Global parameters of the two eye part models (for their 3-D shape).
    eye_params_local : (2, m) float32 ndarray
        Non-rigid parameters of the two eye part models.
    """

    landmarks: np.ndarray
    params_global: np.ndarray
    params_local: np.ndarray
    confidence: float
    success: bool
    detected: bool
    eye_landmarks: np.ndarray
    eye_params_global: np.ndarray
    eye_params_local: np.ndarray


def gray_frame(image_bgr: np.ndarray) -> np.ndarray:
    """The 8-bit grayscale frame OpenFace fits on (``cv::cvtColor`` BGR to gray).

    Raises
    ------
    InputError
        When the image is not ``(H, W, 3)`` or ``(H, W)`` uint8.
    """
    image = np.asarray(image_bgr)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise InputError(
            f"expected an (H, W, 3) uint8 BGR image, got {image.dtype} array of shape {image.shape}"
        )
    if image.ndim == 2:
        return image
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise InputError(f"expected 3 colour channels (BGR), got {image.shape[2]}")


def as_detector(detector) -> Detector:
    """Accept a :data:`Detector` callable or an :class:`~openau.detect.MTCNNDetector`.

    An object with a ``detect(image) -> FaceBoxes`` method is wrapped so that it
    yields its corrected boxes (the ones OpenFace starts CLNF from) with their
    confidences, in the detector's order.
    """
    detect = getattr(detector, "detect", None)
    if detect is None:
        if not callable(detector):
            raise InputError(
                f"detector must be callable or have a detect() method, got {type(detector).__name__}"
            )
        return detector

    def boxes(image_bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
        faces = detect(image_bgr)
        return [(box, float(c)) for box, c in zip(faces.corrected, faces.confidences)]

    return boxes


def _widest(detections: Sequence[tuple[np.ndarray, float]]) -> np.ndarray | None:
    """The widest box (the first of equals), as OpenFace's single-face MTCNN pick."""
    best = None
    for box in _valid_boxes(detections):
        if best is None or box[2] > best[2]:
            best = box
    return best


def _valid_boxes(detections: Sequence[tuple[np.ndarray, float]]) -> list[np.ndarray]:
    """The boxes as float32 ``(4,)`` arrays, dropping empty or non-finite ones."""
    boxes = []
    for box, _ in detections:
        box = np.asarray(box, _F32).reshape(4)
        if np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0:
            boxes.append(box)
    return boxes


@dataclass
class _State:
    """The per-video fit OpenFace keeps in its ``CLNF`` object."""

    params_global: np.ndarray
    params_local: np.ndarray
    landmarks: np.ndarray
    parts: tuple[PartFit, ...]
    likelihood: float = -10.0
    confidence: float = 0.0
    success: bool = False
    tracking: bool = False
    failures: int = -1

    def take(self, det: Detection) -> None:
        self.params_global = det.params_global
        self.params_local = det.params_local
        self.landmarks = det.landmarks
        self.parts = det.parts
        if det.likelihood is not None:
            self.likelihood = det.likelihood
        self.confidence = det.confidence
        self.success = det.success


class FaceTracker:
    """Track one face through consecutive video frames (OpenFace's FeatureExtraction).

    Parameters
    ----------
    models_root : path-like or LandmarkModel
        OpenFace's model store (or its ``model/`` folder), or a model loaded
        with :func:`~openau.landmarks.load_landmark_model` to share between trackers.
    detector : callable or MTCNNDetector
        ``detector(image_bgr) -> [(box, confidence), ...]`` with OpenFace's
        corrected MTCNN boxes ``(x, y, w, h)``, or an
        :class:`~openau.detect.MTCNNDetector` (its ``detect`` is used).

    Notes
    -----
    Feed every decoded frame, in order, to :meth:`track`; call :meth:`reset`
    between videos. The tracker is not thread-safe; use one per video.
    """

    def __init__(self, models_root: str | PathLike[str] | LandmarkModel, detector: Detector):
        if isinstance(models_root, LandmarkModel):
            self.model = models_root
        else:
            self.model = load_landmark_model(models_root)
        self.detector = as_detector(detector)
        self.reset()

    def reset(self) -> None:
        """Forget the face (start of a new video)."""
        pdm = self.model.main.pdm
        self._state = _State(
            params_global=np.array([1, 0, 0, 0, 0, 0], _F32),
            params_local=np.zeros(pdm.n_modes, _F32),
            landmarks=np.zeros((pdm.n_points, 2), _F32),
            parts=initial_parts(self.model),
        )

    def track(self, image_bgr: np.ndarray) -> LandmarkResult:
        """Fit the face in the next frame.

        Parameters
        ----------
        image_bgr : (H, W, 3) uint8 ndarray
            The frame, BGR as decoded.

        Returns
        -------
        LandmarkResult
        """
        gray = gray_frame(image_bgr)
        state = self._state
        model = self.model
        settings = model.main.settings
        first_fit = not state.tracking

        if state.tracking:
            windows = settings.windows_track if state.success else settings.windows_detect
            state.take(
                detect_landmarks(
                    model, gray, state.params_global, state.params_local, windows, state.parts
                )
            )
            state.failures = -1 if state.success else state.failures + 1

        run_detector = (
            not state.tracking and (state.failures + 1) % DETECT_EVERY_UNTRACKED == 0
        ) or (state.tracking and not state.success and state.failures % DETECT_EVERY_FAILED == 0)
        if run_detector:
            box = _widest(self.detector(image_bgr))
            if box is not None:
                state.tracking = True
                kept = (state.params_global, state.params_local, state.landmarks, state.likelihood)
                state.take(
                    detect_from_box(
                        model, gray, box, state.parts, ROTATION_HYPOTHESES, state.likelihood
                    )
                )
                if not first_fit and not state.success:
                    # A rejected re-detection: back to this frame's tracked fit
                    # (the validator's verdict on the detection stays).
                    (state.params_global, state.params_local, state.landmarks, state.likelihood) = (
                        kept
                    )
                    return self._result(False, True)
                state.failures = -1
                return self._result(True, True)

        if not state.tracking:
            state.failures += 1
        if state.failures > MAX_FAILURES:
            state.tracking = False
        return self._result(state.success, run_detector)

    def _result(self, success: bool, detected: bool) -> LandmarkResult:
        state = self._state
        eye_landmarks, eye_global, eye_local = _eye_arrays(self.model, state.parts)
        return LandmarkResult(
            landmarks=state.landmarks.copy(),
            params_global=state.params_global.copy(),
            params_local=state.params_local.copy(),
            confidence=float(state.confidence),
            success=bool(success),
            detected=bool(detected),
            eye_landmarks=eye_landmarks,
            eye_params_global=eye_global,
            eye_params_local=eye_local,
        )


def _eye_arrays(model: LandmarkModel, parts: tuple[PartFit, ...]):
    """Landmarks and parameters of the 28-point eye part models, in model order."""
    eyes = [fit for part, fit in zip(model.parts, parts) if part in model.eye_parts]
    if not eyes:
        return np.zeros((0, 2), _F32), np.zeros((0, 6), _F32), np.zeros((0, 0), _F32)
    return (
        np.concatenate([fit.landmarks for fit in eyes]),
        np.stack([fit.params_global for fit in eyes]),
        np.stack([fit.params_local for fit in eyes]),
    )
