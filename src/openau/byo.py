"""Bring your own landmarks: OpenFace's columns from a video and a landmark table.

For researchers who already have 68 landmarks per frame (an OpenFace CSV, or
any table in OpenFace's 68-point order; see
:mod:`openau.au.landmark_table`), this computes what OpenFace 2.2's
FeatureExtraction derives from them -- head pose, 3-D landmarks, PDM
parameters and AUs -- without running the landmark tracker.

Two PDM fits are involved, on purpose:

* AUs come from OpenFace's ``FaceAnalyser``, which re-fits the landmarks with
  its regularised ``CalcParams`` (:func:`openau.geometry.fit_to_landmarks`)
  and aligns the face with that fit. :class:`openau.au.AUAnalyser` does
  exactly this, so the AU values match OpenFace's for OpenFace's landmarks.
* The ``p_*``, pose and 3-D landmark columns describe the tracker's own
  parameters, whose projection *is* the landmarks (OpenFace writes the
  projection of its final fit as ``x_i, y_i``). A regularised fit does not
  reproduce them; an unregularised Gauss-Newton
  (:func:`openau.geometry.refine_to_landmarks`) started from the previous
  frame's parameters or from the regularised fit does, to float32 precision.
  For landmarks from another tool this gives the least-squares parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike

import numpy as np
import pandas as pd

from openau.au.analyser import AUAnalyser
from openau.au.landmark_table import LandmarkTable, read_landmark_table
from openau.errors import InputError
from openau.geometry.camera import CameraIntrinsics, head_pose, landmarks_3d
from openau.geometry.pdm import N_GLOBAL, fit_to_landmarks, project, refine_to_landmarks
from openau.models.au import FaceAnalyserModels, read_face_analyser
from openau.models.pdm import PDMModel
from openau.output.columns import (
    PARAMS_GLOBAL,
    POSE,
    landmark_2d_columns,
    landmark_3d_columns,
    params_local_columns,
)

__all__ = ["analyse_with_landmarks", "extract_with_landmarks", "parameters_for_landmarks"]

#: Reprojection error (pixels, largest over landmarks) under which parameters
#: count as exact: OpenFace's landmarks are float32 projections of its
#: parameters, so the right parameters reproduce them to ~3e-5 px.
EXACT_RESIDUAL = 1e-3
#: Starting head rotations (radians) tried when neither the previous frame's
#: parameters nor the regularised fit lead to an exact solution, e.g. at
#: extreme pitch where the regularised fit starts in the wrong basin.
_ROTATION_STARTS = ((-0.7, 0.0, 0.0), (0.7, 0.0, 0.0), (0.0, -0.7, 0.0), (0.0, 0.7, 0.0))
#: OpenFace's frame rate when the container gives none.
_DEFAULT_FPS = 30.0


def _residual(pdm: PDMModel, landmarks: np.ndarray, glob, local) -> float:
    visible = landmarks[:, 0] != 0
    diff = project(pdm, glob, local)[visible] - landmarks[visible]
    return float(np.abs(diff).max())


def parameters_for_landmarks(
    pdm: PDMModel,
    landmarks: np.ndarray,
    starts: Iterable[tuple[np.ndarray, np.ndarray]] = (),
    search: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """PDM parameters whose projection reproduces the landmarks.

    Parameters
    ----------
    pdm : PDMModel
    landmarks : (68, 2) float32 ndarray
        Pixels.
    starts : iterable of (params_global, params_local)
        Starting points to try first, best first (e.g. the previous frame's
        result, then the regularised fit); the regularised fit when empty.
    search : bool
        When no start reaches :data:`EXACT_RESIDUAL`, also start from
        regularised fits begun at a few other head rotations.

    Returns
    -------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    residual : float
        Largest reprojection error, pixels.
    """
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    points = np.ascontiguousarray(landmarks, dtype=np.float32)
    candidates = list(starts) or [fit_to_landmarks(pdm, points)]
    if search:
        candidates += [lambda r=r: fit_to_landmarks(pdm, points, r) for r in _ROTATION_STARTS]
    for candidate in candidates:
        glob, local = candidate() if callable(candidate) else candidate
        glob, local = refine_to_landmarks(pdm, points, glob, local)
        residual = _residual(pdm, points, glob, local)
        if best is None or residual < best[0]:
            best = (residual, glob, local)
        if residual < EXACT_RESIDUAL:
            break
    assert best is not None
    return best[1], best[2], best[0]


def _fps(value: float | None) -> float:
    return value if value and np.isfinite(value) and value > 0 else _DEFAULT_FPS


def analyse_with_landmarks(
    frames: Iterable[np.ndarray],
    table: LandmarkTable | pd.DataFrame | str | PathLike[str],
    models: FaceAnalyserModels | str | PathLike[str],
    *,
    intrinsics: CameraIntrinsics | None = None,
    fps: float | None = None,
) -> pd.DataFrame:
    """OpenFace's pose, 3-D landmark, PDM and AU columns for frames with known landmarks.

    Parameters
    ----------
    frames : iterable of (H, W, 3) uint8 ndarray
        The video's frames in order, BGR, as OpenFace decodes them; one per
        table row.
    table : LandmarkTable, pandas.DataFrame or path-like
        The landmarks (see :func:`openau.au.landmark_table.read_landmark_table`).
    models : FaceAnalyserModels or path-like
        OpenFace's dynamic AU models, or the model folder.
    intrinsics : CameraIntrinsics, optional
        OpenFace's default for the frame size when omitted.
    fps : float, optional
        For the timestamps when the table has none (30 when unknown).

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``frame, face_id, timestamp, [confidence,] success``,
        ``pose_*``, ``x_*, y_*``, ``X_*, Y_*, Z_*``, ``p_*``, ``AU*_r``, ``AU*_c``
        in OpenFace's order. Rows whose landmarks cannot be fitted (none, or
        all zero, as OpenFace writes before its first detection) hold NaN for
        pose, 3-D landmarks and parameters.

    Raises
    ------
    InputError
        When the number of frames and table rows differ.
    """
    landmarks = table if isinstance(table, LandmarkTable) else read_landmark_table(table)
    loaded = models if isinstance(models, FaceAnalyserModels) else read_face_analyser(models)
    pdm = loaded.pdm
    analyser = AUAnalyser(loaded)
    n = len(landmarks)
    usable = landmarks.usable()
    pose = np.full((n, 6), np.nan, np.float32)
    points_3d = np.full((n, pdm.n_points, 3), np.nan, np.float32)
    params = np.full((n, N_GLOBAL + pdm.n_modes), np.nan, np.float32)
    previous: tuple[np.ndarray, np.ndarray] | None = None
    exact_seen = False
    camera = intrinsics
    count = 0
    for index, image in enumerate(frames):
        if index >= n:
            raise InputError(
                f"{landmarks.source}: the video has more frames than the table's {n} rows"
            )
        count += 1
        if camera is None:
            camera = CameraIntrinsics.default(image.shape[1], image.shape[0])
        points = landmarks.landmarks[index]
        ok = bool(landmarks.success[index])
        features = analyser.add_frame(image, points if ok else None, ok)
        if not usable[index]:
            continue
        starts = [] if previous is None else [previous]
        starts.append(
            (features.params_global, features.params_local)
            if ok
            else fit_to_landmarks(pdm, points)
        )
        # The rotation search pays only for OpenFace's own landmarks (exact
        # PDM projections): after a first frame without an exact solution,
        # it is tried again only once some frame has had one.
        search = exact_seen or previous is None
        glob, local, residual = parameters_for_landmarks(pdm, points, starts, search)
        exact_seen = exact_seen or residual < EXACT_RESIDUAL
        previous = (glob, local)
        params[index] = np.concatenate([glob, local])
        pose[index] = head_pose(pdm, glob, local, points, camera)
        points_3d[index] = landmarks_3d(pdm, glob, local, points, camera)
    if count != n:
        raise InputError(f"{landmarks.source}: the table has {n} rows but the video {count} frames")
    aus = analyser.finish()

    frame_numbers = landmarks.frame
    timestamp = (
        landmarks.timestamp
        if landmarks.timestamp is not None
        else (frame_numbers - 1) / _fps(fps)
    )
    columns: dict[str, np.ndarray] = {
        "frame": frame_numbers,
        "face_id": landmarks.face_id if landmarks.face_id is not None else np.zeros(n, np.int64),
        "timestamp": timestamp,
    }
    if landmarks.confidence is not None:
        columns["confidence"] = landmarks.confidence
    columns["success"] = landmarks.success.astype(np.int64)
    blocks = [
        pd.DataFrame(columns),
        pd.DataFrame(pose.astype(np.float64), columns=list(POSE)),
        pd.DataFrame(
            landmarks.landmarks.transpose(0, 2, 1).reshape(n, -1).astype(np.float64),
            columns=list(landmark_2d_columns(pdm.n_points)),
        ),
        pd.DataFrame(
            points_3d.transpose(0, 2, 1).reshape(n, -1).astype(np.float64),
            columns=list(landmark_3d_columns(pdm.n_points)),
        ),
        pd.DataFrame(
            params.astype(np.float64),
            columns=list(PARAMS_GLOBAL) + list(params_local_columns(pdm.n_modes)),
        ),
        pd.DataFrame(aus.intensity, columns=[f"{a}_r" for a in aus.intensity_names]),
        pd.DataFrame(aus.presence, columns=[f"{a}_c" for a in aus.presence_names]),
    ]
    return pd.concat(blocks, axis=1)


def extract_with_landmarks(
    video: str | PathLike[str],
    table: LandmarkTable | pd.DataFrame | str | PathLike[str],
    models: FaceAnalyserModels | str | PathLike[str],
    *,
    intrinsics: CameraIntrinsics | None = None,
) -> pd.DataFrame:
    """:func:`analyse_with_landmarks` on a video file, decoded to OpenFace's pixels.

    Parameters
    ----------
    video : path-like
    table, models, intrinsics
        As for :func:`analyse_with_landmarks`.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InputNotFoundError, InputError
        Missing or unreadable video or table, a table that does not match the
        video, or a video that ends early (truncated file).
    """
    from openau.video.decode import VideoReader

    landmarks = table if isinstance(table, LandmarkTable) else read_landmark_table(table)
    with VideoReader(video) as reader:
        try:
            result = analyse_with_landmarks(
                (frame.image for frame in reader),
                landmarks,
                models,
                intrinsics=intrinsics,
                fps=reader.info.fps,
            )
        except InputError as exc:
            if reader.truncated:
                raise InputError(f"{video}: the video is damaged ({reader.error})") from exc
            raise
        if reader.truncated:
            raise InputError(f"{video}: the video is damaged ({reader.error})")
    return result
