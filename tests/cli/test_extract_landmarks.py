"""``openau extract VIDEO --landmarks TABLE.csv -o OUT.csv``: exit codes, messages, output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openau.cli import main


@pytest.mark.slow
def test_writes_openface_columns(reference_clip, models_dir, tmp_path, capsys):
    ref = reference_clip("single_face")
    out = tmp_path / "out.csv"
    code = main(
        ["extract", str(ref.video), "--landmarks", str(ref.folder / "openface.csv"), "-o", str(out),
         "--models", str(models_dir)]
    )
    assert code == 0
    assert "72 frames in" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    ours = pd.read_csv(out)
    theirs = pd.read_csv(ref.folder / "openface.csv")
    assert len(ours.columns) == 5 + 6 + 136 + 204 + 40 + 35
    assert list(ours.columns) == [c for c in theirs.columns if c in set(ours.columns)]
    header = out.read_text().splitlines()[0]
    assert header.startswith("frame,face_id,timestamp,confidence,success,pose_Tx,")
    # The stock CSV's landmarks are rounded to 0.1 px, which moves aligned-face
    # pixels: AUs then agree with OpenFace's only roughly (measured MAE up to
    # 0.027 on the reference clips); exact agreement needs full-precision
    # landmarks (next test).
    aus = [c for c in ours.columns if c.startswith("AU") and c.endswith("_r")]
    assert np.abs(ours[aus].to_numpy() - theirs[aus].to_numpy()).mean(axis=0).max() <= 0.05
    np.testing.assert_array_equal(ours["x_17"], theirs["x_17"])


@pytest.mark.slow
def test_precise_table_reproduces_the_rounded_csv(reference_clip, models_dir, tmp_path):
    """From the full-precision landmarks, nearly every printed cell is OpenFace's."""
    ref = reference_clip("single_face")
    out = tmp_path / "out.csv"
    assert main(["extract", str(ref.video), "--landmarks", str(ref.folder / "openface_precise.csv"),
                 "-o", str(out), "--models", str(models_dir)]) == 0
    ours = pd.read_csv(out, dtype=str)
    theirs = pd.read_csv(ref.folder / "openface.csv", dtype=str)[list(ours.columns)]
    same = (ours.to_numpy() == theirs.to_numpy()).mean()
    # Measured 99.9 %: the rest are last-digit rounding flips of values that
    # agree to 1e-6 (p_i, 3-D landmarks).
    assert same >= 0.995


def test_bad_table_is_one_line_error(reference_clip, models_dir, tmp_path, capsys):
    ref = reference_clip("single_face")
    table = tmp_path / "table.csv"
    ref.table.drop(columns=["y_7"]).to_csv(table, index=False)
    code = main(["extract", str(ref.video), "--landmarks", str(table), "-o", str(tmp_path / "o.csv"),
                 "--models", str(models_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (
        f"openau: error: {table}: missing column(s) y_7; a landmark table needs x_0..x_67, "
        "y_0..y_67 and success (as in OpenFace's CSV)"
    )
    assert not (tmp_path / "o.csv").exists()


def test_missing_models_and_partial_intrinsics(reference_clip, tmp_path, capsys, user_dirs):
    ref = reference_clip("single_face")
    args = ["extract", str(ref.video), "--landmarks", str(ref.folder / "openface.csv"),
            "-o", str(tmp_path / "o.csv")]
    assert main(args) == 1
    assert "openau models download" in capsys.readouterr().err
    assert main(args + ["--models", str(tmp_path)]) == 1
    assert f"{tmp_path}" in capsys.readouterr().err
    assert main(args + ["--fx", "500"]) == 1
    assert "all of --fx, --fy, --cx and --cy" in capsys.readouterr().err


def test_missing_video(reference_clip, models_dir, tmp_path, capsys):
    ref = reference_clip("single_face")
    code = main(
        ["extract", str(tmp_path / "nope.mp4"), "--landmarks", str(ref.folder / "openface.csv"),
         "--models", str(models_dir), "-o", str(tmp_path / "o.csv")]
    )
    assert code == 1
    assert "nope.mp4" in capsys.readouterr().err
