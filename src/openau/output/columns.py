"""OpenFace 2.2's CSV columns: names, order and printed decimals.

FeatureExtraction (videos) writes 714 columns in this order; FaceLandmarkImg
(images) replaces ``frame, face_id, timestamp, confidence, success`` by
``face, confidence``. Writers pick the groups they can fill, in this order.
Values are printed in fixed point with the decimals of :func:`decimals`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "N_LANDMARKS",
    "N_EYE_LANDMARKS",
    "N_MODES",
    "VIDEO_META",
    "IMAGE_META",
    "GAZE",
    "POSE",
    "PARAMS_GLOBAL",
    "eye_landmark_columns",
    "landmark_2d_columns",
    "landmark_3d_columns",
    "params_local_columns",
    "au_columns",
    "openface_columns",
    "video_columns",
    "image_columns",
    "decimals",
    "column_dtypes",
    "INTENSITY_AUS",
    "PRESENCE_AUS",
]

N_LANDMARKS = 68
N_EYE_LANDMARKS = 56
N_MODES = 34

VIDEO_META = ("frame", "face_id", "timestamp", "confidence", "success")
IMAGE_META = ("face", "confidence")
GAZE = (
    "gaze_0_x", "gaze_0_y", "gaze_0_z", "gaze_1_x", "gaze_1_y", "gaze_1_z",
    "gaze_angle_x", "gaze_angle_y",
)  # fmt: skip
POSE = ("pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz")
PARAMS_GLOBAL = ("p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty")
#: OpenFace's AU names, sorted as it writes them.
INTENSITY_AUS = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
)  # fmt: skip
PRESENCE_AUS = INTENSITY_AUS[:-1] + ("AU28", "AU45")

_INTEGER = ("frame", "face_id", "face", "success")


def eye_landmark_columns(n: int = N_EYE_LANDMARKS) -> tuple[str, ...]:
    """``eye_lmk_x_*``, ``_y_*`` (2-D) then ``_X_*``, ``_Y_*``, ``_Z_*`` (3-D)."""
    return tuple(f"eye_lmk_{axis}_{i}" for axis in "xyXYZ" for i in range(n))


def landmark_2d_columns(n: int = N_LANDMARKS) -> tuple[str, ...]:
    """``x_0 .. x_{n-1}`` then ``y_0 .. y_{n-1}``."""
    return tuple(f"{axis}_{i}" for axis in "xy" for i in range(n))


def landmark_3d_columns(n: int = N_LANDMARKS) -> tuple[str, ...]:
    """``X_*``, ``Y_*``, ``Z_*``."""
    return tuple(f"{axis}_{i}" for axis in "XYZ" for i in range(n))


def params_local_columns(m: int = N_MODES) -> tuple[str, ...]:
    """``p_0 .. p_{m-1}``."""
    return tuple(f"p_{i}" for i in range(m))


def au_columns(
    intensity: tuple[str, ...] = INTENSITY_AUS, presence: tuple[str, ...] = PRESENCE_AUS
) -> tuple[str, ...]:
    """``AUxx_r`` for each intensity AU, then ``AUxx_c`` for each presence AU."""
    return tuple(f"{au}_r" for au in intensity) + tuple(f"{au}_c" for au in presence)


def openface_columns(
    video: bool = True,
    *,
    gaze: bool = True,
    pose: bool = True,
    landmarks_2d: bool = True,
    landmarks_3d: bool = True,
    params: bool = True,
    aus: bool = True,
) -> tuple[str, ...]:
    """OpenFace's column list, optionally without some groups.

    With every group, 714 columns for a video and 711 for an image.
    """
    columns: list[str] = list(VIDEO_META if video else IMAGE_META)
    if gaze:
        columns += GAZE + eye_landmark_columns()
    if pose:
        columns += POSE
    if landmarks_2d:
        columns += landmark_2d_columns()
    if landmarks_3d:
        columns += landmark_3d_columns()
    if params:
        columns += PARAMS_GLOBAL + params_local_columns()
    if aus:
        columns += au_columns()
    return tuple(columns)


def _produced(
    meta: tuple[str, ...], intensity: Sequence[str], presence: Sequence[str]
) -> list[str]:
    # Gaze and eye landmarks are left out rather than filled until openau
    # computes gaze, so a script needing them fails loudly instead of reading zeros.
    body = openface_columns(gaze=False, aus=False)[len(VIDEO_META) :]
    return list(meta) + list(body) + list(au_columns(tuple(intensity), tuple(presence)))


def video_columns(
    intensity: Sequence[str] = INTENSITY_AUS, presence: Sequence[str] = PRESENCE_AUS
) -> list[str]:
    """FeatureExtraction's columns that openau produces, in OpenFace's order."""
    return _produced(VIDEO_META, intensity, presence)


def image_columns(
    intensity: Sequence[str] = INTENSITY_AUS, presence: Sequence[str] = PRESENCE_AUS
) -> list[str]:
    """FaceLandmarkImg's columns that openau produces, in OpenFace's order."""
    return _produced(IMAGE_META, intensity, presence)


def decimals(column: str, video: bool = True) -> int | None:
    """Decimals OpenFace prints for a column; None for integer columns.

    Raises
    ------
    KeyError
        For a name that is not an OpenFace column.
    """
    if column in _INTEGER:
        return None
    if column == "timestamp":
        return 3
    if column == "confidence":
        return 2 if video else 3
    if column.startswith("gaze_angle_"):
        return 3
    if column.startswith("gaze_"):
        return 6
    if column.startswith("eye_lmk_"):
        return 1
    if column in ("pose_Tx", "pose_Ty", "pose_Tz"):
        return 1
    if column in ("pose_Rx", "pose_Ry", "pose_Rz"):
        return 3
    if column.startswith("p_"):
        return 3
    if column.startswith("AU") and column.endswith("_r"):
        return 2
    if column.startswith("AU") and column.endswith("_c"):
        return 2 if video else 1
    head, _, index = column.partition("_")
    if head in ("x", "y", "X", "Y", "Z") and index.isdigit():
        return 1
    raise KeyError(f"{column!r} is not an OpenFace CSV column")


def column_dtypes(columns: Sequence[str]) -> dict[str, np.dtype]:
    """The dtype each column has in tables (DataFrame, Parquet).

    Counters are ``int32``; ``success`` is ``uint8`` (0/1, so ``df.success == 1``
    works as with OpenFace's CSV); values OpenFace computes in single precision
    (pose, landmarks, PDM parameters) are ``float32``; timestamps, confidence
    and AU values are ``float64``.
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
