"""Readers for OpenFace 2.2's AU predictors (``AU_predictors/``).

Three layers of files:

* ``main_dynamic_svms.txt`` / ``main_static_svms.txt`` (OpenFace's
  ``FaceAnalyser::Read``): lines ``AUPredictor <list>``, ``PDM <file>`` and
  ``Triangulation <file>``, paths relative to the file's folder. Videos use the
  dynamic set, images the static one.
* the list, e.g. ``AU_all_best.txt`` (``FaceAnalyser::ReadAU``): one line per
  model file, ``<path> <AU name>``, naming for each AU the model chosen
  (static or dynamic) for intensity and for presence.
* the model files (``ReadRegressor`` and the ``SVR_*``/``SVM_*`` readers),
  binary little-endian: ``int32`` model type, for dynamic regressors a
  ``float64`` cutoff, a ``1 x d`` matrix of feature means, a ``d x 1`` matrix
  of weights, a ``float64`` bias, and for classifiers two ``float64`` values
  reported for a positive and a non-positive score.

Every model is linear: ``score = (features - means [- running median]) @ weights + bias``,
with ``features`` the 4464 HOG values followed by the 238 geometry values.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from openau.errors import ModelFileError
from openau.models._reader import BinaryReader, TextReader
from openau.models.pdm import PDMModel, read_pdm
from openau.models.triangulation import read_triangulation

__all__ = [
    "LinearAUModel",
    "AUModelSet",
    "FaceAnalyserModels",
    "read_au_model",
    "read_au_models",
    "read_face_analyser",
    "face_analyser_path",
]

# OpenFace's RegressorType codes that FaceAnalyser reads; other codes exist in
# its enum but no reader handles them.
_SVR_STATIC, _SVR_DYNAMIC, _SVM_STATIC, _SVM_DYNAMIC = 0, 1, 4, 5
_KINDS = {
    _SVR_STATIC: ("intensity", False),
    _SVR_DYNAMIC: ("intensity", True),
    _SVM_STATIC: ("presence", False),
    _SVM_DYNAMIC: ("presence", True),
}
#: A dynamic regressor's cutoff of -1 means "no offset correction".
_NO_CUTOFF = -1.0
_MAIN_FILES = {True: "main_dynamic_svms.txt", False: "main_static_svms.txt"}


@dataclass(frozen=True, eq=False)
class LinearAUModel:
    """One AU's linear SVR (intensity) or SVM (presence); immutable.

    Attributes
    ----------
    au : str
        AU name as OpenFace writes it, e.g. ``"AU01"``.
    task : {"intensity", "presence"}
    dynamic : bool
        Whether the model expects person-normalised features (the running
        median subtracted); such models are only used for videos.
    means : (d,) float64 ndarray
        Feature means subtracted before the dot product.
    weights : (d,) float64 ndarray
    bias : float
    cutoff : float or None
        Dynamic intensity models: the fraction of a video's frames assumed
        neutral; the prediction at that quantile is subtracted in OpenFace's
        offline post-processing. None when the file has no cutoff (-1).
    positive, negative : float or None
        Presence models: the value reported for a score above 0, and for one
        at or below 0 (OpenFace's files use 1/0 or, for some AUs, 0/1).
    source : str
        The file it was read from.
    """

    au: str
    task: str
    dynamic: bool
    means: np.ndarray
    weights: np.ndarray
    bias: float
    cutoff: float | None
    positive: float | None
    negative: float | None
    source: str

    @property
    def n_features(self) -> int:
        """Feature dimension ``d``."""
        return self.weights.shape[0]


@dataclass(frozen=True, eq=False)
class AUModelSet:
    """The AU models of one predictor list, in file order (immutable).

    Attributes
    ----------
    models : tuple of LinearAUModel
        In the order of the list file (OpenFace groups models by type in this
        order; see :mod:`openau.au.predict`).
    source : str
    """

    models: tuple[LinearAUModel, ...]
    source: str

    def _sorted(self, task: str) -> tuple[LinearAUModel, ...]:
        return tuple(sorted((m for m in self.models if m.task == task), key=lambda m: m.au))

    @property
    def intensity(self) -> tuple[LinearAUModel, ...]:
        """Intensity models sorted by AU name (OpenFace's CSV order)."""
        return self._sorted("intensity")

    @property
    def presence(self) -> tuple[LinearAUModel, ...]:
        """Presence models sorted by AU name (OpenFace's CSV order)."""
        return self._sorted("presence")

    @property
    def intensity_names(self) -> tuple[str, ...]:
        return tuple(m.au for m in self.intensity)

    @property
    def presence_names(self) -> tuple[str, ...]:
        return tuple(m.au for m in self.presence)

    @property
    def n_features(self) -> int:
        return self.models[0].n_features


@dataclass(frozen=True, eq=False)
class FaceAnalyserModels:
    """Everything OpenFace's ``FaceAnalyser`` loads: AU models, PDM, mask triangles.

    Attributes
    ----------
    aus : AUModelSet
    pdm : PDMModel
        ``AU_predictors/In-the-wild_aligned_PDM_68.txt`` (the same model as the
        landmark detector's).
    triangulation : (t, 3) int32 ndarray
        ``tris_68_full.txt``, the mask of the aligned face.
    dynamic : bool
        True for the video set (``main_dynamic_svms.txt``).
    """

    aus: AUModelSet
    pdm: PDMModel
    triangulation: np.ndarray
    dynamic: bool


def _matrix(reader: BinaryReader, what: str) -> np.ndarray:
    start = reader.pos
    matrix = reader.matrix()
    if matrix.size == 0:
        raise reader.error(f"{what} matrix is empty", start)
    values = matrix.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise reader.error(f"{what} matrix holds non-finite values", start)
    return values


def _finite(reader: BinaryReader, what: str) -> float:
    start = reader.pos
    value = reader.f64()
    if not np.isfinite(value):
        raise reader.error(f"{what} is not finite ({value})", start)
    return value


def read_au_model(path: str | PathLike[str], au: str) -> LinearAUModel:
    """Read one binary AU model file.

    Parameters
    ----------
    path : path-like
        E.g. ``AU_predictors/svr_combined/AU_1_dynamic_intensity_comb.dat``.
    au : str
        The AU it predicts, as named in the list file.

    Returns
    -------
    LinearAUModel

    Raises
    ------
    ModelFileError
        Unknown model type, truncated file, inconsistent matrix sizes,
        non-finite values or trailing bytes; the message names the byte offset.
    """
    reader = BinaryReader(path)
    kind = reader.i32()
    if kind not in _KINDS:
        raise reader.error(
            f"unsupported AU model type {kind} (expected one of {sorted(_KINDS)})", 0
        )
    task, dynamic = _KINDS[kind]
    cutoff: float | None = None
    if kind == _SVR_DYNAMIC:
        at = reader.pos
        cutoff = _finite(reader, "cutoff")
        if cutoff == _NO_CUTOFF:
            cutoff = None
        elif not 0.0 <= cutoff < 1.0:
            raise reader.error(f"cutoff must be in [0, 1) or -1, got {cutoff}", at)
    means_at = reader.pos
    means = _matrix(reader, "means")
    weights_at = reader.pos
    weights = _matrix(reader, "support vector")
    if means.shape[0] != 1:
        raise reader.error(f"means must be a row vector, got shape {means.shape}", means_at)
    if weights.shape != (means.shape[1], 1):
        raise reader.error(
            f"support vector must be ({means.shape[1]}, 1) to match the means, "
            f"got {weights.shape}",
            weights_at,
        )
    bias = _finite(reader, "bias")
    positive = negative = None
    if task == "presence":
        positive = _finite(reader, "positive class value")
        negative = _finite(reader, "negative class value")
    if not reader.at_end():
        raise reader.error(f"{reader.remaining()} unexpected bytes after the model")
    means = means.reshape(-1)
    weights = weights.reshape(-1)
    means.setflags(write=False)
    weights.setflags(write=False)
    return LinearAUModel(
        au=au,
        task=task,
        dynamic=dynamic,
        means=means,
        weights=weights,
        bias=bias,
        cutoff=cutoff,
        positive=positive,
        negative=negative,
        source=str(path),
    )


def read_au_models(path: str | PathLike[str]) -> AUModelSet:
    """Read a predictor list (``AU_all_best.txt``) and every model it names.

    Each data line is ``<relative path> <AU name>``.

    Raises
    ------
    ModelFileError
        Malformed lines, a model file that cannot be read, two models for the
        same AU and task, or models of different feature dimensions.
    """
    reader = TextReader(path)
    root = Path(path).parent
    models: list[LinearAUModel] = []
    seen: dict[tuple[str, str], int] = {}
    for number, words in reader.lines():
        if len(words) != 2:
            found = " ".join(words)
            raise ModelFileError(
                path, f"line {number}", f"expected '<model file> <AU name>', found {found!r}"
            )
        location, names = words
        if "," in names:
            raise ModelFileError(
                path, f"line {number}", f"one model file predicts one AU, found {names!r}"
            )
        model = read_au_model(root / location, names)
        key = (model.task, model.au)
        if key in seen:
            raise ModelFileError(
                path,
                f"line {number}",
                f"second {model.task} model for {model.au} (first on line {seen[key]})",
            )
        seen[key] = number
        if models and model.n_features != models[0].n_features:
            raise ModelFileError(
                path,
                f"line {number}",
                f"{location} has {model.n_features} features, {models[0].source} has "
                f"{models[0].n_features}",
            )
        models.append(model)
    if not models:
        raise ModelFileError(path, "end of file", "no AU models listed")
    return AUModelSet(models=tuple(models), source=str(path))


def face_analyser_path(root: str | PathLike[str], dynamic: bool = True) -> Path:
    """Where the main AU file lies under a model folder.

    ``root`` may be the folder holding ``AU_predictors/`` (OpenFace's install
    layout), ``AU_predictors/`` itself, or the main file.
    """
    root = Path(root)
    if root.is_file():
        return root
    name = _MAIN_FILES[dynamic]
    for candidate in (root / "AU_predictors" / name, root / name):
        if candidate.is_file():
            return candidate
    return root / "AU_predictors" / name


def read_face_analyser(path: str | PathLike[str], dynamic: bool = True) -> FaceAnalyserModels:
    """Read OpenFace's AU analyser: the main file and everything it names.

    Parameters
    ----------
    path : path-like
        The main file (``main_dynamic_svms.txt``) or a folder, see
        :func:`face_analyser_path`.
    dynamic : bool
        With a folder: the video set (True) or the image set (False).

    Returns
    -------
    FaceAnalyserModels
    """
    main = face_analyser_path(path, dynamic)
    reader = TextReader(main)
    root = main.parent
    found: dict[str, Path] = {}
    for number, words in reader.lines():
        if len(words) != 2 or words[0] not in ("AUPredictor", "PDM", "Triangulation"):
            raise ModelFileError(
                main,
                f"line {number}",
                f"expected 'AUPredictor|PDM|Triangulation <file>', found {' '.join(words)!r}",
            )
        if words[0] in found:
            raise ModelFileError(main, f"line {number}", f"{words[0]} given twice")
        found[words[0]] = root / words[1]
    missing = [k for k in ("AUPredictor", "PDM", "Triangulation") if k not in found]
    if missing:
        raise ModelFileError(main, "end of file", f"missing {', '.join(missing)}")
    aus = read_au_models(found["AUPredictor"])
    is_dynamic = any(m.dynamic for m in aus.models)
    return FaceAnalyserModels(
        aus=aus,
        pdm=read_pdm(found["PDM"]),
        triangulation=read_triangulation(found["Triangulation"]),
        dynamic=is_dynamic,
    )
