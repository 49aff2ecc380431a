"""``openau extract`` end to end with openau's real stages on the shared clips.

These tests check the engine with the real detector, tracker and AU stage:
OpenFace's rows and columns, failures, interruption, resume, the watchdog and
spawned workers. How close the VALUES come to OpenFace's is each stage's gold
test; here the tolerances only guard against the engine mixing up frames or
columns.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openau.cli import main
from openau.output.columns import video_columns
from openau.video.engine import STALL_FRAME_ENV, STALL_STAGE_ENV

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def real_stages(monkeypatch, models_dir):
    monkeypatch.delenv("OPENAU_TEST_STAGES", raising=False)
    monkeypatch.setenv("OPENAU_MODELS", str(models_dir))


def _reference(reference_dir: Path, folder: str) -> pd.DataFrame:
    return pd.read_csv(reference_dir / folder / "openface.csv")


@pytest.fixture(scope="module")
def single_face_csv(tmp_path_factory, media_dir, models_dir) -> Path:
    """single_face.mp4 through the CLI with --jobs 1 (also warms the kernel caches for subprocesses)."""
    out = tmp_path_factory.mktemp("single") / "single_face.csv"
    os.environ["OPENAU_MODELS"] = str(models_dir)
    os.environ.pop("OPENAU_TEST_STAGES", None)
    code = main(["extract", str(media_dir / "single_face.mp4"), "-o", str(out), "--timestamps", "openface", "-q"])
    assert code == 0
    return out


def test_single_face_rows_and_columns(single_face_csv, reference_dir):
    ours = pd.read_csv(single_face_csv)
    reference = _reference(reference_dir, "single_face")
    assert list(ours.columns) == [c for c in reference.columns if c in ours.columns] == video_columns()
    for column in ("frame", "face_id", "success"):
        assert ours[column].tolist() == reference[column].tolist()
    # Same rounding as OpenFace: (frame - 1) / fps written with 3 decimals.
    assert single_face_csv.read_text().splitlines()[1].startswith("1,0,0.000,")
    np.testing.assert_array_equal(ours["timestamp"], reference["timestamp"])
    # Landmarks within a few pixels: the rows are the right frames, in order.
    for axis in ("x", "y"):
        columns = [f"{axis}_{i}" for i in range(68)]
        assert np.abs(ours[columns].to_numpy() - reference[columns].to_numpy()).max() < 3.0


def test_no_face_gives_every_row_with_success_0(tmp_path, media_dir, reference_dir, capsys):
    out = tmp_path / "no_face.csv"
    code = main(["extract", str(media_dir / "no_face.mp4"), "-o", str(out), "--timestamps", "openface", "-q"])
    assert code == 0
    warning = f"openau: warning: {media_dir / 'no_face.mp4'}: no face found in any of the 95 frames"
    assert capsys.readouterr().err.startswith(warning)
    ours = pd.read_csv(out)
    reference = _reference(reference_dir, "no_face")
    assert len(ours) == 95 and ours["success"].eq(0).all()
    np.testing.assert_array_equal(ours["timestamp"], reference["timestamp"])
    au = [c for c in ours.columns if c.startswith("AU")]
    np.testing.assert_array_equal(ours[au], reference[au])  # all zero


def test_bad_batch_with_real_stages(tmp_path, media_dir, capsys):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 10)
    data = (media_dir / "of_multi_face.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 10])
    inputs = [media_dir / "no_face.mp4", text, tmp_path / "missing.mp4", cut]
    code = main(["extract", *map(str, inputs), "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"openau: error: {text}: not a readable video" in err
    assert f"openau: error: {tmp_path / 'missing.mp4'}: no such file" in err
    assert f"openau: warning: {cut}: truncated or damaged" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cut.csv", "no_face.csv"]
    assert 20 < len(pd.read_csv(tmp_path / "out" / "cut.csv")) < 702


def test_resume_skips_finished_output(single_face_csv, media_dir, capsys):
    before = single_face_csv.stat().st_mtime_ns
    started = time.monotonic()
    code = main(["extract", str(media_dir / "single_face.mp4"), "-o", str(single_face_csv), "--resume"])
    assert code == 0 and time.monotonic() - started < 5.0
    assert "skipped" in capsys.readouterr().err
    assert single_face_csv.stat().st_mtime_ns == before


def test_stalled_stage_fails_with_its_name_and_frame(tmp_path, media_dir, monkeypatch, capsys):
    monkeypatch.setenv(STALL_STAGE_ENV, "landmarks")
    monkeypatch.setenv(STALL_FRAME_ENV, "3")
    clip = media_dir / "single_face.mp4"
    started = time.monotonic()
    code = main(["extract", str(clip), "-o", str(tmp_path), "--stall-timeout", "1", "-q"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 1 and elapsed < 15.0
    assert (
        f"openau: error: {clip}: stage 'landmarks' made no progress for 1 s on frame 4 "
        "(last frame it finished: frame 3)"
    ) in err
    partial = pd.read_csv(tmp_path / "single_face.csv.partial")
    assert partial["frame"].tolist() == [1, 2, 3]


def test_spawned_workers_give_the_same_tables(single_face_csv, tmp_path, media_dir):
    code = main(["extract", str(media_dir / "single_face.mp4"), str(media_dir / "no_face.mp4"),
                 "-o", str(tmp_path), "--jobs", "2", "--timestamps", "openface", "-q"])  # fmt: skip
    assert code == 0
    assert (tmp_path / "single_face.csv").read_text() == single_face_csv.read_text()
    assert len(pd.read_csv(tmp_path / "no_face.csv")) == 95


def test_ctrl_c_leaves_partial_and_exits_130(single_face_csv, tmp_path, media_dir):
    env = {**os.environ, "OPENAU_PROGRESS_INTERVAL": "0"}
    env.pop(STALL_STAGE_ENV, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "openau", "extract", str(media_dir / "video01.mp4"), "-o", "out"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until frames flow (models loaded)
            line = process.stderr.readline()
            seen.append(line)
            if "/300 frames" in line or not line:
                break
        assert "/300 frames" in seen[-1], "".join(seen)
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
        elapsed = time.monotonic() - sent
        rest = process.stderr.read()
    finally:
        process.kill()
        process.stderr.close()
    assert code == 130, rest
    assert elapsed < 2.0
    partial = pd.read_csv(tmp_path / "out" / "video01.csv.partial")
    assert 0 < len(partial) < 300 and list(partial.columns) == video_columns()
    assert not (tmp_path / "out" / "video01.csv").exists()


def test_image_gives_one_row_per_face(tmp_path, media_dir, reference_dir):
    out = tmp_path / "multi.csv"
    assert main(["extract", str(media_dir / "multi_face.jpg"), "-o", str(out), "-q"]) == 0
    ours = pd.read_csv(out)
    reference = _reference(reference_dir, "multi_face_jpg")
    assert list(ours.columns) == [c for c in reference.columns if c in ours.columns]
    assert ours["face"].tolist() == reference["face"].tolist() == [0, 1, 2, 3, 4]
    # FaceLandmarkImg prints confidence with 3 decimals and AU presence with 1.
    first = out.read_text().splitlines()[1].split(",")
    assert len(first[1].split(".")[1]) == 3 and len(first[-1].split(".")[1]) == 1
    columns = [f"x_{i}" for i in range(68)]
    assert np.abs(ours[columns].to_numpy() - reference[columns].to_numpy()).max() < 3.0
