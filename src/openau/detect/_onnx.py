"""Build ONNX graphs of OpenFace's MTCNN networks, in memory.

Each :class:`~openau.models.mtcnn.CNNModel` becomes one ``onnx.ModelProto``
with input ``image`` ``(N, 3, H, W)`` float32 and output ``output`` (see
:func:`openau.detect._oracle.forward_numpy` for the meaning). Nothing is
written to disk here; :func:`build_onnx` returns the model and
:func:`onnx_bytes` its serialisation for ONNX Runtime.

``onnx`` is imported inside the functions so that importing openau stays fast.
"""

from __future__ import annotations

import numpy as np

from openau.detect._oracle import pool_output_size
from openau.models.mtcnn import (
    CNNModel,
    ConvLayer,
    FullyConnectedLayer,
    MaxPoolLayer,
    PReLULayer,
    SigmoidLayer,
)

__all__ = ["ONNX_OPSET", "ONNX_IR_VERSION", "INPUT_NAME", "OUTPUT_NAME", "build_onnx", "onnx_bytes"]

#: Opset and IR version of the graphs: old enough for every ONNX Runtime
#: openau supports (1.17+), new enough for every operator used.
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
INPUT_NAME = "image"
OUTPUT_NAME = "output"


def _ceil_mode_matches(size: int | None, kernel: int, stride: int) -> bool:
    # OpenFace rounds (size - kernel) / stride, ONNX's ceil_mode rounds it up:
    # the same for stride 1 or 2, and otherwise only for some sizes.
    if stride <= 2:
        return True
    if size is None:
        return False
    return pool_output_size(size, kernel, stride) == -(-(size - kernel) // stride) + 1


def _padded(n: int, block: int) -> int:
    return -(-n // block) * block


def build_onnx(net: CNNModel, input_size: tuple[int, int] | None = None, *, channel_block: int = 16):
    """Build the ONNX graph of one network.

    Parameters
    ----------
    net : CNNModel
    input_size : (H, W) tuple of int, optional
        Fixed input size (24x24 for R-Net, 48x48 for O-Net); None leaves
        height and width dynamic (P-Net, which runs on every pyramid level).
        The batch axis is always dynamic.
    channel_block : int
        Hidden feature maps are padded with all-zero channels to a multiple
        of this (1: no padding). ONNX Runtime's blocked CPU convolutions
        (NCHWc, 8 channels per block with AVX2, 16 with AVX-512) otherwise
        convert layouts around layers like P-Net's 10-map or R-Net's 28-map
        convolution. The padded channels hold exact zeros and meet zero
        weights, so the outputs do not change.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker``.

    Raises
    ------
    ValueError
        When a layer cannot be expressed for that input (a flattening fully
        connected layer on a dynamic size, or a pooling whose size rule ONNX
        cannot reproduce).

    Notes
    -----
    PReLU on feature maps is written as ``y + (1 - a) * relu(-y)`` with two
    per-channel (depthwise 1x1) convolutions, which equals ``y`` for
    ``y >= 0`` and ``a y`` otherwise for any slope ``a``. ONNX Runtime keeps
    those in its blocked layout, while its ``PRelu`` with a per-channel slope
    runs a generic broadcast and forces layout conversions; on P-, R- and
    O-Net this roughly halves the CPU time.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    height, width = input_size if input_size is not None else (None, None)
    channels = net.in_channels  # real channels
    stored = channels  # channels in the graph, real plus zero padding
    spatial = True  # maps (N, C, H, W) rather than vectors (N, C)
    current = INPUT_NAME
    # Pad a convolution's maps only when a later convolution or fully
    # connected layer consumes them, so the output never carries padding.
    consumed_at = [
        any(isinstance(later, ConvLayer | FullyConnectedLayer) for later in net.layers[i + 1 :])
        for i in range(len(net.layers))
    ]

    def add(op: str, inputs: list[str], name: str, **attrs) -> str:
        nonlocal current
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        current = name
        return name

    def const(array: np.ndarray, name: str) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def pad_axis(array: np.ndarray, axis: int, size: int) -> np.ndarray:
        widths = [(0, 0)] * array.ndim
        widths[axis] = (0, size - array.shape[axis])
        return np.pad(array, widths)

    for i, layer in enumerate(net.layers):
        tag = f"{net.name}_{i}"
        if isinstance(layer, ConvLayer):
            kh, kw = layer.weights.shape[2:]
            n_out = layer.weights.shape[0]
            out_stored = _padded(n_out, channel_block) if consumed_at[i] else n_out
            weights = pad_axis(pad_axis(layer.weights, 1, stored), 0, out_stored)
            w = const(weights, f"{tag}_W")
            b = const(pad_axis(layer.bias, 0, out_stored), f"{tag}_B")
            add("Conv", [current, w, b], f"{tag}_Conv", kernel_shape=[kh, kw])
            channels, stored = n_out, out_stored
            height = None if height is None else height - kh + 1
            width = None if width is None else width - kw + 1
        elif isinstance(layer, MaxPoolLayer):
            (ky, kx), (sy, sx) = layer.kernel, layer.stride
            if not (_ceil_mode_matches(height, ky, sy) and _ceil_mode_matches(width, kx, sx)):
                raise ValueError(f"{net.name} layer {i}: pooling stride {layer.stride} needs a fixed size")
            add("MaxPool", [current], f"{tag}_MaxPool", kernel_shape=[ky, kx], strides=[sy, sx], ceil_mode=1)
            height = None if height is None else pool_output_size(height, ky, sy)
            width = None if width is None else pool_output_size(width, kx, sx)
        elif isinstance(layer, PReLULayer):
            if spatial:
                y = current
                neg = const(np.full((stored, 1, 1, 1), -1.0), f"{tag}_neg")
                gain = const(pad_axis(1.0 - layer.slopes, 0, stored).reshape(-1, 1, 1, 1), f"{tag}_gain")
                add("Conv", [y, neg], f"{tag}_negate", kernel_shape=[1, 1], group=stored)
                add("Relu", [current], f"{tag}_relu")
                add("Conv", [current, gain], f"{tag}_scale", kernel_shape=[1, 1], group=stored)
                add("Add", [current, y], f"{tag}_PReLU")
            else:
                add("PRelu", [current, const(layer.slopes, f"{tag}_slope")], f"{tag}_PRelu")
        elif isinstance(layer, FullyConnectedLayer):
            n_out, n_in = layer.weights.shape
            b = const(layer.bias, f"{tag}_B")
            if spatial and channels == n_in:
                weights = pad_axis(layer.weights, 1, stored)[:, :, None, None]
                add("Conv", [current, const(weights, f"{tag}_W"), b], f"{tag}_FC", kernel_shape=[1, 1])
            else:
                weights = layer.weights
                if spatial:
                    if height is None or width is None:
                        raise ValueError(f"{net.name} layer {i}: flattening needs a fixed input size")
                    if channels * height * width != n_in:
                        raise ValueError(
                            f"{net.name} layer {i}: {channels}x{height}x{width} maps do not give {n_in} inputs"
                        )
                    # OpenFace flattens (c, x, y); ONNX Flatten gives (c, y, x).
                    weights = weights.reshape(n_out, channels, width, height).transpose(0, 1, 3, 2)
                    weights = pad_axis(weights, 1, stored).reshape(n_out, -1)
                    add("Flatten", [current], f"{tag}_Flatten", axis=1)
                    spatial = False
                add("Gemm", [current, const(weights, f"{tag}_W"), b], f"{tag}_FC", transB=1)
            channels = stored = n_out
        elif isinstance(layer, SigmoidLayer):
            add("Sigmoid", [current], f"{tag}_Sigmoid")
        else:  # pragma: no cover - the reader builds only the types above
            raise TypeError(f"unknown layer {layer!r}")

    nodes.append(helper.make_node("Identity", [current], [OUTPUT_NAME], name=f"{net.name}_out"))
    in_shape = ["batch", 3, input_size[0], input_size[1]] if input_size else ["batch", 3, "height", "width"]
    out_shape = ["batch", channels] + (["out_height", "out_width"] if spatial else [])
    graph = helper.make_graph(
        nodes,
        net.name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, out_shape)],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="openau",
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        ir_version=ONNX_IR_VERSION,
    )
    model.doc_string = f"OpenFace 2.2 MTCNN {net.name}, converted by openau"
    onnx.checker.check_model(model)
    return model


def onnx_bytes(net: CNNModel, input_size: tuple[int, int] | None = None, **options) -> bytes:
    """The serialised graph of :func:`build_onnx`, ready for ``InferenceSession``."""
    return build_onnx(net, input_size, **options).SerializeToString()
