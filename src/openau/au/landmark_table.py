"""Reading a table of 68 landmarks per frame ("bring your own landmarks").

Accepted: an OpenFace CSV (FeatureExtraction's, any version: headers with or
without spaces after the commas) or any table -- a CSV file or a
:class:`pandas.DataFrame` -- with the columns

* ``x_0 .. x_67`` and ``y_0 .. y_67``: landmark pixels in OpenFace's 68-point
  order, origin at the top-left pixel's centre;
* ``success``: 1 where the landmarks are valid, 0 where tracking failed;
* optionally ``frame`` (1-based frame numbers, consecutive from 1),
  ``timestamp``, ``confidence`` and ``face_id``, carried to the output.

Rows are frames. Failed rows may hold any landmarks, or none (empty, NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from openau.errors import InputError, InputNotFoundError

__all__ = ["LandmarkTable", "read_landmark_table", "landmark_columns", "N_POINTS"]

#: Landmarks per face (OpenFace's 68-point scheme).
N_POINTS = 68
_OPTIONAL = ("frame", "timestamp", "confidence", "face_id")


def landmark_columns(n: int = N_POINTS) -> tuple[list[str], list[str]]:
    """The x and y column names."""
    return [f"x_{i}" for i in range(n)], [f"y_{i}" for i in range(n)]


@dataclass(frozen=True, eq=False)
class LandmarkTable:
    """A validated landmark table (immutable).

    Attributes
    ----------
    landmarks : (n, 68, 2) float32 ndarray
        Pixels (x, y); NaN where a failed row gave none.
    success : (n,) bool ndarray
    frame : (n,) int64 ndarray
        1-based frame numbers (``1 .. n``).
    timestamp, confidence : (n,) float64 ndarray or None
        When the table has them.
    face_id : (n,) int64 ndarray or None
    source : str
        Where the table came from, for messages.
    """

    landmarks: np.ndarray
    success: np.ndarray
    frame: np.ndarray
    timestamp: np.ndarray | None
    confidence: np.ndarray | None
    face_id: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return self.success.shape[0]

    def usable(self) -> np.ndarray:
        """(n,) bool: rows whose landmarks can be fitted (finite, not all zero)."""
        finite = np.isfinite(self.landmarks).all(axis=(1, 2))
        nonzero = (self.landmarks[:, :, 0] != 0).sum(axis=1) >= 2
        return finite & nonzero


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputNotFoundError(f"{path}: landmark table not found")
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: cannot read the landmark table as CSV ({exc})") from exc


def _numeric(frame: pd.DataFrame, columns: list[str], source: str) -> np.ndarray:
    """The columns as float64; a clear error naming the first bad cell."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & frame[columns].notna()
    if bad.any().any():
        column = bad.any(axis=0).idxmax()
        row = int(np.argmax(bad[column].to_numpy()))
        raise InputError(
            f"{source}: column {column!r} row {row + 1} is not a number "
            f"({str(frame[column].iloc[row])!r})"
        )
    return values.to_numpy(np.float64)


def read_landmark_table(table: str | PathLike[str] | pd.DataFrame) -> LandmarkTable:
    """Read and check a landmark table.

    Parameters
    ----------
    table : path-like or pandas.DataFrame
        A CSV file, or a table already in memory.

    Returns
    -------
    LandmarkTable

    Raises
    ------
    InputNotFoundError
        The file does not exist.
    InputError
        The file is not a readable CSV, or columns are missing or malformed:
        the message names them and says what is expected.
    """
    if isinstance(table, pd.DataFrame):
        frame, source = table, "landmark table"
    else:
        path = Path(table)
        frame, source = _read_csv(path), str(path)
    frame = frame.rename(columns=lambda c: str(c).strip())
    xs, ys = landmark_columns()
    missing = [c for c in xs + ys + ["success"] if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise InputError(
            f"{source}: missing column(s) {shown}; a landmark table needs x_0..x_67, "
            "y_0..y_67 and success (as in OpenFace's CSV)"
        )
    if len(frame) == 0:
        raise InputError(f"{source}: the landmark table has no rows")

    success_values = _numeric(frame, ["success"], source)[:, 0]
    if not np.isin(success_values, (0.0, 1.0)).all():
        row = int(np.argmax(~np.isin(success_values, (0.0, 1.0))))
        raise InputError(
            f"{source}: success must be 0 or 1, row {row + 1} has {frame['success'].iloc[row]}"
        )
    success = success_values == 1.0
    points = np.stack([_numeric(frame, xs, source), _numeric(frame, ys, source)], axis=2)
    bad = success & ~np.isfinite(points).all(axis=(1, 2))
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(f"{source}: row {row + 1} has success=1 but missing landmark values")
    bad = success & ((points[:, :, 0] != 0).sum(axis=1) < 2)
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(f"{source}: row {row + 1} has success=1 but its landmarks are all 0")

    extra = {}
    for name in _OPTIONAL:
        if name in frame.columns:
            values = _numeric(frame, [name], source)[:, 0]
            if np.isnan(values).any():
                row = int(np.argmax(np.isnan(values)))
                raise InputError(f"{source}: column {name!r} row {row + 1} is empty")
            extra[name] = values
    n = len(frame)
    if "frame" in extra:
        frames = extra["frame"]
        if not np.array_equal(frames, np.arange(1, n + 1)):
            if len(np.unique(frames)) < n:
                raise InputError(
                    f"{source}: frame numbers repeat; the table must hold one face per frame "
                    "(FeatureExtraction's output, not FaceLandmarkVidMulti's)"
                )
            raise InputError(
                f"{source}: frame numbers must run 1, 2, 3, ... with one row per video frame"
            )
    return LandmarkTable(
        landmarks=points.astype(np.float32),
        success=success,
        frame=np.arange(1, n + 1, dtype=np.int64),
        timestamp=extra.get("timestamp"),
        confidence=extra.get("confidence"),
        face_id=extra["face_id"].astype(np.int64) if "face_id" in extra else None,
        source=source,
    )
