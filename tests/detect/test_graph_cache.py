"""The per-user cache of serialised MTCNN graphs: same bytes, no onnx import, safe misses."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from openau.detect import _graph_cache
from openau.detect._graph_cache import CACHE_ENV, cache_dir, cached_graph, graph_key
from openau.detect._onnx import onnx_bytes
from openau.models import read_mtcnn


@pytest.fixture(scope="module")
def pnet(models_dir):
    return read_mtcnn(models_dir).pnet


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _counting(net):
    calls = []

    def build():
        calls.append(1)
        return onnx_bytes(net)

    return build, calls


def test_miss_builds_and_hit_reads_the_same_bytes(pnet, cache):
    build, calls = _counting(pnet)
    first = cached_graph(pnet, {"input_size": None}, build)
    second = cached_graph(pnet, {"input_size": None}, build)
    assert calls == [1]
    assert first == second == onnx_bytes(pnet)
    assert [p.parent for p in cache.rglob("*.onnx")] == [cache_dir()]


def test_damaged_entry_is_rebuilt(pnet, cache):
    build, calls = _counting(pnet)
    cached_graph(pnet, {}, build)
    (entry,) = cache.rglob("*.onnx")
    entry.write_bytes(entry.read_bytes()[:-10])  # truncated
    assert cached_graph(pnet, {}, build) == onnx_bytes(pnet)
    assert calls == [1, 1]
    assert cached_graph(pnet, {}, build) == onnx_bytes(pnet) and calls == [1, 1]  # rewritten


def test_unwritable_cache_only_costs_the_rebuild(pnet, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    build, calls = _counting(pnet)
    assert cached_graph(pnet, {}, build) == cached_graph(pnet, {}, build) == onnx_bytes(pnet)
    assert calls == [1, 1]


def test_key_follows_weights_options_and_builder(pnet, monkeypatch):
    key = graph_key(pnet, {"input_size": None})
    assert graph_key(pnet, {"input_size": None}) == key
    assert graph_key(pnet, {"input_size": (12, 12)}) != key
    layers = list(pnet.layers)
    conv = layers[0]
    weights = conv.weights.copy()
    weights.flat[0] = np.nextafter(weights.flat[0], np.float32(np.inf))
    layers[0] = dataclasses.replace(conv, weights=weights)
    assert graph_key(dataclasses.replace(pnet, layers=tuple(layers)), {"input_size": None}) != key
    monkeypatch.setattr(_graph_cache, "_builder_source", lambda: b"another builder")
    assert graph_key(pnet, {"input_size": None}) != key


def test_warm_cache_detects_without_importing_onnx(models_dir, media_dir, cache):
    code = (
        "import sys, cv2\n"
        "from openau.detect import MTCNNDetector\n"
        f"detector = MTCNNDetector({str(models_dir)!r}, device='cpu')\n"
        f"faces = detector.detect(cv2.imread({str(media_dir / 'single_face.jpg')!r}))\n"
        "print(len(faces), 'onnx' in sys.modules)\n"
    )
    env = {**os.environ, CACHE_ENV: str(cache)}
    cold, warm = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()
        for _ in range(2)
    )
    assert cold == [cold[0], "True"] and warm == [cold[0], "False"] and int(cold[0]) > 0
