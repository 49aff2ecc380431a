"""ColumnTable: the engine's pandas-free table, and writing it as CSV and Parquet."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from openau.output.columns import column_dtypes, decimals, video_columns
from openau.output.tables import ColumnTable, drop_au_columns, video_table
from openau.output.writers import format_csv, write_table


def _video(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return video_table(
        frame=np.arange(1, n + 1),
        timestamp=np.arange(n) / 30.0,
        confidence=rng.uniform(0, 1, n),
        success=rng.uniform(0, 1, n) > 0.3,
        pose=rng.normal(size=(n, 6)).astype(np.float32),
        landmarks_2d=rng.uniform(0, 640, (n, 68, 2)).astype(np.float32),
        landmarks_3d=rng.normal(size=(n, 68, 3)).astype(np.float32),
        params_global=rng.normal(size=(n, 6)).astype(np.float32),
        params_local=rng.normal(size=(n, 34)).astype(np.float32),
        intensity=rng.uniform(0, 5, (n, 17)),
        presence=(rng.uniform(0, 1, (n, 18)) > 0.5).astype(np.float64),
    )


def test_shape_columns_and_dtypes():
    table = _video(4)
    assert len(table) == 4 and table.columns == tuple(video_columns())
    assert {name: table[name].dtype for name in table.columns} == column_dtypes(video_columns())
    assert "x_0" in table and "bogus" not in table


def test_columns_are_read_only_views_of_the_inputs():
    frame = np.arange(3)
    table = ColumnTable({"frame": frame})
    with pytest.raises(ValueError):
        table["frame"][0] = 7
    frame[0] = 7  # the caller's array stays writable
    assert table["frame"][0] == 7


@pytest.mark.parametrize(
    ("columns", "message"),
    [({"a": np.zeros(2), "b": np.zeros(3)}, "equal lengths"), ({"a": np.zeros((2, 2))}, "1-D")],
)
def test_bad_columns(columns, message):
    with pytest.raises(ValueError, match=message):
        ColumnTable(columns)


def test_empty_table_and_select():
    assert len(ColumnTable({})) == 0
    table = drop_au_columns(_video(2))
    assert not any(name.startswith("AU") for name in table.columns) and len(table) == 2


def test_to_pandas_equals_the_columns():
    table = _video(6)
    frame = table.to_pandas()
    assert list(frame.columns) == list(table.columns)
    for name in table.columns:
        assert frame[name].dtype == table[name].dtype
        np.testing.assert_array_equal(frame[name].to_numpy(), table[name])
    frame.loc[0, "x_0"] = -1.0  # a DataFrame of its own, writable
    assert table["x_0"][0] != -1.0


def test_csv_is_the_same_from_a_column_table_and_a_dataframe():
    table = _video(7)
    places = [decimals(name) for name in table.columns]
    assert format_csv(table, places) == format_csv(table.to_pandas(), places)


def test_parquet_from_a_column_table_reads_back_with_the_dtypes(tmp_path):
    table = _video(4)
    back = pd.read_parquet(write_table(table, tmp_path / "clip.parquet", "parquet"))
    assert list(back.columns) == list(table.columns)
    pd.testing.assert_frame_equal(back, table.to_pandas())


def test_writing_csv_imports_no_pandas(tmp_path):
    # The command line writes CSV from ColumnTables; pandas (and pyarrow
    # with it) would cost each worker ~0.5 s of start-up and ~75 MB.
    code = (
        "import sys, numpy as np\n"
        "from openau.output.tables import ColumnTable\n"
        "from openau.output.writers import write_table\n"
        f"write_table(ColumnTable({{'frame': np.arange(3)}}), {str(tmp_path / 'a.csv')!r}, 'csv')\n"
        "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert (tmp_path / "a.csv").read_text() == "frame\n0\n1\n2\n"
