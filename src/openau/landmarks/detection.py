"""One landmark detection: CLNF fit, hierarchical part refinement, validation.

This is OpenFace's ``CLNF::DetectLandmarks``: fit the 68-point model from an
initial estimate; refine the inner face and each eye with their own part
models (each initialised by fitting its PDM to the main landmarks it shares);
write the refined points back and refit the main PDM to all 68; finally ask
the CNN validator whether the result is a face. :func:`detect_from_box` adds
the multi-hypothesis start from a face box (``DetectLandmarksInImage``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openau.geometry import fit_to_landmarks, params_from_box, project
from openau.landmarks.fitting import FitResult, fit_clnf
from openau.landmarks.model import LandmarkModel, PartModel
from openau.landmarks.validation import validate_landmarks

__all__ = [
    "ROTATION_HYPOTHESES",
    "Detection",
    "PartFit",
    "detect_from_box",
    "detect_landmarks",
    "initial_parts",
]

_F32 = np.float32

#: Head rotations (rx, ry, rz, radians) tried when fitting from a detected box
#: in video (OpenFace's multi-view initialisation): frontal, yaw +-30, +-55,
#: roll +-30, yaw +-90, and yaw +-70 with roll -+40 degrees.
ROTATION_HYPOTHESES = (
    (0.0, 0.0, 0.0),
    (0.0, -0.5236, 0.0),
    (0.0, 0.5236, 0.0),
    (0.0, -0.96, 0.0),
    (0.0, 0.96, 0.0),
    (0.0, 0.0, 0.5236),
    (0.0, 0.0, -0.5236),
    (0.0, -1.57, 0.0),
    (0.0, 1.57, 0.0),
    (0.0, -1.22, 0.698),
    (0.0, 1.22, -0.698),
)

# Part models are refined only when the face is large enough that their
# (finer) patch experts would not upsample the image much.
_PART_MIN_RELATIVE_SCALE = 0.9


@dataclass(frozen=True, eq=False)
class PartFit:
    """A part model's state after a detection (OpenFace keeps it per part)."""

    params_global: np.ndarray
    params_local: np.ndarray
    landmarks: np.ndarray


@dataclass(frozen=True, eq=False)
class Detection:
    """The result of one :func:`detect_landmarks` call.

    Attributes
    ----------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    landmarks : (n, 2) float32 ndarray
        The model's projection of the parameters (after part refinement).
    likelihood : float or None
        Fit log-likelihood, None when the fit stopped before recording one.
    fitted : bool
        False when the face became too small to fit.
    success : bool
        ``fitted`` and, when validating, the validator's confidence above its boundary.
    confidence : float
        Validator confidence (without validation: 1 if fitted, else 0).
    parts : tuple of PartFit
        One per part model, in the model's order.
    """

    params_global: np.ndarray
    params_local: np.ndarray
    landmarks: np.ndarray
    likelihood: float | None
    fitted: bool
    success: bool
    confidence: float
    parts: tuple[PartFit, ...]


def initial_parts(model: LandmarkModel) -> tuple[PartFit, ...]:
    """Part states before any detection (OpenFace's freshly loaded part models)."""
    states = []
    for part in model.parts:
        pdm = part.model.pdm
        states.append(
            PartFit(
                params_global=np.array([1, 0, 0, 0, 0, 0], _F32),
                params_local=np.zeros(pdm.n_modes, _F32),
                landmarks=np.zeros((pdm.n_points, 2), _F32),
            )
        )
    return tuple(states)


def _refine_part(
    part: PartModel, image: np.ndarray, main_landmarks: np.ndarray, main_scale: float
) -> tuple[PartFit, bool]:
    pdm = part.model.pdm
    # Points the part does not share with the main model stay at 0, which the
    # PDM fit treats as missing.
    seed = np.zeros((pdm.n_points, 2), _F32)
    seed[part.part_index] = main_landmarks[part.main_index]
    glob, local = fit_to_landmarks(pdm, seed)
    used = main_scale > _PART_MIN_RELATIVE_SCALE * part.model.scales[0].scale
    if used:
        result = fit_clnf(image, part.model, glob, local, part.model.settings.windows_detect)
        glob, local = result.params_global, result.params_local
    return PartFit(glob, local, project(pdm, glob, local)), used


