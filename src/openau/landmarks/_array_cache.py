"""On-disk cache of arrays derived from the landmark model, shared by a user's processes.

Some arrays the fit needs are pure functions of the model but slow to build:
a CCNF patch expert's covariance ``Sigma`` (one ``(w^2, w^2)`` matrix per
landmark, view and window size) is the inverse of a matrix built from the
model file's alphas, betas and similarity components (inverting one view's
matrices at the largest window takes ~50 ms, and a video needs several views
and windows), and the mean-shift kernel tables take tens of milliseconds. A
fresh process would spend most of a second on them before its first frame,
so they are computed once and kept in the per-user cache folder
(:func:`openau._cache_files.cache_root`, e.g. ``~/.cache/openau`` on
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
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np

from openau._cache_files import cache_root, write_atomic

__all__ = ["cache_folder", "cached_array"]

#: Bump when the computation of a cached array changes, to retire old files.
FORMAT_VERSION = b"openau-landmark-arrays-1"
_SUBFOLDER = "landmark-arrays"


def cache_folder() -> Path:
    """The folder holding the cached arrays (it may not exist yet)."""
    return cache_root() / _SUBFOLDER


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
    stream = io.BytesIO()
    np.save(stream, array, allow_pickle=False)
    write_atomic(path, stream.getvalue())


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
