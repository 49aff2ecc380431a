"""Pure-numpy forward pass of OpenFace's MTCNN networks (the test oracle).

This follows OpenFace's ``CNN::Inference`` layer by layer, literally (its
flattening order, its max-pooling size rule), and is independent of the ONNX
graph built in :mod:`openau.detect._onnx`, so each checks the other. It is
slow-ish (float32 BLAS through ``tensordot``) and meant for tests and for
environments without ONNX Runtime.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from openau.models.mtcnn import (
    CNNModel,
    ConvLayer,
    FullyConnectedLayer,
    MaxPoolLayer,
    PReLULayer,
    SigmoidLayer,
)

__all__ = ["forward_numpy", "pool_output_size"]


def pool_output_size(size: int, kernel: int, stride: int) -> int:
    """OpenFace's max-pooling output size: ``round((size - kernel) / stride) + 1``.

    C++ ``round`` rounds halves away from zero.
    """
    ratio = (size - kernel) / stride
    return int(np.floor(abs(ratio) + 0.5) * np.sign(ratio)) + 1


def _conv(x: np.ndarray, layer: ConvLayer) -> np.ndarray:
    kh, kw = layer.weights.shape[2:]
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))  # (N, C, H', W', kh, kw)
    out = np.tensordot(windows, layer.weights, axes=([1, 4, 5], [1, 2, 3]))  # (N, H', W', O)
    out = out + layer.bias
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2), dtype=np.float32)


def _max_pool(x: np.ndarray, layer: MaxPoolLayer) -> np.ndarray:
    (ky, kx), (sy, sx) = layer.kernel, layer.stride
    n, c, h, w = x.shape
    out_h, out_w = pool_output_size(h, ky, sy), pool_output_size(w, kx, sx)
    # Windows running past the border see only the pixels inside (OpenFace
    # clips them): pad with -inf up to the last window's end.
    need_h, need_w = (out_h - 1) * sy + ky, (out_w - 1) * sx + kx
    padded = np.full((n, c, max(h, need_h), max(w, need_w)), -np.inf, dtype=np.float32)
    padded[:, :, :h, :w] = x
    windows = sliding_window_view(padded[:, :, :need_h, :need_w], (ky, kx), axis=(2, 3))
    return np.ascontiguousarray(windows[:, :, ::sy, ::sx].max(axis=(4, 5)))


def _fully_connected(x: np.ndarray, layer: FullyConnectedLayer) -> np.ndarray:
    n_out, n_in = layer.weights.shape
    if x.ndim == 4 and x.shape[1] == n_in:
        # As many maps as inputs: OpenFace applies the layer to every pixel.
        out = np.einsum("nchw,oc->nohw", x, layer.weights) + layer.bias[:, None, None]
        return out.astype(np.float32)
    if x.ndim == 4:
        # OpenFace transposes each map before flattening: (c, x, y) order.
        x = x.transpose(0, 1, 3, 2).reshape(x.shape[0], -1)
    if x.shape[1] != n_in:
        raise ValueError(f"fully connected layer expects {n_in} inputs, got {x.shape[1]}")
    return (x @ layer.weights.T + layer.bias).astype(np.float32)


def _prelu(x: np.ndarray, layer: PReLULayer) -> np.ndarray:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    slopes = layer.slopes.reshape(shape)
    return np.where(x >= 0, x, x * slopes).astype(np.float32)


def forward_numpy(net: CNNModel, images: np.ndarray) -> np.ndarray:
    """Run one network on a batch of normalised images.

    Parameters
    ----------
    net : CNNModel
    images : (N, 3, H, W) float32 ndarray
        RGB planes normalised as ``(value - 127.5) / 128``.

    Returns
    -------
    float32 ndarray
        P-Net: ``(N, 6, h, w)`` maps; R-Net: ``(N, 6)``; O-Net: ``(N, 16)``
        (raw outputs: two class logits, four box offsets, and for O-Net ten
        landmark coordinates).
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] != net.in_channels:
        raise ValueError(f"{net.name} expects (N, {net.in_channels}, H, W) input, got {x.shape}")
    for layer in net.layers:
        if isinstance(layer, ConvLayer):
            x = _conv(x, layer)
        elif isinstance(layer, MaxPoolLayer):
            x = _max_pool(x, layer)
        elif isinstance(layer, FullyConnectedLayer):
            x = _fully_connected(x, layer)
        elif isinstance(layer, PReLULayer):
            x = _prelu(x, layer)
        elif isinstance(layer, SigmoidLayer):
            x = (1.0 / (1.0 + np.exp(-x))).astype(np.float32)
        else:  # pragma: no cover - the reader builds only the types above
            raise TypeError(f"unknown layer {layer!r}")
    return x
