"""Assembling per-frame and per-face arrays into OpenFace-ordered tables.

The engine collects plain arrays (frame numbers, landmarks, PDM parameters,
pose, AU values); these functions lay them out in OpenFace's column order
with the dtypes of :func:`openau.output.columns.column_dtypes`, as a
:class:`ColumnTable`. Values keep full precision; rounding to OpenFace's
decimals happens only when a CSV is written.

A :class:`ColumnTable` is plain numpy columns: the command line writes CSV
from it without importing pandas, which would cost a worker about half a
second of start-up and 75 MB of memory. :meth:`ColumnTable.to_pandas` gives
the DataFrame the Python API returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from openau.output.columns import (
    INTENSITY_AUS,
    PRESENCE_AUS,
    N_LANDMARKS,
    N_MODES,
    column_dtypes,
    image_columns,
    video_columns,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ColumnTable", "video_table", "image_table", "drop_au_columns"]


class ColumnTable:
    """Named 1-D columns of equal length, in order (read-only).

    Parameters
    ----------
    columns : mapping of str to (n,) array_like
        In column order. Arrays are kept, not copied; the table holds
        read-only views of them.

    Examples
    --------
    >>> table = ColumnTable({"frame": np.arange(1, 4), "success": np.ones(3, np.uint8)})
    >>> len(table), table.columns
    (3, ('frame', 'success'))
    >>> table["frame"].tolist()
    [1, 2, 3]
    """

    __slots__ = ("_columns", "_rows")

    def __init__(self, columns: Mapping[str, np.ndarray]) -> None:
        data: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            array = np.asarray(values).view()
            if array.ndim != 1:
                raise ValueError(f"column {name!r} must be 1-D, got shape {array.shape}")
            array.setflags(write=False)
            data[str(name)] = array
        lengths = {len(array) for array in data.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns must have equal lengths, got {sorted(lengths)}")
        self._columns = data
        self._rows = lengths.pop() if lengths else 0

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(self._columns)

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, name: str) -> np.ndarray:
        return self._columns[name]

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __repr__(self) -> str:
        return f"ColumnTable({self._rows} rows x {len(self._columns)} columns)"

    def select(self, names: Iterable[str]) -> ColumnTable:
        """The table with only ``names``, in that order."""
        return ColumnTable({name: self._columns[name] for name in names})

    def to_pandas(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (same columns, dtypes and values; imports pandas)."""
        import pandas as pd

        return pd.DataFrame(self._columns, columns=self.columns, copy=True)


def _check(name: str, array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(array)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    return array


def _columns_of(block: np.ndarray) -> list[np.ndarray]:
    """The columns of a ``(n, k)`` block, or of ``(n, points, axes)`` coordinates axis by axis.

    Views, not copies: a long video's table then costs little beyond the
    per-frame arrays it is made from.
    """
    if block.ndim == 2:
        return [block[:, j] for j in range(block.shape[1])]
    # OpenFace writes all x, then all y (then X, Y, Z): coordinate-major order.
    return [block[:, i, axis] for axis in range(block.shape[2]) for i in range(block.shape[1])]


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
    blocks = [
        _check("pose", pose, (n, 6)),
        _check("landmarks_2d", landmarks_2d, (n, N_LANDMARKS, 2)),
        _check("landmarks_3d", landmarks_3d, (n, N_LANDMARKS, 3)),
        _check("params_global", params_global, (n, 6)),
        _check("params_local", params_local, (n, N_MODES)),
        np.zeros((n, n_intensity)) if intensity is None else _check("intensity", intensity, (n, n_intensity)),
        np.zeros((n, n_presence)) if presence is None else _check("presence", presence, (n, n_presence)),
    ]
    return [column for block in blocks for column in _columns_of(block)]


def _frame(columns: list[str], head: list[np.ndarray], body: list[np.ndarray]) -> ColumnTable:
    if len(head) + len(body) != len(columns):
        raise ValueError(f"{len(head) + len(body)} columns of values for {len(columns)} names")
    dtypes = column_dtypes(columns)
    return ColumnTable(
        {name: np.asarray(values).astype(dtypes[name], copy=False) for name, values in zip(columns, head + body)}
    )


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
) -> ColumnTable:
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
    ColumnTable
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
) -> ColumnTable:
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


def drop_au_columns(table: ColumnTable) -> ColumnTable:
    """The table without its ``AU*_r`` / ``AU*_c`` columns."""
    return table.select(c for c in table.columns if not c.startswith("AU"))
