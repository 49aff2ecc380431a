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
from collections.abc import Callable
from pathlib import Path

import numpy as np

from openau._cache_files import CACHE_ENV, cache_root, read_checked, write_checked
from openau.models.mtcnn import CNNModel

__all__ = ["CACHE_ENV", "cache_dir", "graph_key", "cached_graph"]

_SUBFOLDER = "mtcnn-onnx"


def cache_dir() -> Path:
    """The folder holding the cached graphs (not created here)."""
    return cache_root() / _SUBFOLDER


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
    graph = read_checked(path)
    if graph is None:
        graph = build()
        write_checked(path, graph)
    return graph
