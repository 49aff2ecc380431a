"""Writing tables: OpenFace-formatted CSV, Parquet, atomic files and ``.partial`` files.

No work is lost and no half-written file is ever taken for a complete one:

- A complete output is written to a temporary file in the destination folder
  and renamed over the destination (atomic on every supported system), so
  the output file exists only once it is whole. ``--resume`` therefore skips
  an input exactly when its output file exists.
- When a run is interrupted or an input fails midway, what was done is
  written to ``<output>.partial`` (same columns, frames done so far; see
  :func:`write_partial`). A later complete run removes it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from openau.output.columns import decimals as column_decimals
from openau.output.paths import FORMAT_SUFFIX, PARTIAL_SUFFIX, is_complete, output_path, partial_path
from openau.output.fixedpoint import format_block
from openau.output.tables import ColumnTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMAT_SUFFIX",
    "PARTIAL_SUFFIX",
    "output_path",
    "partial_path",
    "is_complete",
    "format_csv",
    "write_table",
    "write_partial",
]

#: Rows formatted at a time: bounds the memory of writing a long video's CSV
#: (about 30 KB per row while a block is laid out, see :mod:`openau.output.fixedpoint`).
#: 192 rows: 4 MB of temporaries and the fastest of 128-512 on a 3,000-row table
#: (512 rows: 16 MB, and 10-25 % slower as the block no longer fits the caches).
_CSV_CHUNK_ROWS = 192


def _python_rows(columns: list[np.ndarray], decimals: Sequence[int | None]) -> bytes:
    """Rows formatted value by value (NaN, infinities, huge values: what the block path leaves)."""
    row_format = ",".join("%d" if d is None else f"%.{d}f" for d in decimals)
    # tolist() gives Python scalars; a float32 becomes the exact double,
    # which prints as C++'s iostream prints the float (promoted to double).
    lists = [array.tolist() for array in columns]
    return "".join(row_format % row + "\n" for row in zip(*lists, strict=True)).encode("ascii")


def _csv_chunks(table: ColumnTable | pd.DataFrame, decimals: Sequence[int | None]):
    """The CSV bytes of ``table`` in pieces: the header line, then blocks of rows."""
    names = list(table.columns)
    if len(decimals) != len(names):
        raise ValueError(f"{len(decimals)} decimals given for {len(names)} columns")
    yield (",".join(map(str, names)) + "\n").encode("ascii")
    arrays = [np.asarray(table[name]) for name in names]
    for start in range(0, len(table), _CSV_CHUNK_ROWS):
        stop = start + _CSV_CHUNK_ROWS
        columns = [array[start:stop] for array in arrays]
        text = format_block(columns, decimals)
        yield text if text is not None else _python_rows(columns, decimals)


def format_csv(table: ColumnTable | pd.DataFrame, decimals: Sequence[int | None]) -> str:
    """The table as OpenFace writes CSV: header without spaces, fixed-point values.

    Parameters
    ----------
    table : ColumnTable or pandas.DataFrame
    decimals : sequence of int or None
        Per column: digits after the point, or None for integers.
    """
    return b"".join(_csv_chunks(table, decimals)).decode("ascii")


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _write_parquet(table: ColumnTable | pd.DataFrame, target: Path) -> None:
    if isinstance(table, ColumnTable):
        # pyarrow directly: pandas is not needed to write openau's own tables.
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({name: table[name] for name in table.columns}), target)
    else:
        table.to_parquet(target, index=False)


def _writer(table: ColumnTable | pd.DataFrame, output_format: str, image: bool):
    if output_format == "csv":
        decimals = [column_decimals(name, video=not image) for name in table.columns]

        def write(target: Path) -> None:
            with open(target, "wb") as handle:
                for piece in _csv_chunks(table, decimals):
                    handle.write(piece)

        return write
    if output_format == "parquet":
        return lambda target: _write_parquet(table, target)
    raise ValueError(f"output_format must be 'csv' or 'parquet', got {output_format!r}")


def write_table(table: ColumnTable | pd.DataFrame, path: Path, output_format: str, image: bool = False) -> Path:
    """Write a complete table atomically and remove a stale ``.partial`` beside it.

    Parameters
    ----------
    table : ColumnTable or pandas.DataFrame
    path : Path
    output_format : {"csv", "parquet"}
    image : bool
        FaceLandmarkImg's CSV precision (see :func:`openau.output.columns.decimals`).
    """
    path = Path(path)
    _write_atomic(path, _writer(table, output_format, image))
    partial_path(path).unlink(missing_ok=True)
    return path


def write_partial(table: ColumnTable | pd.DataFrame, path: Path, output_format: str, image: bool = False) -> Path:
    """Write what was done of an input to ``<path>.partial`` (atomically); returns that path.

    The table has the complete output's columns for the frames processed.
    Its AU columns went through the offline post-processing over those frames
    only, so they can differ from a complete run's near the end; they are left
    out when the AU stage could not finish.
    """
    target = partial_path(Path(path))
    _write_atomic(target, _writer(table, output_format, image))
    return target
