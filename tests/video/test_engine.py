"""The per-video engine: order, timestamps, failures, stalls and interruptions (fake stages)."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest

from openau.errors import ExtractionError, InputError, StageTimeoutError
from openau.output.columns import video_columns
from openau.video.engine import STALL_FRAME_ENV, STALL_STAGE_ENV, VideoRun
from openau.video.sources import Input
from openau.video.stages import build_stages


@pytest.fixture(params=[True, False], ids=["pipelined", "one-thread"])
def fake_config(fake_config, request):
    """Every engine test runs with a thread per stage and with all stages in one thread."""
    return dataclasses.replace(fake_config, pipeline=request.param)


def _run(path, config, kind="video", stop=None):
    return VideoRun(Input(path, kind), build_stages(config), config, stop=stop)


def test_frames_flow_in_order_and_table_has_openface_columns(make_clip, fake_config):
    faces = [False, True, True, True, False, True]
    clip = make_clip("clip.mp4", faces)
    with _run(clip, fake_config) as run:
        indices = [result.index for result in run]
        output = run.finish()
    assert indices == list(range(len(faces)))
    table = output.table
    assert list(table.columns) == video_columns()
    assert table["frame"].tolist() == [1, 2, 3, 4, 5, 6]
    assert table["face_id"].eq(0).all()
    assert table["success"].tolist() == [int(f) for f in faces]
    assert table["success"].dtype == np.uint8 and table["x_0"].dtype == np.float32
    # AU values come from the analyser's finish(), which smooths over neighbours.
    assert table["AU01_r"].iloc[0] == 0 and table["AU01_r"].iloc[4] > 0  # a failed frame between faces
    assert output.warnings == []


def test_timestamps_pts_and_openface_conventions(make_clip, fake_config):
    clip = make_clip("clip.mp4", [True] * 5, fps=10)
    with _run(clip, fake_config) as run:
        pts = run.finish().table["timestamp"].to_numpy()
    config = dataclasses.replace(fake_config, timestamps="openface")
    with _run(clip, config) as run:
        openface = run.finish().table["timestamp"].to_numpy()
    np.testing.assert_allclose(openface, np.arange(5) / 10)
    np.testing.assert_allclose(pts, np.arange(5) / 10, atol=1e-9)


def test_variable_frame_rate_clip_uses_presentation_times(media_dir, fake_config):
    # face_noface.mov has a variable frame rate: by frame 169 its presentation
    # time is 0.36 s away from (frame - 1) / fps.
    with _run(media_dir / "face_noface.mov", fake_config) as run:
        pts = run.finish().table["timestamp"].to_numpy()
    config = dataclasses.replace(fake_config, timestamps="openface")
    with _run(media_dir / "face_noface.mov", config) as run:
        openface = run.finish().table["timestamp"].to_numpy()
    assert pts[0] == 0.0 and np.all(np.diff(pts) > 0)
    np.testing.assert_allclose(openface, np.arange(169) / 26.397933, atol=1e-5)
    assert np.abs(pts - openface).max() > 0.3


def test_no_face_gives_every_row_with_a_warning(make_clip, fake_config):
    clip = make_clip("dark.mp4", [False] * 4)
    with _run(clip, fake_config) as run:
        output = run.finish()
    assert len(output.table) == 4 and not output.table["success"].any()
    assert output.warnings == [f"{clip}: no face found in any of the 4 frames; every row has success=0"]


def test_truncated_clip_yields_decodable_frames_and_a_warning(media_dir, fake_config, tmp_path):
    data = (media_dir / "of_multi_face.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 4])
    with _run(cut, fake_config) as run:
        output = run.finish()
    assert 100 < output.frames < 702
    assert output.table["frame"].tolist() == list(range(1, output.frames + 1))
    assert any("truncated or damaged" in w and f"the {output.frames} frames that decode" in w for w in output.warnings)


def test_stage_exception_reaches_caller_with_stage_frame_and_traceback(make_clip, fake_config, monkeypatch):
    monkeypatch.setenv("OPENAU_FAKE_FAIL_FRAME", "2")
    clip = make_clip("clip.mp4", [True] * 6)
    with pytest.raises(ExtractionError, match=r"clip\.mp4: stage 'landmarks' failed on frame 3: ValueError") as info:
        with _run(clip, fake_config) as run:
            run.finish()
    cause = info.value.__cause__
    assert isinstance(cause, ValueError) and cause.__traceback__ is not None
    assert "fake tracker failure" in str(cause)


@pytest.mark.parametrize("stage", ["decode", "landmarks", "au"])
def test_stalled_stage_fails_within_the_timeout(make_clip, fake_config, monkeypatch, stage):
    monkeypatch.setenv(STALL_STAGE_ENV, stage)
    monkeypatch.setenv(STALL_FRAME_ENV, "2")
    config = dataclasses.replace(fake_config, stall_timeout=0.5)
    clip = make_clip("clip.mp4", [True] * 6)
    started = time.monotonic()
    with pytest.raises(StageTimeoutError) as info:
        with _run(clip, config) as run:
            run.finish()
    assert time.monotonic() - started < 3.0
    message = str(info.value)
    assert f"clip.mp4: stage '{stage}' made no progress" in message
    assert "on frame 3 (last frame it finished: frame 2)" in message
    assert isinstance(info.value, TimeoutError)


def test_stop_event_interrupts_and_partial_holds_frames_done(make_clip, fake_config, monkeypatch):
    monkeypatch.setenv("OPENAU_FAKE_DELAY", "0.02")
    clip = make_clip("clip.mp4", [True] * 60)
    stop = threading.Event()
    run = _run(clip, fake_config, stop=stop)
    seen = 0
    with pytest.raises(KeyboardInterrupt):
        for _ in run:
            seen += 1
            if seen == 10:
                stop.set()
    started = time.monotonic()
    partial = run.partial()
    assert time.monotonic() - started < 1.5
    assert partial is not None and 10 <= len(partial) < 60
    assert list(partial.columns) == video_columns()
    assert partial["frame"].tolist() == list(range(1, len(partial) + 1))


def test_breaking_out_early_stops_the_threads(make_clip, fake_config):
    clip = make_clip("clip.mp4", [True] * 40)
    before = threading.active_count()
    with _run(clip, dataclasses.replace(fake_config, queue_size=2)) as run:
        for result in run:
            if result.index == 3:
                break
    deadline = time.monotonic() + 2.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_bounded_queues_hold_back_the_decoder(make_clip, fake_config):
    clip = make_clip("clip.mp4", [True] * 40)
    config = dataclasses.replace(fake_config, queue_size=2)
    with _run(clip, config) as run:
        iterator = iter(run)
        next(iterator)
        time.sleep(0.3)  # the consumer is slow; the decoder must wait, not run ahead
        buffered = sum(q.qsize() for q in run._queues)
        assert buffered <= len(run._queues) * config.queue_size
        # Decoded so far: the frame taken, the queued ones, and one held by each thread.
        assert run._watch.last_frame("decode") <= len(run._queues) * config.queue_size + len(run._threads)


def test_unreadable_inputs_fail_at_open(tmp_path, fake_config):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    with pytest.raises(InputError, match=r"notes\.mp4: not a readable video"):
        _run(text, fake_config)


def test_image_sequence_folder(tmp_path, fake_config):
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(4):
        image = np.full((30, 40, 3), 220 if i % 2 else 30, np.uint8)
        cv2.imwrite(str(folder / f"img_{i:03d}.png"), image)
    (folder / "notes.txt").write_text("ignored")
    config = dataclasses.replace(fake_config, timestamps="openface")
    with _run(folder, config, kind="sequence") as run:
        table = run.finish().table
    assert table["success"].tolist() == [0, 1, 0, 1]
    assert table["timestamp"].eq(0).all()  # OpenFace writes 0 for image sequences


def test_stages_share_one_thread_unless_the_run_has_two_cores():
    from openau.video.config import ExtractConfig
    from openau.video.cores import pipelined

    assert not pipelined(ExtractConfig(), cores=1)
    assert pipelined(ExtractConfig(), cores=2)
    assert pipelined(ExtractConfig(pipeline=True), cores=1)
    assert not pipelined(ExtractConfig(pipeline=False), cores=8)


def test_jobs_is_the_number_of_cores_a_run_uses(monkeypatch):
    from openau.video import cores
    from openau.video.config import ExtractConfig

    monkeypatch.setattr(cores, "available_cores", lambda: 4)
    assert cores.run_cores(ExtractConfig()) == 4  # default: every available core
    assert cores.run_cores(ExtractConfig(jobs=2)) == 2
    assert cores.run_cores(ExtractConfig(jobs=16)) == 4
    assert cores.worker_count(ExtractConfig()) == 4
    assert cores.worker_count(ExtractConfig(jobs=3)) == 3
    # --jobs 1 is one core's work: the stages share one thread.
    assert not cores.pipelined(ExtractConfig(jobs=1))
    assert cores.pipelined(ExtractConfig(jobs=2))
    assert cores.pipelined(ExtractConfig())
    with pytest.raises(ValueError, match="jobs"):
        ExtractConfig(jobs=0)


def test_a_one_thread_run_gives_stages_threads_when_a_core_frees_up(make_clip, fake_config):
    faces = [i % 7 != 3 for i in range(60)]
    clip = make_clip("clip.mp4", faces)
    config = dataclasses.replace(fake_config, pipeline=None)
    with VideoRun(Input(clip, "video"), build_stages(config), config, cores=1) as run:
        expected = run.finish().table
    asked = []

    def cores() -> int:  # a batch's other worker finishes while this video runs
        asked.append(True)
        return 1 if len(asked) < 3 else 2

    with VideoRun(Input(clip, "video"), build_stages(config), config, cores=cores) as run:
        assert not run.pipelined
        indices = [result.index for result in run]
        output = run.finish()
        assert run.pipelined
        assert [t.name for t in run._threads] == ["openau-stages", "openau-landmarks", "openau-au"]
    assert indices == list(range(len(faces)))
    assert output.table.equals(expected)
