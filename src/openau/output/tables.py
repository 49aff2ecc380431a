"""Assembling per-frame and per-face arrays into OpenFace-ordered DataFrames.

The engine collects plain arrays (frame numbers, landmarks, PDM parameters,
pose, AU values); these functions lay them out in OpenFace's column order
with the dtypes of :func:`openau.output.columns.column_dtypes`. Values keep
full precision; rounding to OpenFace's decimals happens only when a CSV is
written.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from openau.output.columns import (
    INTENSITY_AUS,
    PRESENCE_AUS,
    N_LANDMARKS,
    N_MODES,
    column_dtypes,
    image_columns,
    video_columns,
)

__all__ = ["video_table", "image_table", "drop_au_columns"]


def _check(name: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(array)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return array


def _body(
    n: int,
    pose: np.ndarray,
    landmarks_2d: np.ndarray,
    landmarks_3d: np.ndarray,
    params_global: np.ndarray,
    params_local: np.ndarray,
    intensity: np.ndarray | None,
    presence: np.ndarray | None,
    n_intensity: int,
    n_presence: int,
) -> list[np.ndarray]:
    pose = _check("pose", pose, (n, 6))
    landmarks_2d = _check("landmarks_2d", landmarks_2d, (n, N_LANDMARKS, 2))
    landmarks_3d = _check("landmarks_3d", landmarks_3d, (n, N_LANDMARKS, 3))
    params_global = _check("params_global", params_global, (n, 6))
    params_local = _check("params_local", params_local, (n, N_MODES))
    # OpenFace writes all x, then all y (then X, Y, Z): coordinate-major order.
    blocks = [
        pose,
        landmarks_2d.transpose(0, 2, 1).reshape(n, -1),
        landmarks_3d.transpose(0, 2, 1).reshape(n, -1),
        params_global,
        params_local,
    ]
    blocks.append(np.zeros((n, n_intensity)) if intensity is None else _check("intensity", intensity, (n, n_intensity)))
    blocks.append(np.zeros((n, n_presence)) if presence is None else _check("presence", presence, (n, n_presence)))
    return blocks


def _frame(columns: list[str], head: list[np.ndarray], body: list[np.ndarray]) -> pd.DataFrame:
    dtypes = column_dtypes(columns)
    data: dict[str, np.ndarray] = {}
    position = 0
    for block in head:
        name = columns[position]
        data[name] = np.asarray(block).astype(dtypes[name], copy=False)
        position += 1
    for block in body:
        for j in range(block.shape[1]):
            name = columns[position]
            data[name] = np.ascontiguousarray(block[:, j]).astype(dtypes[name], copy=False)
            position += 1
    assert position == len(columns)
    return pd.DataFrame(data, columns=columns)


def video_table(
    frame: np.ndarray,
    timestamp: np.ndarray,
    confidence: np.ndarray,
    success: np.ndarray,
    pose: np.ndarray,
    landmarks_2d: np.ndarray,
    landmarks_3d: np.ndarray,
    params_global: np.ndarray,
    params_local: np.ndarray,
    intensity: np.ndarray | None,
    presence: np.ndarray | None,
    intensity_names: Sequence[str] = INTENSITY_AUS,
    presence_names: Sequence[str] = PRESENCE_AUS,
) -> pd.DataFrame:
    """FeatureExtraction's table: one row per frame.

    Parameters
    ----------
    frame : (n,) int
        1-based frame numbers.
    timestamp : (n,) float64
        Seconds.
    confidence : (n,) float
    success : (n,) bool or int
    pose : (n, 6) float32
    landmarks_2d : (n, 68, 2) float32
    landmarks_3d : (n, 68, 3) float32
    params_global : (n, 6) float32
    params_local : (n, 34) float32
    intensity : (n, len(intensity_names)) float64 or None
    presence : (n, len(presence_names)) float64 or None
        None leaves the AU columns out (a ``.partial`` table whose AU stage
        could not finish).
    intensity_names, presence_names : sequence of str

    Returns
    -------
    pandas.DataFrame
        Columns of :func:`openau.output.columns.video_columns`, face_id 0.
    """
    n = len(frame)
    body = _body(
        n, pose, landmarks_2d, landmarks_3d, params_global, params_local,
        intensity, presence, len(intensity_names), len(presence_names),
    )  # fmt: skip
    head = [frame, np.zeros(n), timestamp, confidence, np.asarray(success).astype(np.uint8)]
    table = _frame(video_columns(intensity_names, presence_names), head, body)
    return table if intensity is not None else drop_au_columns(table)


def image_table(
    confidence: np.ndarray,
    pose: np.ndarray,
    landmarks_2d: np.ndarray,
    landmarks_3d: np.ndarray,
    params_global: np.ndarray,
    params_local: np.ndarray,
    intensity: np.ndarray,
    presence: np.ndarray,
    intensity_names: Sequence[str] = INTENSITY_AUS,
    presence_names: Sequence[str] = PRESENCE_AUS,
) -> pd.DataFrame:
    """FaceLandmarkImg's table: one row per face, ``face`` 0-based in detector order.

    Shapes as in :func:`video_table`, with n the number of faces (0 gives an
    empty table with every column).
    """
    n = len(confidence)
    body = _body(
        n, pose, landmarks_2d, landmarks_3d, params_global, params_local,
        intensity, presence, len(intensity_names), len(presence_names),
    )  # fmt: skip
    head = [np.arange(n), confidence]
    return _frame(image_columns(intensity_names, presence_names), head, body)


def drop_au_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The table without its ``AU*_r`` / ``AU*_c`` columns."""
    return table[[c for c in table.columns if not c.startswith("AU")]]
