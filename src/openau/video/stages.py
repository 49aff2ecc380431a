"""The interfaces the engine drives, and how a worker gets its stages.

The engine knows the stages only through these protocols, so it can be tested
with fakes and does not import a stage until a worker needs it. A worker calls
:func:`build_stages` once with its (picklable) :class:`ExtractConfig`; the
result holds loaded models and per-video state objects and never crosses a
process boundary.

- :class:`Tracker`: ``openau.landmarks.FaceTracker``, which owns the face
  detector and calls it when tracking is lost (OpenFace's schedule).
- :class:`FrameAnalyser`: ``openau.au.AUAnalyser``, one per video; AU columns
  are final only after :meth:`FrameAnalyser.finish` (offline post-processing).
- ``geometry``: pose and 3-D landmarks from the PDM parameters and the default
  camera intrinsics of a frame size.
- ``analyse_image``: FaceLandmarkImg's path for still images (every face).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from openau.errors import OpenAUError
from openau.video.config import ExtractConfig

__all__ = [
    "LandmarkResultLike",
    "Tracker",
    "AUTableLike",
    "FrameAnalyser",
    "Geometry",
    "ImageFace",
    "ImageAnalysis",
    "Stages",
    "StageFactory",
    "build_stages",
    "load_factory",
    "models_root",
]


@runtime_checkable
class LandmarkResultLike(Protocol):
    """One frame's landmark fit (``openau.landmarks.LandmarkResult``).

    Attributes
    ----------
    landmarks : (68, 2) float32 ndarray
        Image coordinates in pixels, x then y, origin at the top-left pixel's centre.
    params_global : (6,) float32 ndarray
        PDM rigid parameters (scale, rx, ry, rz, tx, ty); rotations in radians.
    params_local : (34,) float32 ndarray
        PDM non-rigid parameters.
    confidence : float
        The landmark validator's output, about 0.98 on good frames.
    success : bool
        What OpenFace writes in the ``success`` column.
    detected : bool
        The face detector ran on this frame.
    """

    landmarks: np.ndarray
    params_global: np.ndarray
    params_local: np.ndarray
    confidence: float
    success: bool
    detected: bool


class Tracker(Protocol):
    """Tracks one face through a video (``openau.landmarks.FaceTracker``)."""

    def track(self, image_bgr: np.ndarray) -> LandmarkResultLike:
        """Fit the landmarks on the next frame, (H, W, 3) uint8 BGR."""

    def reset(self) -> None:
        """Forget the face: the next frame starts a new video."""


class AUTableLike(Protocol):
    """A video's final AU values (``openau.au.AUTable``).

    Attributes
    ----------
    intensity : (n, 17) float64 ndarray
    presence : (n, 18) float64 ndarray
    intensity_names, presence_names : sequence of str
        ``"AU01"``-style names in column order.
    """

    intensity: np.ndarray
    presence: np.ndarray
    intensity_names: Sequence[str]
    presence_names: Sequence[str]


class FrameAnalyser(Protocol):
    """One video's AU analysis (``openau.au.AUAnalyser``): frames in, a table at the end."""

    def add_frame(self, image_bgr: np.ndarray, landmarks: np.ndarray | None, success: bool) -> object:
        """Analyse the next frame; returns the stage's per-frame features (opaque to the engine)."""

    def finish(self) -> AUTableLike:
        """Apply OpenFace's offline post-processing to every frame added."""


