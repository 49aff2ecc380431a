"""Batches: bad inputs fail alone, resume skips finished work, spawned workers (fake stages)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pandas as pd
import pytest

from openau.video.batch import plan_outputs, run_batch
from openau.video.engine import STALL_FRAME_ENV, STALL_STAGE_ENV
from openau.video.events import InputFailed, InputFinished, InputSkipped, InputStarted, InputWarning
from openau.video.sources import Input, expand_inputs
from openau.errors import InputError


def _bad_inputs(tmp_path, media_dir):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    data = (media_dir / "video01.mp4").read_bytes()
    cut_mp4 = tmp_path / "cut.mp4"  # its index is at the end: unreadable once cut
    cut_mp4.write_bytes(data[: len(data) // 2])
    data = (media_dir / "of_multi_face.avi").read_bytes()
    cut_avi = tmp_path / "cut.avi"  # readable up to the cut
    cut_avi.write_bytes(data[: len(data) // 4])
    return text, cut_mp4, cut_avi


def test_bad_inputs_fail_alone(tmp_path, media_dir, fake_config, make_clip):
    good = make_clip("good.mp4", [True] * 5)
    text, cut_mp4, cut_avi = _bad_inputs(tmp_path, media_dir)
    jobs = expand_inputs([good, tmp_path / "missing.mp4", text, cut_mp4, cut_avi])
    outputs = plan_outputs(jobs, tmp_path / "out", "csv")
    events = []
    outcomes = run_batch(jobs, outputs, fake_config, on_event=events.append)
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert outcomes[1].error == f"{tmp_path / 'missing.mp4'}: no such file; check the path"
    assert outcomes[2].error.startswith(f"{text}: not a readable video")
    assert outcomes[3].error.startswith(f"{cut_mp4}: not a readable video")
    assert all(o.traceback is None for o in outcomes)  # expected errors: one line, no traceback
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cut_avi.csv", "good.csv"]  # stems clash with cut.mp4
    warnings = [e.message for e in events if isinstance(e, InputWarning)]
    assert len(warnings) == 1 and "cut.avi: truncated or damaged" in warnings[0]
    assert sum(isinstance(e, InputFailed) for e in events) == 3
    assert sum(isinstance(e, InputFinished) for e in events) == 2


def test_stage_error_leaves_partial_and_traceback(tmp_path, fake_config, make_clip, monkeypatch):
    monkeypatch.setenv("OPENAU_FAKE_FAIL_FRAME", "12")
    clip = make_clip("clip.mp4", [True] * 20)
    (outcome,) = run_batch([Input(clip, "video")], [tmp_path / "clip.csv"], fake_config)
    assert "clip.mp4: stage 'landmarks' failed on frame 13: ValueError: fake tracker failure" in outcome.error
    assert "Traceback" in outcome.traceback and "fakes.py" in outcome.traceback
    assert outcome.partial == tmp_path / "clip.csv.partial"
    partial = pd.read_csv(outcome.partial)
    assert partial["frame"].tolist() == list(range(1, len(partial) + 1)) and 0 < len(partial) <= 12
    assert not (tmp_path / "clip.csv").exists()


def test_resume_skips_complete_outputs(tmp_path, fake_config, make_clip):
    clips = [make_clip(f"c{i}.mp4", [True] * 3) for i in range(2)]
    jobs = expand_inputs(clips)
    outputs = plan_outputs(jobs, tmp_path / "out", "csv")
    run_batch(jobs, outputs[:1] + [None], fake_config)  # only the first is written
    before = outputs[0].stat().st_mtime_ns
    events = []
    outcomes = run_batch(jobs, outputs, fake_config, resume=True, on_event=events.append)
    assert [o.skipped for o in outcomes] == [True, False] and all(o.ok for o in outcomes)
    assert outputs[0].stat().st_mtime_ns == before
    assert [type(e) for e in events if not type(e).__name__ == "FramesDone"] == [
        InputSkipped,
        InputStarted,
        InputFinished,
    ]


def test_plan_outputs(tmp_path):
    jobs = [Input(tmp_path / "a.mp4", "video"), Input(tmp_path / "b.mp4", "video")]
    assert plan_outputs(jobs, tmp_path / "o", "parquet") == [tmp_path / "o/a.parquet", tmp_path / "o/b.parquet"]
    assert plan_outputs(jobs[:1], tmp_path / "x.csv", "csv") == [tmp_path / "x.csv"]
    with pytest.raises(InputError, match="one output file for 2 inputs"):
        plan_outputs(jobs, tmp_path / "x.csv", "csv")
    with pytest.raises(InputError, match="the format is parquet"):
        plan_outputs(jobs[:1], tmp_path / "x.csv", "parquet")


def test_spawned_workers_complete_a_batch_with_bad_and_crashing_inputs(tmp_path, fake_config, make_clip):
    # Two spawned workers: a missing file fails alone, a worker that dies
    # mid-clip fails only its clip and is replaced for the remaining inputs.
    clips = [make_clip(f"c{i}.mp4", [True, False] * 10) for i in range(3)]
    crash = make_clip("crash.mp4", [True] * 5 + [None] + [True] * 5)
    jobs = expand_inputs([clips[0], crash, tmp_path / "missing.mp4", clips[1], clips[2]])
    outputs = plan_outputs(jobs, tmp_path / "out", "csv")
    config = dataclasses.replace(fake_config, jobs=2)
    events = []
    outcomes = run_batch(jobs, outputs, config, on_event=events.append)
    assert [o.ok for o in outcomes] == [True, False, False, True, True]
    assert "crash.mp4: worker process died (exit code 3)" in outcomes[1].error
    assert "missing.mp4: no such file" in outcomes[2].error
    for i in (0, 3, 4):
        table = pd.read_csv(outputs[i])
        assert len(table) == 20 and table["success"].tolist() == [1, 0] * 10
    assert {e.job for e in events if isinstance(e, InputFinished)} == {0, 3, 4}


def test_stall_in_a_worker_fails_that_input(tmp_path, fake_config, make_clip, monkeypatch):
    monkeypatch.setenv(STALL_STAGE_ENV, "au")  # inherited by the spawned workers
    monkeypatch.setenv(STALL_FRAME_ENV, "3")
    clips = [make_clip(f"c{i}.mp4", [True] * 6) for i in range(2)]
    jobs = expand_inputs(clips)
    config = dataclasses.replace(fake_config, jobs=2, stall_timeout=1.0)
    outcomes = run_batch(jobs, plan_outputs(jobs, tmp_path, "csv"), config)
    for outcome, clip in zip(outcomes, clips):
        assert outcome.error.startswith(f"{clip}: stage 'au' made no progress for 1 s on frame 4")
        assert outcome.partial is not None and outcome.partial.name.endswith(".csv.partial")
    assert os.environ[STALL_STAGE_ENV] == "au"


def test_limit_threads_caps_blas_and_defers_numba():
    code = (
        "import sys, os\n"
        "from threadpoolctl import threadpool_info\n"
        "from openau.video.pool import limit_threads\n"
        "limit_threads(1)\n"
        "print('numba' in sys.modules, os.environ['NUMBA_NUM_THREADS'],\n"
        "      sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "1", "[1]"]


def test_in_process_runs_cap_numeric_threads_and_restore_them():
    # One numeric thread per worker by default (more BLAS threads spin on
    # openau's small matrices); a run in the caller's process gives the
    # caller its own thread counts back.
    code = (
        "import cv2\n"
        "from threadpoolctl import threadpool_info, threadpool_limits\n"
        "from openau.video.config import ExtractConfig\n"
        "from openau.video.pool import numeric_threads, worker_threads\n"
        "threadpool_limits(2); cv2.setNumThreads(2)\n"
        "blas = lambda: sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'})\n"
        "threads = worker_threads(ExtractConfig(), 1)\n"
        "with numeric_threads(threads):\n"
        "    print(threads, blas(), cv2.getNumThreads())\n"
        "print(blas(), cv2.getNumThreads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["1 [1] 1", "[2] 2"]


def test_a_batch_parent_plans_and_starts_workers_without_numpy(tmp_path):
    # The parent of a batch's workers only plans outputs and hands out inputs:
    # importing numpy, PyAV, OpenCV or ONNX Runtime there would delay every
    # worker's start (a third of a second of CPU on a 2-core machine).
    clip = tmp_path / "a.mp4"
    clip.write_bytes(b"")
    code = (
        "import sys\n"
        "from openau.cli import build_parser\n"
        "build_parser().parse_args(['extract', 'x.mp4', '--jobs', '2'])\n"
        "from openau.cli.extract import run\n"
        "from openau.cli.progress import make_reporter\n"
        "from openau.video.batch import plan_outputs, run_batch\n"
        "from openau.video.pool import run_pool\n"
        "from openau.video.sources import expand_inputs\n"
        "from openau.video.config import ExtractConfig\n"
        "from openau.video.cores import worker_count\n"
        f"jobs = expand_inputs([{str(clip)!r}], 'sequence')\n"
        f"plan_outputs(jobs, __import__('pathlib').Path({str(tmp_path / 'out')!r}), 'csv')\n"
        "worker_count(ExtractConfig(jobs=2)); make_reporter(2, True)\n"
        "heavy = sorted(m for m in ('numpy', 'av', 'cv2', 'onnxruntime', 'pandas', 'llvmlite') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
