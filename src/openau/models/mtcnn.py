"""Reader for OpenFace's MTCNN face-detector networks (``model/mtcnn_detector/``).

The detector is three small CNNs (P-, R- and O-Net, Zhang et al. 2016) stored
in OpenFace's binary format, one ``.dat`` file each, and listed by the text
file ``MTCNN_detector.txt`` (lines ``PNet PNet.dat``, ...).

A ``.dat`` file is little-endian: an ``int32`` layer count, then per layer an
``int32`` type code and its fields (OpenFace's ``CNN::Read``):

====  ==============  =====================================================
type  layer           fields
====  ==============  =====================================================
0     convolution     ``int32`` in-maps, ``int32`` kernels, ``float32[kernels]``
                      biases, then ``in x kernels`` binary matrices (in-map
                      outer, kernel inner), each ``(kh, kw)`` float32
1     max pooling     ``int32`` kernel x, kernel y, stride x, stride y
2     fully connected binary matrix biases ``(out, 1)``, binary matrix weights
                      ``(in, out)``
3     PReLU           binary matrix slopes ``(channels, 1)``
4     sigmoid         no fields
====  ==============  =====================================================

Binary matrices are the shared ``rows cols type`` + data layout
(:meth:`~openau.models._reader.BinaryReader.matrix`).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from openau.errors import ModelsNotFoundError
from openau.models._reader import CV_DTYPES, BinaryReader, TextReader
from openau.models.store import ModelStore

__all__ = [
    "ConvLayer",
    "MaxPoolLayer",
    "PReLULayer",
    "FullyConnectedLayer",
    "SigmoidLayer",
    "CNNModel",
    "MTCNNModel",
    "MTCNN_NETS",
    "find_mtcnn_dir",
    "read_cnn",
    "read_mtcnn",
]

#: The three networks of the cascade, in the order they run.
MTCNN_NETS: tuple[str, ...] = ("PNet", "RNet", "ONet")

_DETECTOR_DIR = "mtcnn_detector"
_LIST_FILE = "MTCNN_detector.txt"
_TYPE_CONV, _TYPE_POOL, _TYPE_FC, _TYPE_PRELU, _TYPE_SIGMOID = 0, 1, 2, 3, 4
_MAX_LAYERS = 1000
_MAX_MAPS = 1 << 16


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float32)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class ConvLayer:
    """A 2-D convolution, stride 1, no padding ("valid").

    Attributes
    ----------
    weights : (out, in, kh, kw) float32 ndarray
        Kernels applied as a cross-correlation (no kernel flip):
        ``y[o, i, j] = bias[o] + sum_{c, u, v} weights[o, c, u, v] * x[c, i + u, j + v]``,
        with ``u`` the row (y) and ``v`` the column (x) offset, as OpenFace's
        im2col + GEMM computes it.
    bias : (out,) float32 ndarray
    """

    weights: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class MaxPoolLayer:
    """Max pooling without padding.

    Attributes
    ----------
    kernel : (ky, kx) tuple of int
        Window height and width.
    stride : (sy, sx) tuple of int

    Notes
    -----
    OpenFace sizes the output as ``round((n - k) / s) + 1`` (Caffe-like) and
    clips windows that run past the border; with stride 2, as in every MTCNN
    layer, that equals ONNX ``MaxPool`` with ``ceil_mode=1``.
    """

    kernel: tuple[int, int]
    stride: tuple[int, int]


@dataclass(frozen=True, eq=False)
class PReLULayer:
    """Parametric ReLU: ``x if x >= 0 else slope[c] * x`` per channel ``c``.

    Attributes
    ----------
    slopes : (channels,) float32 ndarray
    """

    slopes: np.ndarray


@dataclass(frozen=True, eq=False)
class FullyConnectedLayer:
    """A fully connected layer ``y = weights @ x + bias``.

    Attributes
    ----------
    weights : (out, in) float32 ndarray
    bias : (out,) float32 ndarray

    Notes
    -----
    OpenFace applies it in one of two ways, chosen by the input:

    * when the input has exactly ``in`` channels it acts on every pixel
      separately (a 1x1 convolution; P-Net's last layer);
    * otherwise the input maps are flattened into one vector of length ``in``,
      channel by channel and, within a channel, **column by column**
      (index ``c * H * W + x * H + y``), because OpenFace transposes each
      map before flattening it.
    """

    weights: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class SigmoidLayer:
    """Element-wise logistic function (supported by the format; unused by MTCNN)."""


Layer = ConvLayer | MaxPoolLayer | PReLULayer | FullyConnectedLayer | SigmoidLayer


@dataclass(frozen=True, eq=False)
class CNNModel:
    """One network of the cascade, as OpenFace stores it (immutable).

    Attributes
    ----------
    name : str
        ``"PNet"``, ``"RNet"`` or ``"ONet"`` (the file stem).
    layers : tuple of layers
        In execution order. The input is a ``(3, H, W)`` float32 RGB image
        normalised as ``(value - 127.5) / 128``.
    """

    name: str
    layers: tuple[Layer, ...]

    @property
    def in_channels(self) -> int:
        """Channels the first convolution expects (3 for MTCNN)."""
        for layer in self.layers:
            if isinstance(layer, ConvLayer):
                return int(layer.weights.shape[1])
        raise ValueError(f"{self.name} has no convolution layer")


@dataclass(frozen=True, eq=False)
class MTCNNModel:
    """The three MTCNN networks (immutable; detection state lives elsewhere).

    Attributes
    ----------
    pnet, rnet, onet : CNNModel
        Proposal (fully convolutional, 12x12 receptive field), refinement
        (24x24 input) and output (48x48 input) networks.
    source : str
        The folder they were read from, for messages.
    """

    pnet: CNNModel
    rnet: CNNModel
    onet: CNNModel
    source: str = ""


def _read_kernels(reader: BinaryReader, count: int) -> np.ndarray:
    """``count`` binary matrices of one shape and type, read as one block.

    Returns
    -------
    (count, kh, kw) ndarray
    """
    start = reader.pos
    first = reader.matrix()  # validates the first header
    if first.size == 0:
        raise reader.error("empty convolution kernel", start)
    reader.pos = start
    header = np.array([first.shape[0], first.shape[1], _cv_type(first.dtype)], dtype="<i4")
    record = np.dtype([("header", "<i4", 3), ("values", first.dtype.newbyteorder("<"), first.size)])
    block = np.frombuffer(reader.bytes(count * record.itemsize), dtype=record)
    bad = np.flatnonzero(np.any(block["header"] != header, axis=1))
    if bad.size:
        raise reader.error(
            f"convolution kernel {bad[0]} has header {block['header'][bad[0]].tolist()}, "
            f"the layer's first is {header.tolist()}",
            start + int(bad[0]) * record.itemsize,
        )
    return block["values"].reshape(count, *first.shape)


def _cv_type(dtype: np.dtype) -> int:
    return next(code for code, candidate in CV_DTYPES.items() if candidate == dtype)


def _read_layer(reader: BinaryReader, layer_type: int) -> Layer:
    start = reader.pos
    if layer_type == _TYPE_CONV:
        n_in, n_out = reader.i32(), reader.i32()
        if not (0 < n_in <= _MAX_MAPS and 0 < n_out <= _MAX_MAPS):
            raise reader.error(f"implausible convolution size {n_in} -> {n_out} maps", start)
        bias = reader.array(n_out, np.float32)
        weights = _read_kernels(reader, n_in * n_out)
        kh, kw = weights.shape[1:]
        # File order is in-map outer, kernel inner: (in, out, kh, kw).
        weights = weights.reshape(n_in, n_out, kh, kw).transpose(1, 0, 2, 3)
        return ConvLayer(weights=_frozen(weights), bias=_frozen(bias))
    if layer_type == _TYPE_POOL:
        kx, ky, sx, sy = reader.i32(), reader.i32(), reader.i32(), reader.i32()
        if min(kx, ky, sx, sy) <= 0:
            raise reader.error(f"max pooling kernel {kx}x{ky} / stride {sx}x{sy} must be positive", start)
        return MaxPoolLayer(kernel=(ky, kx), stride=(sy, sx))
    if layer_type == _TYPE_FC:
        bias = reader.matrix()
        at = reader.pos
        weights = reader.matrix()
        if bias.ndim != 2 or bias.shape[1] != 1:
            raise reader.error(f"fully connected bias must be a column, got {bias.shape}", start)
        if weights.shape[1] != bias.shape[0]:
            raise reader.error(
                f"fully connected weights {weights.shape} do not match {bias.shape[0]} biases", at
            )
        return FullyConnectedLayer(weights=_frozen(weights.T), bias=_frozen(bias[:, 0]))
    if layer_type == _TYPE_PRELU:
        slopes = reader.matrix()
        if 1 not in slopes.shape:
            raise reader.error(f"PReLU slopes must be a vector, got {slopes.shape}", start)
        return PReLULayer(slopes=_frozen(slopes.reshape(-1)))
    if layer_type == _TYPE_SIGMOID:
        return SigmoidLayer()
    raise reader.error(f"unknown layer type {layer_type} (expected 0..4)", start - 4)


def _check_chain(reader: BinaryReader, layers: list[Layer]) -> None:
    """Check that channel counts agree from one layer to the next."""
    channels: int | None = None
    for index, layer in enumerate(layers):
        if isinstance(layer, ConvLayer):
            n_out, n_in = layer.weights.shape[:2]
            if channels is not None and n_in != channels:
                raise reader.error(f"layer {index}: convolution expects {n_in} maps, gets {channels}")
            channels = n_out
        elif isinstance(layer, PReLULayer):
            if channels is not None and layer.slopes.size != channels:
                raise reader.error(
                    f"layer {index}: PReLU has {layer.slopes.size} slopes for {channels} channels"
                )
        elif isinstance(layer, FullyConnectedLayer):
            n_out, n_in = layer.weights.shape
            if channels is not None and n_in % channels:
                raise reader.error(
                    f"layer {index}: fully connected input {n_in} is not a multiple of {channels} maps"
                )
            channels = n_out


def read_cnn(path: str | PathLike[str]) -> CNNModel:
    """Read one OpenFace CNN ``.dat`` file (``PNet.dat``, ``RNet.dat``, ``ONet.dat``).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    CNNModel

    Raises
    ------
    ModelFileError
        When the file is truncated, has trailing bytes, an unknown layer type,
        or layers whose sizes disagree; the message gives the byte offset.
    """
    reader = BinaryReader(path)
    depth = reader.i32()
    if not 0 < depth <= _MAX_LAYERS:
        raise reader.error(f"implausible layer count {depth}", 0)
    layers: list[Layer] = []
    for _ in range(depth):
        layers.append(_read_layer(reader, reader.i32()))
    if not reader.at_end():
        raise reader.error(f"{reader.remaining()} unexpected bytes after the last layer")
    if not any(isinstance(layer, ConvLayer) for layer in layers):
        raise reader.error("the network has no convolution layer")
    _check_chain(reader, layers)
    for index, layer in enumerate(layers):
        arrays = [getattr(layer, name) for name in ("weights", "bias", "slopes") if hasattr(layer, name)]
        if any(not np.all(np.isfinite(a)) for a in arrays):
            raise reader.error(f"layer {index} holds non-finite values")
    return CNNModel(name=Path(path).stem, layers=tuple(layers))


def find_mtcnn_dir(path: str | PathLike[str] | ModelStore) -> Path:
    """Locate the ``mtcnn_detector`` folder from a path a user may give.

    Parameters
    ----------
    path : path-like or ModelStore
        The ``mtcnn_detector`` folder itself, its ``MTCNN_detector.txt``, the
        OpenFace ``model`` folder, the models root holding ``model/``, or a
        resolved model store (any layout).

    Returns
    -------
    Path
        The folder holding ``PNet.dat``, ``RNet.dat`` and ``ONet.dat``.

    Raises
    ------
    ModelsNotFoundError
        When none of those places holds the three networks.
    """
    if isinstance(path, ModelStore):
        path = path.path(f"model/{_DETECTOR_DIR}")
    path = Path(path)
    if path.is_file():
        path = path.parent
    candidates = (path, path / _DETECTOR_DIR, path / "model" / _DETECTOR_DIR)
    for folder in candidates:
        if all((folder / f"{name}.dat").is_file() for name in MTCNN_NETS):
            return folder
    raise ModelsNotFoundError(
        f"{path}: no MTCNN detector (PNet.dat, RNet.dat, ONet.dat) here, in mtcnn_detector/ "
        "or in model/mtcnn_detector/; pass the OpenFace models folder or its mtcnn_detector folder"
    )


def _listed_files(folder: Path) -> dict[str, Path]:
    """File of each network, from ``MTCNN_detector.txt`` when present (else ``NAME.dat``)."""
    files = {name: folder / f"{name}.dat" for name in MTCNN_NETS}
    listing = folder / _LIST_FILE
    if listing.is_file():
        for _, words in TextReader(listing).lines():
            if len(words) >= 2 and words[0] in files:
                files[words[0]] = folder / words[1]
    return files


def read_mtcnn(path: str | PathLike[str] | ModelStore) -> MTCNNModel:
    """Read OpenFace's MTCNN detector (the three networks).

    Parameters
    ----------
    path : path-like or ModelStore
        Anything :func:`find_mtcnn_dir` accepts: a model store, the models
        root, ``model/``, ``model/mtcnn_detector/`` or its ``MTCNN_detector.txt``.

    Returns
    -------
    MTCNNModel

    Raises
    ------
    ModelsNotFoundError
        When the networks are not found.
    ModelFileError
        When a network file is malformed.
    """
    folder = find_mtcnn_dir(path)
    files = _listed_files(folder)
    nets = {name: read_cnn(files[name]) for name in MTCNN_NETS}
    return MTCNNModel(pnet=nets["PNet"], rnet=nets["RNet"], onet=nets["ONet"], source=str(folder))