class Geometry(Protocol):
    """Pose and 3-D landmarks from the landmark fits (``openau.geometry.camera``).

    Parameters
    ----------
    params_global : (n, 6) float32 ndarray
    params_local : (n, 34) float32 ndarray
    landmarks : (n, 68, 2) float32 ndarray
        2-D landmarks, pixels (OpenFace refines the pose by PnP on them).
    width, height : int
        Frame size in pixels; gives OpenFace's default camera intrinsics
        fx = fy = 500 * (W / 640 + H / 480) / 2, cx = W / 2, cy = H / 2.

    Returns
    -------
    pose : (n, 6) float32 ndarray
        ``pose_Tx, pose_Ty, pose_Tz`` in millimetres, ``pose_Rx, pose_Ry, pose_Rz`` in radians.
    landmarks_3d : (n, 68, 3) float32 ndarray
        Camera coordinates in millimetres.
    """

    def __call__(
        self, params_global: np.ndarray, params_local: np.ndarray, landmarks: np.ndarray, width: int, height: int
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ImageFace:
    """One face of a still image, as FaceLandmarkImg reports it.

    Attributes
    ----------
    landmarks : LandmarkResultLike
    intensity : (17,) float64 ndarray
        Static-model AU intensities.
    presence : (18,) float64 ndarray
        Static-model AU presence (0 or 1).
    intensity_names, presence_names : tuple of str or None
        AU names of the two arrays; None means :attr:`Stages.intensity_names`
        / :attr:`Stages.presence_names`.
    """

    landmarks: LandmarkResultLike
    intensity: np.ndarray
    presence: np.ndarray
    intensity_names: tuple[str, ...] | None = None
    presence_names: tuple[str, ...] | None = None


class ImageAnalysis(Protocol):
    """Every face of a still image, in detector order, with AUs from the static models."""

    def __call__(self, image_bgr: np.ndarray) -> Sequence[ImageFace]: ...


@dataclass
class Stages:
    """A worker's loaded stages, reused from one input to the next.

    Attributes
    ----------
    tracker : Tracker
        Reset by the engine at the start of every video.
    new_analyser : callable returning FrameAnalyser
        Called once per video.
    geometry : Geometry
    analyse_image : ImageAnalysis
    intensity_names, presence_names : sequence of str
        AU names of :attr:`ImageFace.intensity` / ``presence`` (the video path
        takes its names from the analyser's table).
    au_success : callable(LandmarkResultLike) -> bool, optional
        The success flag the AU stage gets for a frame. OpenFace's AU stage
        sees the landmark validator's verdict, which differs from the CSV
        ``success`` on the frame where tracking (re)starts; by default the
        CSV flag is used.
    warmed : set of str
        Stages that have processed a frame in this process (the engine's
        bookkeeping: a stage's first frame may compile kernels and create
        sessions, so it gets a longer stall timeout).
    """

    tracker: Tracker
    new_analyser: Callable[[], FrameAnalyser]
    geometry: Geometry
    analyse_image: ImageAnalysis
    intensity_names: Sequence[str]
    presence_names: Sequence[str]
    au_success: Callable[[LandmarkResultLike], bool] | None = None
    warmed: set[str] = field(default_factory=set)


StageFactory = Callable[[ExtractConfig], Stages]


def load_factory(spec: str) -> StageFactory:
    """Import a stage factory named ``"module:function"`` or ``"file.py:function"``.

    A file path lets spawned worker processes load a factory that is not on
    ``sys.path`` (the test suite's fakes).
    """
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise ValueError(f"stage factory must be 'module:function' or 'file.py:function', got {spec!r}")
    if where.endswith(".py"):
        path = Path(where)
        module_name = "_openau_stages_" + "".join(c if c.isalnum() else "_" for c in str(path.resolve()))
        module = sys.modules.get(module_name)
        if module is None:
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise ValueError(f"cannot load stage factory file {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module  # dataclasses look their module up there
            module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    return getattr(module, name)


def build_stages(config: ExtractConfig) -> Stages:
    """Load the stages a worker runs: openau's own, or the factory ``config.stages`` names."""
    if config.stages:
        return load_factory(config.stages)(config)
    try:
        from openau.video.wiring import build_openau_stages
    except ImportError as exc:  # a stage package missing from this build
        raise OpenAUError(f"openau's stages are not available in this installation ({exc})") from exc
    return build_openau_stages(config)


def models_root(config: ExtractConfig) -> Path:
    """The OpenFace model folder for ``config``: explicit, ``OPENAU_MODELS``, or the model store's choice.

    Raises
    ------
    ModelsNotFoundError
    """
    from openau.models import resolve_models

    return resolve_models(config.models).root
