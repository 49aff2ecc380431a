"""Execution providers, fallback, threads, processes and pickling of MTCNNDetector."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from openau.detect import DEVICES, MTCNNDetector, check_device, installed_devices
from openau.detect import _detector as detector_module
from openau.detect._runtime import PROVIDERS
from openau.errors import DeviceFallbackWarning, InputError


@pytest.fixture(scope="module")
def frame(reference_cases):
    return next(c for c in reference_cases if c.name == "of_multi_face").image


@pytest.fixture(scope="module")
def expected(cpu_detector, frame):
    return cpu_detector.detect(frame)


def _same(a, b):
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.confidences, b.confidences)
    np.testing.assert_array_equal(a.corrected, b.corrected)


class _RecordingSession:
    """Stands in for onnxruntime.InferenceSession and records the providers asked for."""

    calls: list = []
    fail_for: set = set()
    real = None  # the genuine onnxruntime.InferenceSession

    def __init__(self, model, sess_options=None, providers=None, **kwargs):
        names = [p[0] if isinstance(p, tuple) else p for p in providers]
        type(self).calls.append(names)
        if names[0] in type(self).fail_for:
            raise RuntimeError(f"{names[0]}: could not load the provider library\nmore detail")
        # Anything that really runs here runs on the CPU.
        self._inner = type(self).real(model, sess_options, providers=["CPUExecutionProvider"])
        self._first = names[0] if names[0] not in type(self).fail_for else "CPUExecutionProvider"

    def get_providers(self):
        return [self._first, "CPUExecutionProvider"]

    def run(self, *args, **kwargs):
        return self._inner.run(*args, **kwargs)


@pytest.fixture
def recording(monkeypatch):
    import onnxruntime as ort

    _RecordingSession.calls = []
    _RecordingSession.fail_for = set()
    _RecordingSession.real = ort.InferenceSession
    monkeypatch.setattr(ort, "InferenceSession", _RecordingSession)
    return _RecordingSession


def test_device_names():
    assert DEVICES == ("auto", "cpu", "cuda", "coreml", "directml", "openvino")
    assert check_device(" CUDA ") == "cuda"
    with pytest.raises(InputError, match="unknown device 'tpu'; choose one of auto, cpu, cuda"):
        check_device("tpu")
    with pytest.raises(InputError, match="unknown device"):
        MTCNNDetector("unused", device="gpu")
    assert "cpu" in installed_devices()


def test_cpu_never_touches_another_provider(mtcnn_model, frame, expected, recording):
    detector = MTCNNDetector(mtcnn_model, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(detector.detect(frame), expected)
    assert recording.calls == [["CPUExecutionProvider"]] * 3
    assert detector.active_device == "cpu"


def test_missing_provider_falls_back_with_one_warning(mtcnn_model, frame, expected):
    # A provider this onnxruntime build lacks (DirectML and CoreML never ship together).
    missing = next(d for d in DEVICES[2:] if d not in installed_devices())
    detector = MTCNNDetector(mtcnn_model, device=missing)
    with pytest.warns(DeviceFallbackWarning) as record:
        _same(detector.detect(frame), expected)
        # A second thread creating its own sessions does not warn again.
        with ThreadPoolExecutor(1) as pool:
            _same(pool.submit(detector.detect, frame).result(), expected)
    assert len(record) == 1
    message = str(record[0].message)
    assert f"device {missing!r} not used" in message and f"no {PROVIDERS[missing]}" in message
    assert record[0].filename == __file__  # points at the caller, not at openau
    assert detector.active_device == "cpu"


def test_provider_that_fails_to_start(mtcnn_model, frame, expected, recording, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    recording.fail_for = {"CUDAExecutionProvider"}
    detector = MTCNNDetector(mtcnn_model, device="cuda")
    with pytest.warns(DeviceFallbackWarning, match="CUDAExecutionProvider failed to start: .*could not load") as record:
        _same(detector.detect(frame), expected)
    assert len(record) == 1
    assert recording.calls[0] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert recording.calls[-3:] == [["CPUExecutionProvider"]] * 3


def test_auto_takes_a_working_accelerator_or_the_cpu_silently(mtcnn_model, frame, expected, recording, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "OpenVINOExecutionProvider", "CPUExecutionProvider"],
    )
    recording.fail_for = {"CUDAExecutionProvider"}
    detector = MTCNNDetector(mtcnn_model, device="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(detector.detect(frame), expected)
    # CUDA failed, the next installed accelerator started.
    assert [c[0] for c in recording.calls] == ["CUDAExecutionProvider"] + ["OpenVINOExecutionProvider"] * 3
    assert detector.active_device == "openvino"

    recording.calls.clear()
    recording.fail_for = {"CUDAExecutionProvider", "OpenVINOExecutionProvider"}
    detector = MTCNNDetector(mtcnn_model, device="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(detector.detect(frame), expected)
    assert detector.active_device == "cpu"


def test_sessions_are_per_thread(mtcnn_model, frame, expected):
    detector = MTCNNDetector(mtcnn_model, device="cpu")
    detector.detect(frame)
    main_sessions = detector._local.sessions
    seen = {}

    def work():
        faces = detector.detect(frame)
        seen["sessions"] = detector._local.sessions
        return faces

    thread = threading.Thread(target=lambda: seen.setdefault("faces", work()))
    thread.start()
    thread.join()
    _same(seen["faces"], expected)
    assert seen["sessions"] is not main_sessions
    assert detector._local.sessions is main_sessions


def test_pickles_as_configuration(models_dir, mtcnn_model, frame, expected):
    by_path = MTCNNDetector(models_dir, device="cpu", threads=2)
    by_path.detect(frame)  # sessions exist, and must not travel
    data = pickle.dumps(by_path)
    assert len(data) < 2000
    clone = pickle.loads(data)
    assert (clone.device, clone.threads, clone.params) == ("cpu", 2, by_path.params)
    assert clone._model is None  # read again, lazily, where it is used
    _same(clone.detect(frame), expected)
    by_model = pickle.loads(pickle.dumps(MTCNNDetector(mtcnn_model, device="cpu")))
    _same(by_model.detect(frame), expected)


def test_sessions_are_not_reused_after_a_fork(mtcnn_model, frame, expected, monkeypatch):
    detector = MTCNNDetector(mtcnn_model, device="cpu")
    detector.detect(frame)
    before = detector._local.sessions
    # Pretend this is a forked child: a different process id.
    real_pid = detector_module.os.getpid()
    monkeypatch.setattr(detector_module.os, "getpid", lambda: real_pid + 1)
    _same(detector.detect(frame), expected)
    assert detector._local.sessions is not before


def test_runs_in_a_spawned_process(models_dir, frame, expected):
    detector = MTCNNDetector(models_dir, device="cpu")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        faces = pool.submit(detector.detect, frame).result(timeout=300)
        device = pool.submit(getattr, detector, "active_device").result(timeout=60)
    _same(faces, expected)
    assert device == "cpu"
