"""On-disk cache of arrays derived from the landmark model, shared by a user's processes.

Some arrays the fit needs are pure functions of the model but slow to build:
a CCNF patch expert's covariance ``Sigma`` (one ``(w^2, w^2)`` matrix per
landmark, view and window size) is the inverse of a matrix built from the
model file's alphas, betas and similarity components (inverting one view's
matrices at the largest window takes ~50 ms, and a video needs several views
and windows), and the mean-shift kernel tables take tens of milliseconds. A
fresh process would spend most of a second on them before its first frame,
so they are computed once and kept in the per-user cache folder
(``platformdirs.user_cache_dir("openau")``, e.g. ``~/.cache/openau`` on
Linux), one ``.npy`` file each, named by the SHA-256 of everything they are
computed from (the inputs' bytes and shapes, the kind of array and a format
version): a changed model file, or a change in how an array is computed,
gives new names and never reads a stale file.

Files are memory-mapped read-only, so the worker processes of a batch share
one copy in the page cache. Any failure to read or write the cache (read-only
or full disk) falls back to computing in memory; the cache never changes
results.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import platformdirs

__all__ = ["cache_folder", "cached_array", "write_bytes"]

#: Bump when the computation of a cached array changes, to retire old files.
FORMAT_VERSION = b"openau-landmark-arrays-1"
_SUBFOLDER = "landmark-arrays"


def cache_folder() -> Path:
    """The folder holding the cached arrays (it may not exist yet)."""
    return Path(platformdirs.user_cache_dir("openau", appauthor=False)) / _SUBFOLDER


def _digest(kind: str, inputs: tuple[np.ndarray, ...]) -> str:
    sha = hashlib.sha256(FORMAT_VERSION + kind.encode())
    for array in inputs:
        contiguous = np.ascontiguousarray(array)
        sha.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
        sha.update(contiguous.data)
    return sha.hexdigest()


def _read(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    if mapped.shape != shape or mapped.dtype != np.float32 or not mapped.flags.c_contiguous:
        return None
    return np.asarray(mapped)  # a plain read-only ndarray over the mapping


def _write(path: Path, array: np.ndarray) -> None:
    _write_atomic(path, lambda stream: np.save(stream, array, allow_pickle=False))


def write_bytes(path: Path, data: bytes) -> None:
    """Write a cache file (its folder created), atomically; failures are ignored."""
    _write_atomic(path, lambda stream: stream.write(data))


def _write_atomic(path: Path, write: Callable) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written under a temporary name and renamed: readers (other processes
        # included) see the whole file or none.
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                write(stream)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        pass


def cached_array(
    kind: str,
    inputs: tuple[np.ndarray, ...],
    shape: tuple[int, ...],
    compute: Callable[[], np.ndarray],
    folder: Path | None = None,
) -> np.ndarray:
    """A float32 array computed from ``inputs``, read from the cache when there.

    Parameters
    ----------
    kind : str
        What the array is (its computation), e.g. ``"ccnf-sigma"``; part of the name.
    inputs : tuple of ndarray
        Everything the array is computed from; their bytes name the file.
    shape : tuple of int
        The array's shape (a file of another shape is ignored).
    compute : callable
        Computes the C-contiguous float32 array when the cache lacks it.
    folder : Path, optional
        Cache folder; :func:`cache_folder` by default.

    Returns
    -------
    ndarray
        Read-only (memory-mapped when it came from, or went to, the cache).
    """
    folder = cache_folder() if folder is None else folder
    path = folder / f"{kind}-{_digest(kind, inputs)}.npy"
    cached = _read(path, shape)
    if cached is not None:
        return cached
    array = np.ascontiguousarray(compute(), dtype=np.float32)
    _write(path, array)
    # Map the file just written so that processes share it; keep the
    # computed array if the write failed.
    mapped = _read(path, shape)
    if mapped is not None:
        return mapped
    array.setflags(write=False)
    return array