def detect_landmarks(
    model: LandmarkModel,
    gray: np.ndarray,
    params_global: np.ndarray,
    params_local: np.ndarray,
    windows: tuple[int, ...],
    parts: tuple[PartFit, ...],
    validate: bool = True,
    image: np.ndarray | None = None,
) -> Detection:
    """Fit, refine with the part models and validate (OpenFace's ``CLNF::DetectLandmarks``).

    Parameters
    ----------
    model : LandmarkModel
    gray : (H, W) uint8 ndarray
        Grayscale frame.
    params_global, params_local : float32 ndarray
        Initial estimate.
    windows : tuple of int
        Search windows of the main model per scale.
    parts : tuple of PartFit
        Current part states, kept when refinement is off.
    validate : bool
        Run the CNN validator (when the model has one).
    image : (H, W) float32 ndarray, optional
        ``gray`` as float32, to avoid converting it again.

    Returns
    -------
    Detection
    """
    if image is None:
        image = gray.astype(_F32)
    main = model.main
    fit = fit_clnf(image, main, params_global, params_local, windows)
    landmarks = project(main.pdm, fit.params_global, fit.params_local)
    return _refine_and_validate(
        model, gray, image, fit, landmarks, params_global, params_local, parts, validate
    )


def _refine_and_validate(
    model: LandmarkModel,
    gray: np.ndarray,
    image: np.ndarray,
    fit: FitResult,
    landmarks: np.ndarray,
    params_global: np.ndarray,
    params_local: np.ndarray,
    parts: tuple[PartFit, ...],
    validate: bool,
) -> Detection:
    """The rest of :func:`detect_landmarks` after the main fit (and its projection)."""
    main = model.main
    glob, local = fit.params_global, fit.params_local
    if not np.all(np.isfinite(landmarks)):
        # A numerically broken fit (OpenFace would carry NaNs on): report a
        # failure and keep the estimate it started from.
        glob = np.asarray(params_global, _F32)
        local = np.asarray(params_local, _F32)
        landmarks = project(main.pdm, glob, local)
        return Detection(glob, local, landmarks, None, False, False, 0.0, parts)

    if model.parts:
        refined = [_refine_part(p, image, landmarks, float(glob[0])) for p in model.parts]
        parts = tuple(state for state, _ in refined)
        if any(used for _, used in refined):
            merged = landmarks.copy()
            for part, state in zip(model.parts, parts):
                merged[part.main_index] = state.landmarks[part.part_index]
            glob, local = fit_to_landmarks(main.pdm, merged)
            landmarks = project(main.pdm, glob, local)

    likelihood = fit.likelihood
    if validate and model.validator is not None and fit.success:
        confidence = validate_landmarks(model.validator, gray, landmarks, glob[1:4])
        success = confidence > model.validation_boundary
    else:
        success = fit.success
        confidence = 1.0 if fit.success else 0.0
    return Detection(glob, local, landmarks, likelihood, fit.success, success, confidence, parts)


def detect_from_box(
    model: LandmarkModel,
    gray: np.ndarray,
    box: np.ndarray,
    parts: tuple[PartFit, ...],
    hypotheses: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),),
    likelihood: float = -10.0,
) -> Detection:
    """Detect landmarks in a face box, trying several initial head rotations.

    Each hypothesis starts from the mean shape rotated and fitted into the box;
    the fit with the highest likelihood wins, ties going to the earlier one
    (OpenFace's ``DetectLandmarksInImageMultiHypBasic``).

    Parameters
    ----------
    model : LandmarkModel
    gray : (H, W) uint8 ndarray
    box : (4,) array_like
        ``(x, y, width, height)``, pixels: OpenFace's corrected detector box.
    parts : tuple of PartFit
        Part states before the detection.
    hypotheses : sequence of (3,) rotations
    likelihood : float
        The model's likelihood before the call; a fit that records none
        (face too small) is ranked with the last value recorded.

    Returns
    -------
    Detection
        The best hypothesis' result (its ``likelihood`` is the value ranked).
    """
    image = gray.astype(_F32)
    main = model.main
    box_f = tuple(float(_F32(v)) for v in box)
    windows = main.settings.windows_detect
    # Only the main fit's likelihood ranks the hypotheses, and nothing of one
    # hypothesis carries into the next, so the part models and the validator
    # run for the winner alone: the result is the same as refining and
    # validating every hypothesis, as OpenFace does.
    best = None
    best_likelihood = None
    current = likelihood
    for rotation in hypotheses:
        local = np.zeros(main.pdm.n_modes, _F32)
        glob = params_from_box(main.pdm, box_f, local, rotation)
        fit = fit_clnf(image, main, glob, local, windows)
        landmarks = project(main.pdm, fit.params_global, fit.params_local)
        if fit.likelihood is not None and np.all(np.isfinite(landmarks)):
            current = fit.likelihood
        if best is None or best_likelihood < current:
            best, best_likelihood = (fit, landmarks, glob, local), current
    result = _refine_and_validate(model, gray, image, *best, parts, True)
    return Detection(
        result.params_global,
        result.params_local,
        result.landmarks,
        best_likelihood,
        result.fitted,
        result.success,
        result.confidence,
        result.parts,
    )
