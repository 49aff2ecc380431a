"""OpenFace's column layout and number format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openau.output import decimals, openface_columns, write_table


@pytest.mark.parametrize("clip", ["single_face", "face_noface", "no_face"])
def test_rewriting_the_precise_csv_reproduces_openface_csv(clip, reference_dir, tmp_path):
    """OpenFace's 714 columns, in order, printed with its decimals, byte for byte."""
    folder = reference_dir / clip
    table = pd.read_csv(folder / "openface_precise.csv")
    assert tuple(table.columns) == openface_columns()
    # float32 columns: round-trip through float32 as OpenFace printed them.
    for column in table.columns:
        doubles = ("frame", "face_id", "success", "timestamp", "confidence")
        if column not in doubles and not column.startswith("AU"):
            table[column] = table[column].to_numpy(np.float64).astype(np.float32).astype(np.float64)
    written = write_table(table, tmp_path / "out.csv", "csv")
    assert written.read_bytes() == (folder / "openface.csv").read_bytes()


def test_column_groups_and_decimals():
    assert len(openface_columns()) == 714 and len(openface_columns(video=False)) == 711
    assert len(openface_columns(gaze=False)) == 714 - 8 - 280
    assert decimals("pose_Tx") == 1 and decimals("pose_Rz") == 3 and decimals("p_12") == 3
    assert decimals("AU45_c") == 2 and decimals("AU45_c", video=False) == 1
    assert decimals("X_3") == 1 and decimals("frame") is None
    with pytest.raises(KeyError):
        decimals("bogus")


def test_unknown_column_fails_and_leaves_no_file(tmp_path):
    with pytest.raises(KeyError):
        write_table(pd.DataFrame({"bogus": [1.0]}), tmp_path / "b.csv", "csv")
    assert not list(tmp_path.iterdir())
