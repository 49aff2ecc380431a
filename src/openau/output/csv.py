"""Writing OpenFace-style CSV files, atomically.

The table is written to ``<name>.partial`` beside the target and renamed over
it once complete, so a reader never sees half a file and an interrupted run
leaves the previous output (if any) untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from openau.output.columns import decimals as openface_decimals

__all__ = ["PARTIAL_SUFFIX", "format_column", "write_csv"]

#: Suffix of the file being written.
PARTIAL_SUFFIX = ".partial"


def format_column(values: pd.Series, places: int | None) -> list[str]:
    """Text of one column: fixed point with ``places`` decimals, or integers.

    NaN becomes an empty field.
    """
    array = values.to_numpy()
    if places is None:
        return ["" if pd.isna(v) else str(int(v)) for v in array]
    spec = f"{{:.{places}f}}"
    return ["" if np.isnan(v) else spec.format(v) for v in array.astype(np.float64)]


def write_csv(
    table: pd.DataFrame,
    path: str | PathLike[str],
    decimals: Callable[[str], int | None] | None = None,
) -> Path:
    """Write ``table`` as a comma-separated file with OpenFace's formatting.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns in the order to write; header without spaces.
    path : path-like
        Target file; its folder must exist.
    decimals : callable, optional
        Column name to decimals (None for integers); OpenFace's video
        decimals (:func:`openau.output.columns.decimals`) by default.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(path)
    places = decimals or openface_decimals
    columns = [format_column(table[name], places(name)) for name in table.columns]
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    try:
        with open(partial, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(",".join(table.columns) + "\n")
            for row in zip(*columns, strict=True):
                handle.write(",".join(row) + "\n")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target
