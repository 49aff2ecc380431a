"""Fitting the PDM to patch responses: regularised landmark mean-shift, multi-scale.

At each scale OpenFace (``CLNF::Fit``) computes every landmark's response map
once, then runs NU-RLMS twice: first for the rigid parameters only, then for
all parameters with the PDM prior. Each iteration

1. projects the current shape and measures, in the experts' reference frame,
   how far each landmark moved from where its response map was centred;
2. takes a mean-shift step on each response map under a Gaussian kernel
   (looked up on a 0.1-pixel grid, as OpenFace precomputes it);
3. solves the regularised Gauss-Newton system
   ``(J^T W J + Lambda) dp = J^T W v - Lambda p`` for the parameter update
   (Saragih et al. 2011, eq. 36; Baltrusaitis et al. 2013 for ``W``),
   applies it and clamps the shape parameters to 3 standard deviations;

and stops after ``iterations`` steps or when the shape moves by less than
0.01 pixel. The non-rigid pass of the last scale also returns the fit's
log-likelihood, which ranks alternative initialisations.

References
----------
.. [1] J. Saragih, S. Lucey, J. Cohn, "Deformable model fitting by regularized
   landmark mean-shift", IJCV 2011.
.. [2] T. Baltrusaitis, P. Robinson, L.-P. Morency, "Constrained local neural
   fields for robust facial landmark detection in the wild", ICCV Workshops 2013.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from openau.landmarks.model import CLNFModel, ExpertView, FitSettings
from openau.landmarks.responses import patch_responses, reference_transforms, view_index

__all__ = ["FitResult", "fit_clnf", "kde_table", "nu_rlms"]

_F32 = np.float32
#: Grid step (reference-frame pixels) of OpenFace's precomputed mean-shift kernels.
KDE_STEP = _F32(0.1)
#: Below this scale (pixels per PDM millimetre, ~30 px faces) OpenFace gives up.
MIN_FACE_SCALE = 0.25
#: OpenFace records the likelihood early when the face gets this small.
_LIKELIHOOD_SCALE = 0.30


@dataclass(frozen=True)
class FitResult:
    """The outcome of :func:`fit_clnf`.

    Attributes
    ----------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    success : bool
        False when the face became too small to fit (scale < 0.25), or the
        parameters stopped being finite numbers.
    likelihood : float or None
        Mean log-likelihood of the visible landmarks at the last scale fitted;
        None when the fit stopped before recording one.
    view : int
        The view used at the last scale fitted.
    """

    params_global: np.ndarray
    params_local: np.ndarray
    success: bool
    likelihood: float | None
    view: int


@lru_cache(maxsize=32)
def kde_table(window: int, a: float) -> np.ndarray:
    """Gaussian kernels around every 0.1-pixel grid position of a response map.

    Row ``r * steps + c`` holds ``exp(a * ((c*0.1 - i)^2 + (r*0.1 - j)^2))`` for
    response pixel ``(row i, column j)``, flattened row-major, where ``r`` is
    the grid index along x and ``c`` along y (OpenFace's
    ``NonVectorisedMeanShift_precalc_kde``).

    Parameters
    ----------
    window : int
        Response side.
    a : float
        ``-0.5 / sigma^2`` (float32 value).

    Returns
    -------
    (steps^2, window^2) float32 ndarray, read-only
    """
    steps = _grid_rows(window)
    grid = np.arange(steps, dtype=_F32) * KDE_STEP
    pixels = np.arange(window, dtype=_F32)
    sq = (grid[:, None] - pixels[None, :]) ** 2  # (steps, window), float32
    # table[x, y, i, j] = exp(a * (sq[y, i] + sq[x, j]))
    arg = _F32(a) * (sq[None, :, :, None] + sq[:, None, None, :])
    table = np.exp(arg.astype(np.float64)).astype(_F32).reshape(steps * steps, window * window)
    table.setflags(write=False)
    return table


def _grid_rows(window: int) -> int:
    """How many grid positions OpenFace tabulates per axis (``x < window / 0.1f``)."""
    limit = _F32(window) / KDE_STEP
    return math.ceil(float(limit))


def _grid_stride(window: int) -> int:
    return int(float(_F32(window) / KDE_STEP) + 0.5)


def nu_rlms(
    model: CLNFModel,
    params_global: np.ndarray,
    params_local: np.ndarray,
    responses: np.ndarray,
    base_shape: np.ndarray,
    img_to_ref: np.ndarray,
    ref_to_img: np.ndarray,
    expert: ExpertView,
    reg_factor: float,
    sigma: float,
    weight_factor: float,
    iterations: int,
    last_scale: bool = False,
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """NU-RLMS at one scale: OpenFace's rigid then non-rigid ``CLNF::NU_RLMS`` passes.

    Both passes use the same response maps; the rigid pass updates only the
    6 global parameters, without the prior; the second updates all.

    Parameters
    ----------
    model : CLNFModel
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    responses : (n, s, s) float32 ndarray
        Response maps centred on ``base_shape``.
    base_shape : (n, 2) float32 ndarray
    img_to_ref, ref_to_img : (2, 2) float32 ndarray
    expert : ExpertView
        The view the responses came from (visibilities, reliabilities).
    reg_factor, sigma, weight_factor : float
        Prior weight, kernel width (reference-frame pixels) and scale of the
        per-landmark reliabilities (0: all landmarks weigh 1).
    iterations : int
        Per pass.
    last_scale : bool
        This is the last scale fitted: record the likelihood. OpenFace also
        records it when the rigid pass leaves the face smaller than scale 0.3.

    Returns
    -------
    params_global, params_local : float32 ndarrays
    likelihood : float or None
        Mean log kernel-weighted response at the final offsets of the second
        pass, when recorded.
    """
    from openau.landmarks import _kernels  # numba: compiled on first use

    pdm = model.pdm
    window = responses.shape[1]
    a = _F32(-0.5 / float(_F32(sigma) * _F32(sigma)))
    glob, local, lhood, recorded = _kernels.nu_rlms(
        pdm.mean_shape,
        pdm.components,
        pdm.eigenvalues,
        np.asarray(params_global, _F32),
        np.asarray(params_local, _F32),
        responses,
        base_shape,
        img_to_ref.astype(np.float64),
        ref_to_img.astype(np.float64),
        expert.visible,
        expert.landmark_weights(weight_factor),
        kde_table(window, float(a)),
        _grid_stride(window),
        _F32(reg_factor),
        _F32(sigma),
        iterations,
        last_scale,
        _LIKELIHOOD_SCALE,
    )
    return glob, local, float(lhood) if recorded else None


def _scale_settings(settings: FitSettings, patch_scale: float) -> tuple[float, float, float]:
    """Regulariser, sigma and weight factor at a scale (OpenFace's ``refine_parameters``)."""
    if not settings.refine_parameters:
        return settings.reg_factor, settings.sigma, settings.weight_factor
    octaves = math.log(patch_scale / 0.25) / math.log(2)
    reg = float(_F32(_F32(settings.reg_factor) - 15 * octaves))
    if reg <= 0:
        reg = 0.001
    sigma = float(_F32(_F32(settings.sigma) + 0.25 * octaves))
    weight = float(_F32(settings.weight_factor + 2 * settings.weight_factor * octaves))
    return reg, sigma, weight


def fit_clnf(
    image: np.ndarray,
    model: CLNFModel,
    params_global: np.ndarray,
    params_local: np.ndarray,
    windows: tuple[int, ...],
) -> FitResult:
    """Fit a CLNF model to an image from an initial estimate, coarse scale to fine.

    Parameters
    ----------
    image : (H, W) float32 ndarray
        Grayscale image, 0-255.
    model : CLNFModel
    params_global : (6,) float32 ndarray
        Initial ``(scale, rx, ry, rz, tx, ty)``.
    params_local : (m,) float32 ndarray
    windows : tuple of int
        Search window per scale; 0 skips the scale.

    Returns
    -------
    FitResult
    """
    glob = np.asarray(params_global, _F32)
    local = np.asarray(params_local, _F32)
    settings = model.settings
    n_scales = len(model.scales)
    likelihood = None
    view = 0
    for level, experts in enumerate(model.scales):
        window = windows[level] if level < len(windows) else 0
        if window == 0:
            continue
        if not (np.all(np.isfinite(glob)) and np.all(np.isfinite(local))):
            return FitResult(glob, local, False, likelihood, view)
        landmarks, img_to_ref, ref_to_img = reference_transforms(
            model.pdm, glob, local, experts.scale
        )
        view = view_index(experts.view_centres, glob)
        responses = patch_responses(image, landmarks, ref_to_img, experts, view, window)
        # OpenFace adapts the settings by the scale, capped at the third one.
        capped = model.scales[min(level, 2)].scale
        reg, sigma, weight = _scale_settings(settings, capped)
        last = level == n_scales - 1 or (level + 1 < len(windows) and windows[level + 1] == 0)
        glob, local, lhood = nu_rlms(
            model,
            glob,
            local,
            responses,
            landmarks,
            img_to_ref,
            ref_to_img,
            experts.views[view],
            reg,
            sigma,
            weight,
            settings.iterations,
            last_scale=last,
        )
        if lhood is not None:
            likelihood = lhood
        if glob[0] < MIN_FACE_SCALE:
            return FitResult(glob, local, False, likelihood, view)
    return FitResult(glob, local, True, likelihood, view)
