"""Serialised MTCNN graphs kept in the per-user cache folder.

Building the three ONNX graphs needs the ``onnx`` package (about 0.1 s to
import, plus 0.05 s to build and check the graphs, and ~15 MB of memory in
every worker), yet the result depends only on the networks' weights and on
the code that builds them. So the serialised graphs are written once to the
per-user cache folder and read back by later processes, which then never
import ``onnx``.

An entry is named after the SHA-256 of what determines it: the network's
layers (types, shapes and weights), the build options and the source of
:mod:`openau.detect._onnx` itself, so any change to the weights or to the
graph builder makes a new entry. Its content is the SHA-256 of the graph
followed by the graph, and an entry whose digest does not match is ignored
(and rebuilt). Entries are written to a temporary file and renamed, so
concurrent workers never read a half-written one. Nothing is ever written
into the package or the model folder; a cache folder that cannot be written
only costs the rebuild.

The folder is ``$OPENAU_CACHE_DIR`` when set, else
``platformdirs.user_cache_dir("openau")`` (``~/.cache/openau`` on Linux).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from openau.models.mtcnn import CNNModel

__all__ = ["CACHE_ENV", "cache_dir", "graph_key", "cached_graph"]

#: Environment variable naming the cache folder.
CACHE_ENV = "OPENAU_CACHE_DIR"

_SUBFOLDER = "mtcnn-onnx"
_DIGEST_SIZE = hashlib.sha256().digest_size


def cache_dir() -> Path:
    """The folder holding the cached graphs (not created here)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured) / _SUBFOLDER
    import platformdirs

    return Path(platformdirs.user_cache_dir("openau", appauthor=False)) / _SUBFOLDER


def _builder_source() -> bytes:
    from openau.detect import _onnx

    return Path(_onnx.__file__).read_bytes()


def graph_key(net: CNNModel, options: dict) -> str:
    """SHA-256 (hex) of everything the serialised graph of ``net`` depends on.

    Parameters
    ----------
    net : CNNModel
    options : dict
        The keyword arguments the graph is built with (input size, ...).
    """
    digest = hashlib.sha256()
    digest.update(_builder_source())
    digest.update(repr(sorted(options.items())).encode())
    digest.update(net.name.encode())
    for layer in net.layers:
        digest.update(type(layer).__name__.encode())
        for field in dataclasses.fields(layer):
            value = getattr(layer, field.name)
            if isinstance(value, np.ndarray):
                array = np.ascontiguousarray(value)
                digest.update(f"{field.name}:{array.dtype.str}:{array.shape}".encode())
                digest.update(array.data)
            else:
                digest.update(f"{field.name}={value!r}".encode())
    return digest.hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        content = path.read_bytes()
    except OSError:
        return None
    stored, graph = content[:_DIGEST_SIZE], content[_DIGEST_SIZE:]
    if not graph or hashlib.sha256(graph).digest() != stored:
        return None
    return graph


def _write(path: Path, graph: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(hashlib.sha256(graph).digest() + graph)
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only or full cache folder: build again next time
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass


def cached_graph(net: CNNModel, options: dict, build: Callable[[], bytes]) -> bytes:
    """The serialised graph of ``net``: from the cache, else ``build()`` (then cached).

    Parameters
    ----------
    net : CNNModel
    options : dict
        The options ``build`` uses; part of the key.
    build : callable returning bytes
        Builds the serialised graph on a miss.
    """
    path = cache_dir() / f"{net.name}-{graph_key(net, options)}.onnx"
    graph = _read(path)
    if graph is None:
        graph = build()
        _write(path, graph)
    return graph
