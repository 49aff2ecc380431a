"""AU prediction for one video (:class:`AUAnalyser`) and for still images.

This is OpenFace 2.2's ``FaceAnalyser`` as ``FeatureExtraction`` drives it
(``AddNextFrame`` per frame, then the offline post-processing), split into the
stages of this package: :func:`openau.features.frame_features` (PDM fit,
alignment, HOG, geometry), :class:`~openau.au.running_median.RunningMedian`
(person normalisation), :class:`~openau.au.predict.LinearAUPredictor` and
:mod:`openau.au.postprocess`.

Per frame, in OpenFace's order:

1. features of the frame (zeros when tracking failed);
2. on every second frame (the 1st, 3rd, 5th, ... counting all frames) the
   running medians are updated -- with the frame's descriptors only if it
   succeeded, though the median is recomputed either way. The HOG median is
   kept per head-orientation view (one frontal view by default) and clipped
   at 0;
3. raw predictions from the frame's descriptors and the current medians;
   failed frames record 0.

At :meth:`AUAnalyser.finish`, the first 3000 successful frames are predicted
again with the final medians (dynamic models only change), then the
post-processing runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike

import numpy as np

from openau._rows import RowBuffer
from openau.au.postprocess import postprocess_intensity, postprocess_presence
from openau.au.predict import LinearAUPredictor
from openau.au.running_median import GEOMETRY_BINS, HOG_BINS, RunningMedian
from openau.features.fhog import HOG_DIM
from openau.features.frame import FrameFeatures, frame_features
from openau.features.geometry import geometry_dim
from openau.models.au import FaceAnalyserModels, read_face_analyser

__all__ = [
    "AUAnalyser",
    "AUTable",
    "ImageAUs",
    "MAX_INIT_FRAMES",
    "FRONTAL_VIEW",
    "predict_image_aus",
]

#: Successful frames re-predicted with the final medians (OpenFace's ``max_init_frames``).
MAX_INIT_FRAMES = 3000
#: OpenFace's default head-orientation views for the HOG median: frontal only.
FRONTAL_VIEW: tuple[tuple[float, float, float], ...] = ((0.0, 0.0, 0.0),)
#: The running medians are updated on every ``MEDIAN_STRIDE``-th frame.
MEDIAN_STRIDE = 2


@dataclass(frozen=True, eq=False)
class AUTable:
    """A video's post-processed AU values, one row per frame (immutable).

    Attributes
    ----------
    intensity : (n_frames, 17) float64 ndarray
        0-5, OpenFace's ``AUxx_r`` columns.
    presence : (n_frames, 18) float64 ndarray
        0 or 1, OpenFace's ``AUxx_c`` columns.
    intensity_names, presence_names : tuple of str
        ``"AU01"`` ... in column order (sorted, as OpenFace writes them).
    success : (n_frames,) bool ndarray
        The success flags the analyser was given.
    """

    intensity: np.ndarray
    presence: np.ndarray
    intensity_names: tuple[str, ...]
    presence_names: tuple[str, ...]
    success: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.intensity.shape[0]


def _load(models: FaceAnalyserModels | str | PathLike[str], dynamic: bool) -> FaceAnalyserModels:
    if isinstance(models, FaceAnalyserModels):
        return models
    return read_face_analyser(models, dynamic=dynamic)


def _view(orientations: np.ndarray, params_global: np.ndarray) -> int:
    """Nearest view to the head rotation (OpenFace's ``GetViewId``); first on ties."""
    if len(orientations) == 1:  # the default: nothing to choose (saves ~20 us a call)
        return 0
    rotation = np.asarray(params_global[1:4], dtype=np.float64)
    return int(np.argmin(np.linalg.norm(orientations - rotation, axis=1)))


class AUAnalyser:
    """AU intensities and presence for ONE video, frame by frame.

    Parameters
    ----------
    models : FaceAnalyserModels or path-like
        Loaded models, or the OpenFace model folder (holding ``AU_predictors/``)
        or main file; the dynamic (video) set is read from a folder.
    orientations : sequence of (rx, ry, rz), optional
        Head-orientation views, radians, each with its own HOG median
        (OpenFace's ``orientation_bins``; frontal only by default).

    Examples
    --------
    >>> analyser = AUAnalyser(models_root)                       # doctest: +SKIP
    >>> for frame, landmarks, ok in tracked:                     # doctest: +SKIP
    ...     analyser.add_frame(frame, landmarks, ok)
    >>> table = analyser.finish()                                # doctest: +SKIP
    """

    def __init__(
        self,
        models: FaceAnalyserModels | str | PathLike[str],
        orientations: Sequence[Sequence[float]] = FRONTAL_VIEW,
    ) -> None:
        self.models = _load(models, dynamic=True)
        self.predictor = LinearAUPredictor.from_models(self.models.aus)
        self._orientations = np.asarray(orientations, dtype=np.float64).reshape(-1, 3)
        n_geom = geometry_dim(self.models.pdm)
        self._hog_medians = [RunningMedian(HOG_DIM, HOG_BINS) for _ in self._orientations]
        self._geom_median = RunningMedian(n_geom, GEOMETRY_BINS)
        self._median = np.zeros(HOG_DIM + n_geom)
        self._median_term = self.predictor.median_term(self._median)
        k = self.predictor.weights.shape[1]
        # Every frame's scores wait for the post-processing at the end; full
        # blocks of them go to a temporary file, so memory stays flat.
        self._scores = RowBuffer((k,), np.float64, spill=True)
        self._success = RowBuffer((), bool, spill=True)
        self._init_frames: list[int] = []
        self._init_projections = RowBuffer((k,), np.float64)
        self._finished: AUTable | None = None

    @property
    def n_frames(self) -> int:
        """Frames added so far."""
        return len(self._success)

    def add_frame(
        self, image_bgr: np.ndarray | None, landmarks: np.ndarray | None, success: bool
    ) -> FrameFeatures:
        """Analyse the next frame of the video.

        Parameters
        ----------
        image_bgr : (H, W, 3) uint8 ndarray or None
            The frame as OpenFace sees it (see :mod:`openau.video.decode`).
            May be None when ``success`` is False.
        landmarks : (68, 2) float32 array_like or None
            The tracked landmarks, pixels (OpenFace's ``x_i, y_i``).
        success : bool
            Whether tracking succeeded. Note OpenFace's AU stage receives the
            tracker's own flag, which differs from the CSV ``success`` column
            on the frame where tracking (re)starts.

        Returns
        -------
        FrameFeatures
            The aligned face, HOG and geometry used for this frame.
        """
        if self._finished is not None:
            raise RuntimeError("finish() was called; start a new AUAnalyser for the next video")
        success = bool(success)
        features = frame_features(
            image_bgr, landmarks, success, self.models.pdm, self.models.triangulation
        )
        index = self.n_frames
        if index % MEDIAN_STRIDE == 0:
            view = _view(self._orientations, features.params_global)
            hog_median = self._hog_medians[view].update(features.hog, success)
            geom_median = self._geom_median.update(features.geometry, success)
            self._median = np.concatenate([np.maximum(hog_median, 0.0), geom_median])
            self._median_term = self.predictor.median_term(self._median)
        if success:
            projection = self.predictor.project(features.descriptor)
            scores = self.predictor.scores(projection, self._median_term)
            if len(self._init_frames) < MAX_INIT_FRAMES:
                self._init_frames.append(index)
                self._init_projections.append(projection)
        else:
            scores = np.zeros(self.predictor.weights.shape[1])
        self._scores.append(scores)
        self._success.append(success)
        return features

    def finish(self) -> AUTable:
        """Post-process the whole video as OpenFace's FeatureExtraction does.

        Returns
        -------
        AUTable
            One row per frame added. Calling again returns the same table.
        """
        if self._finished is not None:
            return self._finished
        predictor = self.predictor
        scores = self._scores.array()
        success = self._success.array()
        if self._init_frames:
            rescored = predictor.scores(self._init_projections.array(), self._median_term)
            scores[self._init_frames] = rescored
        raw_intensity, presence = predictor.split(scores)
        presence = np.where(success[:, None], presence, 0.0)
        self._finished = AUTable(
            intensity=postprocess_intensity(raw_intensity, success, predictor.cutoffs),
            presence=postprocess_presence(presence),
            intensity_names=predictor.intensity_names,
            presence_names=predictor.presence_names,
            success=success,
        )
        self._scores = self._init_projections = None  # the table holds what is needed
        return self._finished


@dataclass(frozen=True, eq=False)
class ImageAUs:
    """AU values of one face in a still image (immutable).

    Attributes
    ----------
    intensity : (17,) float64 ndarray
        Static models' intensities, clipped to [0, 5].
    presence : (18,) float64 ndarray
        0 or 1.
    intensity_names, presence_names : tuple of str
    features : FrameFeatures
    """

    intensity: np.ndarray
    presence: np.ndarray
    intensity_names: tuple[str, ...]
    presence_names: tuple[str, ...]
    features: FrameFeatures


def predict_image_aus(
    image_bgr: np.ndarray,
    landmarks: np.ndarray,
    models: FaceAnalyserModels | str | PathLike[str],
    predictor: LinearAUPredictor | None = None,
) -> ImageAUs:
    """AUs of one face in a still image, as OpenFace's ``FaceLandmarkImg``.

    Static models, no running median and no smoothing
    (``FaceAnalyser::PredictStaticAUsAndComputeFeatures``).

    Parameters
    ----------
    image_bgr : (H, W, 3) uint8 ndarray
    landmarks : (68, 2) array_like
        The face's landmarks, pixels.
    models : FaceAnalyserModels or path-like
        Loaded static models, or the OpenFace model folder (the static set is
        read from a folder).
    predictor : LinearAUPredictor, optional
        Built from ``models`` when omitted; pass one to reuse it across faces.

    Returns
    -------
    ImageAUs
    """
    loaded = _load(models, dynamic=False)
    predictor = predictor or LinearAUPredictor.from_models(loaded.aus)
    features = frame_features(image_bgr, landmarks, True, loaded.pdm, loaded.triangulation)
    scores = predictor.scores(predictor.project(features.descriptor), predictor.median_term(None))
    intensity, presence = predictor.split(scores)
    return ImageAUs(
        intensity=np.clip(intensity, 0.0, 5.0),
        presence=presence,
        intensity_names=predictor.intensity_names,
        presence_names=predictor.presence_names,
        features=features,
    )
