"""OpenFace 2.2's output columns: names, order, decimals and table dtypes.

``FeatureExtraction`` (videos, image sequences) writes one row per frame that
starts ``frame, face_id, timestamp, confidence, success``; ``FaceLandmarkImg``
(still images) writes one row per face that starts ``face, confidence``. The
rest is shared: gaze (not produced yet), pose, 2-D and 3-D landmarks, PDM
parameters, AU intensities and AU presence, in that order (the reference
README, "CSV").

Columns we do not produce (gaze, eye landmarks) are left out rather than
filled, so a script that needs them fails loudly instead of reading zeros.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "N_LANDMARKS",
    "N_LOCAL_PARAMS",
    "AU_INTENSITY_NAMES",
    "AU_PRESENCE_NAMES",
    "POSE_COLUMNS",
    "GLOBAL_PARAM_COLUMNS",
    "video_columns",
    "image_columns",
    "column_decimals",
    "column_dtypes",
]

N_LANDMARKS = 68
N_LOCAL_PARAMS = 34

#: OpenFace's AU order (``AU_predictors/AU_all_best.txt``), as its CSV writes them.
AU_INTENSITY_NAMES: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
)  # fmt: skip
AU_PRESENCE_NAMES: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU28", "AU45",
)  # fmt: skip

POSE_COLUMNS: tuple[str, ...] = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
GLOBAL_PARAM_COLUMNS: tuple[str, ...] = ("p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty")

_VIDEO_HEAD = ("frame", "face_id", "timestamp", "confidence", "success")
_IMAGE_HEAD = ("face", "confidence")


def _indexed(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(count)]


def _body(
    intensity_names: Sequence[str] = AU_INTENSITY_NAMES,
    presence_names: Sequence[str] = AU_PRESENCE_NAMES,
) -> list[str]:
    columns = list(POSE_COLUMNS)
    for axis in ("x", "y"):
        columns += _indexed(f"{axis}_", N_LANDMARKS)
    for axis in ("X", "Y", "Z"):
        columns += _indexed(f"{axis}_", N_LANDMARKS)
    columns += list(GLOBAL_PARAM_COLUMNS)
    columns += _indexed("p_", N_LOCAL_PARAMS)
    columns += [f"{name}_r" for name in intensity_names]
    columns += [f"{name}_c" for name in presence_names]
    return columns


def video_columns(
    intensity_names: Sequence[str] = AU_INTENSITY_NAMES,
    presence_names: Sequence[str] = AU_PRESENCE_NAMES,
) -> list[str]:
    """FeatureExtraction's columns that openau produces, in OpenFace's order."""
    return list(_VIDEO_HEAD) + _body(intensity_names, presence_names)


def image_columns(
    intensity_names: Sequence[str] = AU_INTENSITY_NAMES,
    presence_names: Sequence[str] = AU_PRESENCE_NAMES,
) -> list[str]:
    """FaceLandmarkImg's columns that openau produces, in OpenFace's order."""
    return list(_IMAGE_HEAD) + _body(intensity_names, presence_names)


def column_decimals(columns: Sequence[str], image: bool) -> list[int | None]:
    """Decimals OpenFace prints for each column; None for integer columns.

    Parameters
    ----------
    columns : sequence of str
    image : bool
        FaceLandmarkImg's precision (confidence 3 decimals, AU presence 1)
        instead of FeatureExtraction's (2 and 2: post-processing rewrites
        the presence columns of videos as ``0.00`` / ``1.00``).
    """
    decimals: list[int | None] = []
    for name in columns:
        if name in ("frame", "face_id", "face", "success"):
            decimals.append(None)
        elif name == "timestamp":
            decimals.append(3)
        elif name == "confidence":
            decimals.append(3 if image else 2)
        elif name.startswith("pose_T"):
            decimals.append(1)
        elif name.startswith("pose_R"):
            decimals.append(3)
        elif name.startswith("p_"):
            decimals.append(3)
        elif name.endswith("_r") and name.startswith("AU"):
            decimals.append(2)
        elif name.endswith("_c") and name.startswith("AU"):
            decimals.append(1 if image else 2)
        elif name.startswith("gaze_angle"):
            decimals.append(3)
        elif name.startswith("gaze_"):
            decimals.append(6)
        else:  # 2-D, 3-D and eye landmarks
            decimals.append(1)
    return decimals


def column_dtypes(columns: Sequence[str]) -> dict[str, np.dtype]:
    """The dtype each column has in tables (DataFrame, Parquet).

    Integer counters are ``int32``; ``success`` is ``uint8`` (0/1, so
    ``df.success == 1`` works as with OpenFace's CSV); values OpenFace computes
    in single precision (pose, landmarks, PDM parameters) are ``float32``;
    timestamps, confidence and AU values are ``float64``.
    """
    dtypes: dict[str, np.dtype] = {}
    for name in columns:
        if name in ("frame", "face_id", "face"):
            dtypes[name] = np.dtype(np.int32)
        elif name == "success":
            dtypes[name] = np.dtype(np.uint8)
        elif name in ("timestamp", "confidence") or name.startswith("AU"):
            dtypes[name] = np.dtype(np.float64)
        else:
            dtypes[name] = np.dtype(np.float32)
    return dtypes
