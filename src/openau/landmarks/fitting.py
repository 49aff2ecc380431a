"""Fitting the PDM to patch responses: regularised landmark mean-shift, multi-scale.

At each scale OpenFace (``CLNF::Fit``) computes every landmark's CCNF response
map once, then runs NU-RLMS twice: first for the rigid parameters only, then
for all parameters with the PDM prior.

The response of a landmark's expert is computed on a square area around its
current position, cut out of the image rotated and scaled into the reference
frame the experts were trained in (the least-squares similarity between the
projected shape and the same shape unrotated at the experts' scale,
``AlignShapesWithScale``). At every offset of a ``window x window`` search
grid (``CCNF_patch_expert::ResponseOpenBlas``):

1. the ``h x w`` sub-patch is contrast-normalised (mean 0, norm 1);
2. each neuron computes ``2 alpha / (1 + exp(-(bias + norm_weight w . patch)))``
   and the neurons are summed;
3. the summed map is multiplied by the CCNF covariance ``Sigma`` (spatial
   smoothing by the edge potentials) and shifted to be non-negative.

Each NU-RLMS iteration then

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

One scale (responses and both passes) is one call of the compiled kernel
:func:`openau.landmarks._kernels.fit_scale`; this module chooses the view and
the settings of each scale.

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

from openau._native import kernels
from openau.landmarks import _array_cache
from openau.landmarks.model import CLNFModel, FitSettings

__all__ = ["FitResult", "ScaleFit", "fit_clnf", "fit_scale", "kde_table", "view_index"]

_F32 = np.float32
#: Grid step (reference-frame pixels) of OpenFace's precomputed mean-shift kernels.
KDE_STEP = _F32(0.1)
#: Below this scale (pixels per PDM millimetre, ~30 px faces) OpenFace gives up.
MIN_FACE_SCALE = 0.25
#: OpenFace records the likelihood early when the face gets this small.
_LIKELIHOOD_SCALE = 0.30
#: OpenFace adapts the fitting settings to the scale, up to the third one.
_MAX_REFINED_LEVEL = 2


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


@dataclass(frozen=True, eq=False)
class ScaleFit:
    """The outcome of :func:`fit_scale` at one scale.

    Attributes
    ----------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    likelihood : float or None
        Recorded on the last scale (or when the face got small).
    responses : (n, window, window) float32 ndarray
        The response maps; ``[i, y, x]`` scores landmark ``i`` at offset
        ``(x - window // 2, y - window // 2)`` in the reference frame's axes;
        zeros for landmarks invisible in the view.
    landmarks : (n, 2) float32 ndarray
        The landmarks (pixels) the maps are centred on.
    ref_to_img : (2, 2) float32 ndarray
        Linear part of the reference-frame-to-image similarity.
    """

    params_global: np.ndarray
    params_local: np.ndarray
    likelihood: float | None
    responses: np.ndarray
    landmarks: np.ndarray
    ref_to_img: np.ndarray


def view_index(view_centres: np.ndarray, params_global: np.ndarray) -> int:
    """The view whose orientation is nearest the head's (OpenFace's ``GetViewIdx``).

    Parameters
    ----------
    view_centres : (v, 3) ndarray
        Euler angles of the views, radians.
    params_global : (6,) float32 ndarray

    Returns
    -------
    int
        The first view at the smallest squared Euler-angle distance.
    """
    diff = np.asarray(params_global[1:4], _F32) - view_centres.astype(_F32)
    return int(np.argmin(np.sum(diff * diff, axis=1, dtype=_F32)))


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

    def compute() -> np.ndarray:
        grid = np.arange(steps, dtype=_F32) * KDE_STEP
        pixels = np.arange(window, dtype=_F32)
        sq = (grid[:, None] - pixels[None, :]) ** 2  # (steps, window), float32
        # table[x, y, i, j] = exp(a * (sq[y, i] + sq[x, j]))
        arg = _F32(a) * (sq[None, :, :, None] + sq[:, None, None, :])
        return np.exp(arg.astype(np.float64)).astype(_F32).reshape(steps * steps, window * window)

    # Tens of milliseconds for the large windows: kept on disk (read-only).
    inputs = (np.array([window], np.int64), np.array([a], _F32))
    return _array_cache.cached_array("kde", inputs, (steps * steps, window * window), compute)


def _grid_rows(window: int) -> int:
    """How many grid positions OpenFace tabulates per axis (``x < window / 0.1f``)."""
    limit = _F32(window) / KDE_STEP
    return math.ceil(float(limit))


def _grid_stride(window: int) -> int:
    return int(float(_F32(window) / KDE_STEP) + 0.5)


@lru_cache(maxsize=64)
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


def fit_scale(
    image: np.ndarray,
    model: CLNFModel,
    level: int,
    view: int,
    window: int,
    params_global: np.ndarray,
    params_local: np.ndarray,
    last_scale: bool = False,
    iterations: int | None = None,
) -> ScaleFit:
    """Patch responses and NU-RLMS at one scale (OpenFace's ``CLNF::Fit`` body).

    Parameters
    ----------
    image : (H, W) float32 ndarray
        Grayscale image, 0-255, C-contiguous.
    model : CLNFModel
    level : int
        The scale (index into ``model.scales``).
    view : int
        The view of that scale's experts to use (see :func:`view_index`).
    window : int
        Side of the search grid (odd); the map centre is the current position.
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    last_scale : bool
        This is the last scale fitted: record the likelihood. OpenFace also
        records it when the rigid pass leaves the face smaller than scale 0.3.
    iterations : int, optional
        NU-RLMS iterations per pass; the model's setting by default, 0 for
        the response maps alone.

    Returns
    -------
    ScaleFit
    """
    _kernels = kernels("openau.landmarks._kernels")

    pdm = model.pdm
    settings = model.settings
    experts = model.scales[level]
    expert = experts.views[view]
    # OpenFace adapts the settings by the scale, capped at the third one.
    capped = model.scales[min(level, _MAX_REFINED_LEVEL)].scale
    reg, sigma, weight = _scale_settings(settings, capped)
    sigma32 = _F32(sigma)
    a = _F32(-0.5 / float(sigma32 * sigma32))
    glob = np.array(params_global, _F32)
    local = np.array(params_local, _F32)
    h, w = expert.patch_shape
    n = pdm.n_points
    responses = np.empty((n, window, window), _F32)
    base = np.empty((n, 2), _F32)
    ref_to_img = np.empty((2, 2), _F32)
    lhood, recorded = _kernels.fit_scale(
        image,
        pdm.mean_shape,
        pdm.components,
        model.components_t,
        pdm.eigenvalues,
        glob,
        local,
        _F32(experts.scale),
        expert.index,
        expert.visible,
        h,
        w,
        expert.weights,
        expert.biases,
        expert.alphas2,
        expert.sigma_t(window),
        expert.landmark_weights(weight),
        kde_table(window, float(a)),
        _grid_stride(window),
        _F32(reg),
        sigma32,
        settings.iterations if iterations is None else iterations,
        last_scale,
        _LIKELIHOOD_SCALE,
        responses,
        base,
        ref_to_img,
    )
    likelihood = float(lhood) if recorded else None
    return ScaleFit(glob, local, likelihood, responses, base, ref_to_img)


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
        Grayscale image, 0-255, C-contiguous.
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
    n_scales = len(model.scales)
    likelihood = None
    view = 0
    for level, experts in enumerate(model.scales):
        window = windows[level] if level < len(windows) else 0
        if window == 0:
            continue
        if not (np.all(np.isfinite(glob)) and np.all(np.isfinite(local))):
            return FitResult(glob, local, False, likelihood, view)
        view = view_index(experts.view_centres, glob)
        last = level == n_scales - 1 or (level + 1 < len(windows) and windows[level + 1] == 0)
        fit = fit_scale(image, model, level, view, window, glob, local, last_scale=last)
        glob, local = fit.params_global, fit.params_local
        if fit.likelihood is not None:
            likelihood = fit.likelihood
        if glob[0] < MIN_FACE_SCALE:
            return FitResult(glob, local, False, likelihood, view)
    return FitResult(glob, local, True, likelihood, view)
