"""The loaded CLNF landmark model: PDM, patch experts per scale, part models, validator.

Loading turns OpenFace's files into arrays laid out for whole-face computation
(every landmark's neurons stacked into one weight tensor per view) and attaches
the fitting settings OpenFace's ``FaceModelParameters`` gives each model when
``FeatureExtraction`` runs with ``-mloc model/main_clnf_general.txt``. A loaded
model is immutable and can be shared by any number of trackers and threads; the
only thing it fills in later is a cache of the CCNF covariance matrices, which
are pure functions of the model (OpenFace computes them lazily as well).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from openau.errors import ModelFileError, ModelsNotFoundError
from openau.landmarks import _array_cache
from openau.models.ccnf import CCNFPatchExperts, CCNFView, read_ccnf_patch_experts
from openau.models.description import (
    PatchExpertKind,
    read_clnf_description,
    read_main_description,
)
from openau.models.pdm import PDMModel, read_pdm
from openau.models.store import ModelStore
from openau.models.validator import DetectionValidator, read_detection_validator

__all__ = [
    "MAIN_MODEL_FILE",
    "CLNFModel",
    "ExpertView",
    "FitSettings",
    "LandmarkModel",
    "PartModel",
    "ScaleExperts",
    "load_landmark_model",
]

#: The landmark model FeatureExtraction is run with (installed-layout path).
MAIN_MODEL_FILE = "model/main_clnf_general.txt"

#: Neurons with an alpha at or below this are skipped (OpenFace's CCNF response).
_MIN_ALPHA = 1e-4

_F32 = np.float32


@dataclass(frozen=True)
class FitSettings:
    """How one CLNF model is fitted (OpenFace's ``FaceModelParameters`` fields).

    Attributes
    ----------
    windows_detect : tuple of int
        Search window (response side) per scale on a first or re-detected fit;
        0 skips a scale.
    windows_track : tuple of int
        The same when tracking from a successful previous frame.
    reg_factor : float
        Weight of the PDM prior on the non-rigid parameters.
    sigma : float
        Standard deviation (pixels in the reference frame) of the mean-shift kernel.
    weight_factor : float
        Scale of the per-landmark expert reliabilities (NU-RLMS); 0 weighs
        every landmark equally.
    iterations : int
        Maximum NU-RLMS iterations per scale, for each of the rigid and the
        non-rigid pass.
    refine_parameters : bool
        Lower the regulariser and widen sigma at finer scales, as OpenFace does
        for the main model.
    """

    windows_detect: tuple[int, ...]
    windows_track: tuple[int, ...]
    reg_factor: float
    sigma: float
    weight_factor: float
    iterations: int = 5
    refine_parameters: bool = False


# OpenFace's defaults for the main model (FaceModelParameters::init with a
# CLNF model location): large windows on a detection, small ones when tracking.
MAIN_SETTINGS = FitSettings(
    windows_detect=(11, 9, 7, 5),
    windows_track=(0, 9, 7, 0),
    reg_factor=25.0,
    sigma=1.5,
    weight_factor=0.0,
    iterations=5,
    refine_parameters=True,
)

# Part models get FaceModelParameters built without a model location, so the
# default CE-CLM location scales sigma by 1.5 and the regulariser by 0.9 before
# CLNF::Read overrides what it sets for known part names.
_PART_DEFAULT = FitSettings(
    windows_detect=(11, 9, 7, 5),
    windows_track=(11, 9, 7, 5),
    reg_factor=25.0 * 0.9,
    sigma=1.5 * 1.5,
    weight_factor=0.0,
)
_PART_SETTINGS = {
    "left_eye": FitSettings((5, 3), (5, 3), reg_factor=0.1, sigma=2.0, weight_factor=0.0),
    "right_eye": FitSettings((5, 3), (5, 3), reg_factor=0.1, sigma=2.0, weight_factor=0.0),
    "left_eye_28": FitSettings((3, 5, 9), (3, 5, 9), reg_factor=0.5, sigma=1.0, weight_factor=0.0),
    "right_eye_28": FitSettings((3, 5, 9), (3, 5, 9), reg_factor=0.5, sigma=1.0, weight_factor=0.0),
    "mouth": FitSettings((7, 7), (7, 7), reg_factor=1.0, sigma=2.0, weight_factor=0.0),
    "brow": FitSettings((11, 9), (11, 9), reg_factor=10.0, sigma=3.5, weight_factor=0.0),
    "inner": FitSettings((9,), (9,), reg_factor=2.5, sigma=1.75, weight_factor=2.5),
}


def part_settings(name: str) -> FitSettings:
    """The fitting settings OpenFace gives a part model of this name."""
    return _PART_SETTINGS.get(name, _PART_DEFAULT)


@dataclass(frozen=True, eq=False)
class ExpertView:
    """One view's patch experts laid out for computing every landmark at once.

    Attributes
    ----------
    visible : (n,) bool ndarray
    index : (v,) int64 ndarray
        Indices of the visible landmarks.
    patch_shape : (h, w)
        Support of each expert, pixels of the reference frame.
    weights : (v, h * w, k) float32 ndarray
        Neuron weights times their norm weights, patch pixels row-major.
    biases : (v, k) float32 ndarray
    alphas2 : (v, k) float32 ndarray
        ``2 alpha`` of each neuron, 0 for neurons OpenFace skips (alpha <= 1e-4).
    confidences : (n,) float32 ndarray
        Expert reliabilities (0 where invisible).
    """

    visible: np.ndarray
    index: np.ndarray
    patch_shape: tuple[int, int]
    weights: np.ndarray
    biases: np.ndarray
    alphas2: np.ndarray
    confidences: np.ndarray
    _sum_alphas: np.ndarray = field(repr=False)
    _betas: np.ndarray = field(repr=False)
    _components: CCNFPatchExperts = field(repr=False)
    # Derived arrays computed on first use. Two threads may both compute one;
    # they get equal arrays, so the cache needs no lock (and pickles).
    _cache: dict = field(default_factory=dict, repr=False)

    def sigma(self, window: int) -> np.ndarray:
        """The CCNF covariance of each visible landmark's response for a window size.

        ``Sigma = (2 (sum(alpha) I + sum_b beta_b S_b))^-1`` with ``S_b`` the
        file's similarity components for this window (none when the file has
        none: the edge potentials then vanish), as OpenFace's
        ``CCNF_patch_expert::ComputeSigmas``.

        Returns
        -------
        (v, window^2, window^2) float32 ndarray
            Read-only (a transposed view of :meth:`sigma_t`'s cached array).
        """
        return self.sigma_t(window).transpose(0, 2, 1)

    def __getstate__(self):
        # Derived arrays (tens of MB of covariances) are recomputed or
        # re-mapped where the model is unpickled, not copied with it.
        return {**self.__dict__, "_cache": {}}

    def landmark_weights(self, weight_factor: float) -> np.ndarray:
        """NU-RLMS weights ``(n,)`` float32: ``weight_factor`` times the expert
        reliabilities, or 1 when ``weight_factor`` is 0 (OpenFace's unweighted
        RLMS); 0 for invisible landmarks either way (they are left out)."""
        key = ("weights", float(weight_factor))
        cached = self._cache.get(key)
        if cached is None:
            if weight_factor > 0:
                cached = _F32(weight_factor) * self.confidences
            else:
                cached = np.ones(self.visible.shape[0], _F32)
            cached = np.where(self.visible, cached, _F32(0)).astype(_F32)
            cached.setflags(write=False)
            self._cache[key] = cached
        return cached

    def sigma_t(self, window: int) -> np.ndarray:
        """:meth:`sigma` transposed (contiguous), as the response kernel reads it.

        Computed on first use per window size and kept (OpenFace computes its
        ``Sigmas`` lazily too); the costly ones (with similarity components)
        also in the per-user disk cache (:mod:`openau.landmarks._array_cache`).
        """
        cached = self._cache.get(window)
        if cached is None:
            cached = self._load_sigma_t(window)
            self._cache[window] = cached
        return cached

    def _load_sigma_t(self, window: int) -> np.ndarray:
        size = window * window
        comps = self._components.components_for(window)
        if comps is None:
            comps = np.zeros((0, size, size), _F32)
        betas = np.ascontiguousarray(self._betas[:, : comps.shape[0]], dtype=_F32)

        def compute() -> np.ndarray:
            sigma = _ccnf_sigma(self._sum_alphas, betas, comps)
            return np.ascontiguousarray(sigma.transpose(0, 2, 1))

        if comps.shape[0] == 0:
            # Diagonal, cheap: not worth a file.
            sigma_t = compute()
            sigma_t.setflags(write=False)
            return sigma_t
        inputs = (self._sum_alphas, betas, comps)
        shape = (len(self.index), size, size)
        return _array_cache.cached_array("ccnf-sigma", inputs, shape, compute)


def _ccnf_sigma(sum_alphas: np.ndarray, betas: np.ndarray, comps: np.ndarray) -> np.ndarray:
    """``(2 (sum(alpha) I + sum_b beta_b S_b))^-1`` per landmark, ``(v, s, s)`` float32.

    The matrix is summed in float32 term by term, as OpenFace does, and
    inverted in float64 (OpenFace: float32 Cholesky; the matrices are well
    conditioned, so the two agree to float32 rounding).
    """
    size = comps.shape[1]
    q2 = np.zeros((betas.shape[0], size, size), _F32)
    for b in range(comps.shape[0]):
        q2 += betas[:, b, None, None] * comps[b]
    identity = np.eye(size, dtype=_F32)
    inverse = _F32(2) * (sum_alphas[:, None, None] * identity + q2)
    return np.linalg.inv(inverse.astype(np.float64)).astype(_F32)


@dataclass(frozen=True, eq=False)
class ScaleExperts:
    """The patch experts of one scale."""

    scale: float
    view_centres: np.ndarray
    views: tuple[ExpertView, ...]


@dataclass(frozen=True, eq=False)
class CLNFModel:
    """A CLNF model: its PDM, patch experts per scale (coarse to fine), settings.

    ``components_t`` is the PDM's ``(m, n, 3)`` components with the mode axis
    first, the layout the compiled shape computation reads.
    """

    pdm: PDMModel
    scales: tuple[ScaleExperts, ...]
    settings: FitSettings
    components_t: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        comps_t = np.ascontiguousarray(self.pdm.components.transpose(2, 0, 1))
        comps_t.setflags(write=False)
        object.__setattr__(self, "components_t", comps_t)


@dataclass(frozen=True, eq=False)
class PartModel:
    """A hierarchical part model refined after the main fit.

    Attributes
    ----------
    name : str
    model : CLNFModel
    main_index, part_index : (k,) int64 ndarray
        Landmark ``main_index[j]`` of the main model is landmark
        ``part_index[j]`` of the part.
    """

    name: str
    model: CLNFModel
    main_index: np.ndarray
    part_index: np.ndarray


@dataclass(frozen=True, eq=False)
class LandmarkModel:
    """Everything landmark detection and tracking needs, loaded once and shared."""

    main: CLNFModel
    parts: tuple[PartModel, ...]
    validator: DetectionValidator | None
    validation_boundary: float = 0.725

    @property
    def eye_parts(self) -> tuple[PartModel, ...]:
        """The 28-point eye part models, in file order (OpenFace's eye landmarks)."""
        return tuple(p for p in self.parts if p.name in ("left_eye_28", "right_eye_28"))


def _prepare_view(view: CCNFView, components: CCNFPatchExperts) -> ExpertView:
    index = np.flatnonzero(view.visible)
    _, k, h, w = view.weights.shape
    weights = view.weights[index].reshape(len(index), k, h * w)
    norm = view.norm_weights[index].astype(_F32)
    folded = np.ascontiguousarray((weights * norm[:, :, None]).transpose(0, 2, 1), dtype=_F32)
    alphas = view.alphas[index]
    alphas2 = np.where(alphas > _MIN_ALPHA, 2.0 * alphas, 0.0).astype(_F32)
    # OpenFace accumulates the alphas (double) into a float, one at a time.
    sum_alphas = np.zeros(len(index), _F32)
    for j in range(k):
        sum_alphas = (sum_alphas.astype(np.float64) + alphas[:, j]).astype(_F32)
    confidences = np.where(view.visible, view.confidences, 0.0).astype(_F32)
    arrays = (index, folded, alphas2, confidences, sum_alphas)
    for arr in arrays:
        arr.setflags(write=False)
    biases = view.biases[index].astype(_F32)
    biases.setflags(write=False)
    return ExpertView(
        visible=view.visible,
        index=index,
        patch_shape=(h, w),
        weights=folded,
        biases=biases,
        alphas2=alphas2,
        confidences=confidences,
        _sum_alphas=sum_alphas,
        _betas=view.betas[index],
        _components=components,
    )


def load_clnf(description: Path, settings: FitSettings) -> CLNFModel:
    """Load a CLNF model (its PDM and CCNF patch experts) from its CLNF file."""
    files = read_clnf_description(description)
    pdm = read_pdm(files.pdm)
    for expert in files.patch_experts:
        if expert.kind is not PatchExpertKind.CCNF:
            raise ModelFileError(
                files.path, "whole file", f"{expert.kind.value} experts are not supported"
            )
    experts = [read_ccnf_patch_experts(e.path) for e in files.patch_experts]
    # OpenFace keeps the similarity components of the last file read and uses
    # them at every scale.
    components = experts[-1]
    scales = []
    for path, exp in zip(files.patch_experts, experts):
        if exp.n_points != pdm.n_points:
            raise ModelFileError(
                path.path,
                "whole file",
                f"{exp.n_points} landmarks, but the PDM {files.pdm.name} has {pdm.n_points}",
            )
        centres = exp.view_centres
        centres.setflags(write=False)
        views = tuple(_prepare_view(v, components) for v in exp.views)
        scales.append(ScaleExperts(scale=exp.scale, view_centres=centres, views=views))
    return CLNFModel(pdm=pdm, scales=tuple(scales), settings=settings)


def load_landmark_model(models_root: str | PathLike[str] | ModelStore) -> LandmarkModel:
    """Load OpenFace's CLNF landmark model as FeatureExtraction uses it.

    Parameters
    ----------
    models_root : path-like or ModelStore
        OpenFace's model folder (holding ``model/``), or a resolved model store.

    Returns
    -------
    LandmarkModel

    Raises
    ------
    ModelsNotFoundError
        When ``model/main_clnf_general.txt`` is not there.
    ModelFileError
        When a model file is malformed.
    """
    store = models_root if isinstance(models_root, ModelStore) else ModelStore.at(models_root)
    main_path = store.path(MAIN_MODEL_FILE)
    if not main_path.is_file():
        raise ModelsNotFoundError(
            f"{main_path} not found; point models_root at OpenFace's model folder "
            "(the one holding model/ and AU_predictors/)"
        )
    main = read_main_description(main_path)
    model = load_clnf(main.landmark_detector, MAIN_SETTINGS)
    parts = []
    for part in main.parts:
        part_main = read_main_description(part.path)
        mapping = np.asarray(part.mapping, dtype=np.int64)
        parts.append(
            PartModel(
                name=part.name,
                model=load_clnf(part_main.landmark_detector, part_settings(part.name)),
                main_index=mapping[:, 0].copy(),
                part_index=mapping[:, 1].copy(),
            )
        )
    validator = read_detection_validator(main.validator) if main.validator else None
    return LandmarkModel(main=model, parts=tuple(parts), validator=validator)
