"""The detection validator's CNN run by ONNX Runtime.

The validator scores every fitted frame, so its CNN (two convolutions with
max pooling, two fully connected layers, on a 60 x 60 face) runs once per
frame. Done with numpy (im2col and matrix products) it costs about a
millisecond, mostly copying; ONNX Runtime's convolutions take a fraction of
that. :func:`openau.landmarks.validation.cnn_score` keeps the numpy forward
pass as the reference the tests compare this one with.

Each view's network becomes one ONNX graph, built with the ``onnx`` package
once and kept in the per-user cache folder (named by the SHA-256 of the
layers, so changed weights or a changed builder give a new file); later
processes read the bytes and never import ``onnx``. Sessions run on the CPU
with one thread (the network is far too small for an accelerator to pay
off), are created on first use in the thread that runs them and are never
shared between threads.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from openau._cache_files import cache_root, read_checked, write_checked
from openau.models.validator import LayerKind, ValidatorView

__all__ = ["graph_bytes", "scores"]

_F32 = np.float32
#: Bump when the graph this module builds changes.
_BUILDER_VERSION = b"openau-validator-onnx-1"
_SUBFOLDER = "validator-onnx"
_INPUT = "face"
_OUTPUT = "scores"
# ONNX opset of the graph (every operator used exists unchanged since 13).
_OPSET = 13
_ORT_LOG_ERRORS_ONLY = 3

_sessions = threading.local()


def _digest(view: ValidatorView) -> str:
    sha = hashlib.sha256(_BUILDER_VERSION)
    sha.update(repr(view.warp.mask.shape).encode())
    for layer in view.layers:
        sha.update(f"{int(layer.kind)}".encode())
        for array in (layer.weights, layer.biases):
            if array is not None:
                contiguous = np.ascontiguousarray(array)
                sha.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
                sha.update(contiguous.data)
    return sha.hexdigest()


def _build(view: ValidatorView) -> bytes:
    """The view's CNN as a serialised ONNX graph: (1, 1, h, w) in, (1, bins) out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    height, width = view.warp.mask.shape
    nodes, weights = [], []
    current = _INPUT
    flat = False

    def add(op, inputs, **attributes):
        nonlocal current
        name = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, [current, *inputs], [name], **attributes))
        current = name

    def constant(array, label):
        name = f"{label}{len(weights)}"
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    for layer in view.layers:
        if layer.kind is LayerKind.CONVOLUTION:
            kernel = constant(layer.weights.astype(_F32), "w")
            bias = constant(layer.biases.astype(_F32).reshape(-1), "b")
            add("Conv", [kernel, bias])
        elif layer.kind is LayerKind.MAX_POOLING:
            # 2 x 2, stride 2, output round((n - 2) / 2) + 1 with windows
            # clipped at the border: ceil mode.
            add("MaxPool", [], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
        elif layer.kind is LayerKind.FULLY_CONNECTED:
            if not flat:
                # OpenFace flattens each map column by column, map after map.
                add("Transpose", [], perm=[0, 1, 3, 2])
                add("Flatten", [], axis=1)
                flat = True
            matrix = constant(layer.weights.astype(_F32), "w")
            bias = constant(layer.biases.astype(_F32).reshape(-1), "b")
            add("Gemm", [matrix, bias], transB=1)
        elif layer.kind is LayerKind.RELU:
            add("Relu", [])
        elif layer.kind is LayerKind.SIGMOID:
            add("Sigmoid", [])
    if not flat:
        add("Transpose", [], perm=[0, 1, 3, 2])
        add("Flatten", [], axis=1)
    nodes[-1].output[0] = _OUTPUT
    graph = helper.make_graph(
        nodes,
        "openau-validator",
        [helper.make_tensor_value_info(_INPUT, TensorProto.FLOAT, [1, 1, height, width])],
        [helper.make_tensor_value_info(_OUTPUT, TensorProto.FLOAT, [1, _bins(view)])],
        initializer=weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _bins(view: ValidatorView) -> int:
    last = [layer for layer in view.layers if layer.weights is not None][-1]
    return int(last.weights.shape[0])


def graph_bytes(view: ValidatorView, folder: Path | None = None) -> bytes:
    """The view's serialised graph, from the cache folder when there."""
    folder = cache_root() / _SUBFOLDER if folder is None else folder
    path = folder / f"validator-{_digest(view)}.onnx"
    graph = read_checked(path)
    if graph is None:
        graph = _build(view)
        write_checked(path, graph)
    return graph


def _session(view: ValidatorView):
    cache = getattr(_sessions, "by_view", None)
    if cache is None:
        cache = _sessions.by_view = {}
    session = cache.get(id(view))
    if session is None or session[0] is not view:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = _ORT_LOG_ERRORS_ONLY
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        created = ort.InferenceSession(
            graph_bytes(view), sess_options=options, providers=["CPUExecutionProvider"]
        )
        session = cache[id(view)] = (view, created)
    return session[1]


def scores(image: np.ndarray, view: ValidatorView) -> np.ndarray:
    """The CNN's output bins for a normalised warped face.

    Parameters
    ----------
    image : (h, w) float32 ndarray
        The normalised input (see :func:`openau.landmarks.validation.cnn_score`).
    view : ValidatorView

    Returns
    -------
    (bins,) float32 ndarray
    """
    feed = np.ascontiguousarray(image, dtype=_F32)[None, None]
    return _session(view).run([_OUTPUT], {_INPUT: feed})[0].reshape(-1)
