"""Reading landmark tables: OpenFace CSVs, plain tables, and clear errors for bad ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openau.au.landmark_table import read_landmark_table
from openau.errors import InputError, InputNotFoundError


def _table(n: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = {f"x_{i}": rng.uniform(100, 200, n) for i in range(68)}
    data |= {f"y_{i}": rng.uniform(100, 200, n) for i in range(68)}
    data["success"] = [1] * n
    return pd.DataFrame(data)


def test_reads_openface_csv(reference_dir):
    table = read_landmark_table(reference_dir / "face_noface" / "openface.csv")
    assert len(table) == 169 and table.landmarks.shape == (169, 68, 2)
    assert table.landmarks.dtype == np.float32
    assert table.success.sum() == 78
    assert table.timestamp is not None and table.confidence is not None
    np.testing.assert_array_equal(table.frame, np.arange(1, 170))


def test_reads_plain_table_and_old_style_headers(tmp_path):
    frame = _table()
    table = read_landmark_table(frame)
    assert table.timestamp is None and table.face_id is None
    np.testing.assert_allclose(table.landmarks[:, 3, 1], frame["y_3"], rtol=1e-6)
    # OpenFace 2.0/2.1 wrote ", " between columns.
    path = tmp_path / "spaced.csv"
    path.write_text(", ".join(frame.columns) + "\n" + "\n".join(
        ", ".join(f"{v:g}" for v in row) for row in frame.to_numpy()) + "\n")
    assert len(read_landmark_table(path)) == 4


def test_failed_rows_may_lack_landmarks():
    frame = _table()
    frame.loc[1, "success"] = 0
    frame.loc[1, "x_5"] = np.nan
    table = read_landmark_table(frame)
    assert not table.success[1] and not table.usable()[1] and table.usable()[0]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda f: f.drop(columns=["x_12", "y_3"]),
            r"missing column\(s\) x_12, y_3; a landmark table needs",
        ),
        (lambda f: f.drop(columns=["success"]), r"missing column\(s\) success"),
        (lambda f: f.assign(x_4=["a", 1, 2, 3]), r"column 'x_4' row 1 is not a number \('a'\)"),
        (lambda f: f.assign(success=[1, 2, 1, 1]), "success must be 0 or 1, row 2 has 2"),
        (lambda f: f.assign(y_0=[1.0, np.nan, 2.0, 3.0]), "row 2 has success=1 but missing landmark"),
        (lambda f: f.assign(**{f"x_{i}": 0.0 for i in range(68)}), "landmarks are all 0"),
        (lambda f: f.assign(frame=[1, 1, 2, 3]), "frame numbers repeat"),
        (lambda f: f.assign(frame=[2, 3, 4, 5]), "frame numbers must run 1, 2, 3"),
        (lambda f: f.iloc[:0], "has no rows"),
    ],
)
def test_malformed_tables(edit, message):
    with pytest.raises(InputError, match=message):
        read_landmark_table(edit(_table()))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputNotFoundError, match="landmark table not found"):
        read_landmark_table(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"")
    with pytest.raises(InputError, match="cannot read the landmark table"):
        read_landmark_table(bad)
