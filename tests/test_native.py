"""The native-kernel cache: numba's machine code linked without numba, same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from openau import _native

MODULE = "openau.detect._kernels"


def _boxes(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 200, (count, 2))
    wh = rng.integers(10, 60, (count, 2))
    rects = np.concatenate([xy, wh], axis=1).astype(np.int64)
    order = rng.permutation(count).astype(np.int64)
    return rects, order


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A process state as if nothing were loaded yet, with an empty cache folder."""
    monkeypatch.setenv("OPENAU_NATIVE_KERNELS", str(tmp_path))
    monkeypatch.setattr(_native._Runtime, "_instance", None)
    monkeypatch.setattr(_native, "_modules", {})
    return tmp_path


def _entries(folder):
    return sorted(folder.rglob("*.json"))


def test_kernel_is_cached_then_linked_natively_with_identical_results(fresh_cache, monkeypatch):
    from openau.detect._kernels import greedy_nms

    rects, order = _boxes(40)
    args = (rects, order, np.float32(0.5), False)
    expected = greedy_nms(*args)

    first = _native.kernels(MODULE).greedy_nms
    np.testing.assert_array_equal(first(*args), expected)
    assert first._native == {}, "an empty cache has nothing to link"
    saved = _entries(fresh_cache)
    assert len(saved) == 1
    meta = json.loads(saved[0].read_text())
    assert meta["signature"][2:] == ["float32", "bool"]

    # A new process state: the entry is linked from the cache, numba is not called.
    monkeypatch.setattr(_native._Runtime, "_instance", None)
    monkeypatch.setattr(_native, "_modules", {})
    second = _native.kernels(MODULE).greedy_nms
    for seed in range(5):
        rects, order = _boxes(30 + seed, seed)
        args = (rects, order, np.float32(0.3), seed % 2 == 0)
        np.testing.assert_array_equal(second(*args), greedy_nms(*args))
    assert len(second._native) == 1
    assert second._dispatcher is None, "numba's dispatcher was never needed"


def test_new_argument_types_go_through_numba_and_are_cached(fresh_cache, monkeypatch):
    from openau.detect._kernels import greedy_nms

    kernel = _native.kernels(MODULE).greedy_nms
    rects, order = _boxes(20)
    kernel(rects, order, np.float32(0.5), False)
    # float64 threshold: a signature numba compiles (or loads) separately.
    result = kernel(rects, order, 0.5, True)
    np.testing.assert_array_equal(result, greedy_nms(rects, order, 0.5, True))
    assert len(_entries(fresh_cache)) == 2
    # A readonly array is another numba type: never handed to the wrong code.
    frozen = rects.copy()
    frozen.setflags(write=False)
    np.testing.assert_array_equal(
        kernel(frozen, order, 0.5, True), greedy_nms(frozen, order, 0.5, True)
    )


def test_corrupt_entry_is_ignored(fresh_cache, monkeypatch):
    rects, order = _boxes(25)
    kernel = _native.kernels(MODULE).greedy_nms
    expected = kernel(rects, order, np.float32(0.5), False)
    (code,) = fresh_cache.rglob("*.o")
    code.write_bytes(code.read_bytes()[:-100] + b"\0" * 100)

    monkeypatch.setattr(_native._Runtime, "_instance", None)
    monkeypatch.setattr(_native, "_modules", {})
    again = _native.kernels(MODULE).greedy_nms
    np.testing.assert_array_equal(again(rects, order, np.float32(0.5), False), expected)
    assert again._dispatcher is not None, "the bad entry was skipped; numba did the work"


def test_switched_off(fresh_cache, monkeypatch):
    monkeypatch.setenv("OPENAU_NATIVE_KERNELS", "0")
    rects, order = _boxes(10)
    kernel = _native.kernels(MODULE).greedy_nms
    kernel(rects, order, np.float32(0.5), False)
    assert _entries(fresh_cache) == []
    assert kernel._native == {}


def test_a_fresh_process_runs_kernels_without_importing_numba(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from openau import _native
        rng = np.random.default_rng(3)
        rects = np.concatenate([rng.integers(0, 200, (50, 2)), rng.integers(10, 60, (50, 2))], 1)
        order = rng.permutation(50)
        keep = _native.kernels("openau.detect._kernels").greedy_nms(
            rects.astype(np.int64), order.astype(np.int64), np.float32(0.4), False
        )
        print(",".join(map(str, keep)), "numba" in sys.modules)
        """
    )
    env = dict(os.environ, OPENAU_NATIVE_KERNELS=str(tmp_path))
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == "True", "the first process compiles (or loads) through numba"
    assert runs[1][1] == "False", "the second links the cached machine code"


def test_every_kernel_module_is_part_of_the_build_key():
    # A kernel module missing from the list could change without retiring the
    # machine code cached from its old source.
    from pathlib import Path

    package = Path(_native.__file__).parent
    compiled = {
        "openau." + ".".join(path.relative_to(package).with_suffix("").parts)
        for path in package.rglob("*.py")
        if "@njit" in path.read_text(encoding="utf-8")
    }
    assert compiled <= set(_native.KERNEL_MODULES)
    # and the modules whose constants the kernels bake in
    assert "openau.landmarks.fitting" in _native.KERNEL_MODULES


def test_cache_files_round_trip_and_reject_damage(tmp_path, monkeypatch):
    from openau import _cache_files

    monkeypatch.setenv(_cache_files.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert _cache_files.cache_root() == tmp_path / "elsewhere"
    path = tmp_path / "deep" / "entry.bin"
    assert _cache_files.write_checked(path, b"payload")
    assert _cache_files.read_checked(path) == b"payload"
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    assert _cache_files.read_checked(path) is None
    assert _cache_files.read_checked(tmp_path / "missing") is None
    assert list(path.parent.glob("*.tmp")) == []
