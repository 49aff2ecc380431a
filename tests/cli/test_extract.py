"""``openau extract``: exit codes, messages, outputs, resume and Ctrl-C (fake stages)."""

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
from openau.output.columns import image_columns, video_columns

FAKES = f"{Path(__file__).resolve().parents[1] / 'video' / 'fakes.py'}:build"


@pytest.fixture(autouse=True)
def fake_stages(monkeypatch):
    monkeypatch.setenv("OPENAU_TEST_STAGES", FAKES)


def _clip(path: Path, frames: int, face: bool = True) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), 40 + i % 7, np.uint8)
            if face:
                image[12:36, 16:48] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_one_video_and_one_image(tmp_path, media_dir, capsys):
    clip = _clip(tmp_path / "clip.mp4", 6)
    code = main(["extract", str(clip), str(media_dir / "single_face.jpg"), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0
    assert f"openau: {clip}: 6 frames in" in err and "2 inputs: 2 done" in err
    video = pd.read_csv(tmp_path / "out" / "clip.csv")
    assert list(video.columns) == video_columns() and len(video) == 6
    image = pd.read_csv(tmp_path / "out" / "single_face.csv")
    assert list(image.columns) == image_columns() and image["face"].tolist() == [0, 1]


def test_bad_batch_reports_each_failure_and_exits_1(tmp_path, capsys):
    good = _clip(tmp_path / "good.mp4", 4)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 10)
    code = main(["extract", str(good), str(text), str(tmp_path / "gone.mp4"), str(tmp_path / "*.mkv"),
                 "-o", str(tmp_path / "out"), "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert sorted(err) == sorted([
        f"openau: error: {tmp_path / '*.mkv'}: no file matches this pattern; check the path",
        f"openau: error: {text}: not a readable video (Invalid data found when processing input); "
        "check that the file is a complete video",
        f"openau: error: {tmp_path / 'gone.mp4'}: no such file; check the path",
    ])  # fmt: skip
    assert (tmp_path / "out" / "good.csv").is_file()


def test_no_face_warns_even_when_quiet_and_exits_0(tmp_path, capsys):
    clip = _clip(tmp_path / "dark.mp4", 5, face=False)
    code = main(["extract", str(clip), "-o", str(tmp_path / "o.csv"), "-q"])
    err = capsys.readouterr().err
    assert code == 0
    assert err == f"openau: warning: {clip}: no face found in any of the 5 frames; every row has success=0\n"
    table = pd.read_csv(tmp_path / "o.csv")
    assert len(table) == 5 and table["success"].eq(0).all()


def test_parquet_and_resume(tmp_path, capsys):
    clip = _clip(tmp_path / "clip.mp4", 3)
    args = ["extract", str(clip), "-o", str(tmp_path), "--format", "parquet"]
    assert main(args) == 0
    out = tmp_path / "clip.parquet"
    assert pd.read_parquet(out)["frame"].dtype == np.int32
    before = out.stat().st_mtime_ns
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    assert f"{clip}: skipped, {out} exists (--resume)" in capsys.readouterr().err
    assert out.stat().st_mtime_ns == before


def test_usage_errors(tmp_path, capsys):
    clip = _clip(tmp_path / "clip.mp4", 2)
    assert main(["extract", str(clip), str(clip) + "x", "-o", str(tmp_path / "one.csv")]) == 1
    assert "one output file for 2 inputs" in capsys.readouterr().err
    for option in ("--jobs", "--threads"):
        with pytest.raises(SystemExit) as exited:  # argparse's usage error
            main(["extract", str(clip), option, "0"])
        assert exited.value.code == 2
        assert "expected a whole number >= 1, got '0'" in capsys.readouterr().err


def _start(args, env_extra, tmp_path):
    env = {**os.environ, "OPENAU_TEST_STAGES": FAKES, "OPENAU_FAKE_DELAY": "0.03", **env_extra}
    return subprocess.Popen(
        [sys.executable, "-m", "openau", "extract", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def _wait_for(process, text, timeout=30.0):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"never saw {text!r}; stderr: {''.join(lines)}")


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_leaves_partial_files_and_exits_130(tmp_path, jobs):
    clips = [_clip(tmp_path / f"long{i}.mp4", 150) for i in range(jobs)]
    process = _start([*map(str, clips), "-o", "out", "--jobs", str(jobs)], {}, tmp_path)
    try:
        for _ in range(jobs):
            _wait_for(process, ": started")
        time.sleep(0.6)  # some frames done (30 ms each), far from the end
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)
        elapsed = time.monotonic() - sent
        rest = process.stderr.read()
    finally:
        process.kill()
        process.stderr.close()
    assert code == 130, rest
    assert elapsed < 2.0
    assert "openau: interrupted" in rest
    for clip in clips:
        partial = tmp_path / "out" / f"{clip.stem}.csv.partial"
        assert partial.is_file(), rest
        table = pd.read_csv(partial)
        assert 0 < len(table) < 150 and list(table.columns) == video_columns()
        assert not (tmp_path / "out" / f"{clip.stem}.csv").exists()


def test_unwritable_output_and_no_inputs(tmp_path, capsys):
    clip = _clip(tmp_path / "clip.mp4", 2)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    assert main(["extract", str(clip), "-o", str(blocker / "out"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"openau: error: {clip}: cannot write {blocker / 'out' / 'clip.csv'}: ")
    assert "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["extract", str(empty), "--folders", "images"]) == 1
    assert f"no image or video found in {empty}" in capsys.readouterr().err


def test_rich_progress_reporter_runs(tmp_path):
    import io

    from openau.cli.progress import RichReporter
    from openau.video.events import FramesDone, InputFailed, InputFinished, InputStarted, InputWarning

    stream = io.StringIO()
    reporter = RichReporter(2, quiet=False, stream=stream)
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for event in [
        InputStarted(0, a, 10),
        FramesDone(0, a, 5, 10),
        InputWarning(0, a, "a warning"),
        InputFinished(0, a, tmp_path / "a.csv", 10, 1.0),
        InputStarted(1, b, None),
        InputFailed(1, b, f"{b}: broken"),
    ]:
        reporter(event)
    reporter.close()
    text = stream.getvalue()
    assert "openau: warning: a warning" in text and f"openau: error: {b}: broken" in text
    assert (reporter.finished, reporter.failed, reporter.warned) == (1, 1, 1)


def test_csv_extraction_does_not_import_pandas(tmp_path):
    # Start-up time and memory per worker: pandas and pyarrow (~0.5 s, ~75 MB)
    # are imported only for the Python API's DataFrames and for Parquet.
    clip = _clip(tmp_path / "clip.mp4", 3)
    code = (
        "import sys\n"
        "from openau.cli import main\n"
        f"assert main(['extract', {str(clip)!r}, '-o', {str(tmp_path / 'out')!r}, '-q']) == 0\n"
        "print(sorted(m for m in ('pandas', 'pyarrow') if m in sys.modules))\n"
    )
    env = {**os.environ, "OPENAU_TEST_STAGES": FAKES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[]"
    assert len(pd.read_csv(tmp_path / "out" / "clip.csv")) == 3


def test_help_is_quick_to_start():
    # Building the parser (``openau --help``) must not load numpy or a stage.
    code = (
        "import sys\n"
        "from openau.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('numpy', 'cv2', 'av', 'numba', 'onnxruntime') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
