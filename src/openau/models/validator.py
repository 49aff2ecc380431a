"""Reader for OpenFace's CNN landmark-detection validator (``validator_cnn.txt``, binary).

The validator decides whether a landmark fit landed on a face: it warps the
face inside the landmarks to a fixed shape with a piecewise-affine warp,
normalises it and scores it with a small CNN, one network per view (head
orientation). OpenFace's ``DetectionValidator::Read`` layout, little-endian:

* ``int32`` validator type (3: CNN, the only one OpenFace 2.2 supports),
  ``int32`` number of views, then per view a ``3 x 1`` float64 matrix of Euler
  angles in degrees;
* per view: the mean and standard-deviation images (float64 matrices of one
  value per warped pixel), ``int32`` layer count, and per layer ``int32`` type
  with its data: 0 convolution (``int32`` input maps, ``int32`` kernels,
  ``float32`` bias per kernel, then per input map per kernel a weight matrix),
  1 max-pooling (2 x 2, stride 2), 2 fully connected (bias matrix, then weight
  matrix of shape inputs x outputs), 3 ReLU, 4 sigmoid;
* then the view's piecewise-affine warp: ``int32`` pixel count, ``float64``
  min x and min y, and matrices of destination landmarks, triangles, each
  pixel's triangle, the pixel mask and the per-triangle barycentric alpha
  and beta coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from os import PathLike

import numpy as np

from openau.models._reader import BinaryReader

__all__ = [
    "DetectionValidator",
    "LayerKind",
    "PiecewiseAffineWarp",
    "ValidatorLayer",
    "ValidatorView",
    "read_detection_validator",
]

_CNN_VALIDATOR = 3
_MAX_COUNT = 1 << 16


class LayerKind(IntEnum):
    """Layer type codes of the validator file."""

    CONVOLUTION = 0
    MAX_POOLING = 1
    FULLY_CONNECTED = 2
    RELU = 3
    SIGMOID = 4


@dataclass(frozen=True, eq=False)
class ValidatorLayer:
    """One CNN layer.

    Attributes
    ----------
    kind : LayerKind
    weights : ndarray or None
        Convolution: ``(out, in, kh, kw)`` float32 kernels, applied as a
        correlation (not flipped). Fully connected: ``(out, in)`` float32.
        None for parameter-free layers.
    biases : (out,) float32 ndarray or None
    """

    kind: LayerKind
    weights: np.ndarray | None = None
    biases: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class PiecewiseAffineWarp:
    """A piecewise-affine warp onto a fixed face shape (OpenFace's ``PAW``).

    Attributes
    ----------
    min_x, min_y : float
        Destination-frame coordinates of pixel ``(0, 0)`` of the warped image.
    destination : (n, 2) float32 ndarray
        The destination landmarks (x, y).
    triangles : (t, 3) int32 ndarray
        Landmark indices of each triangle.
    triangle_id : (h, w) int32 ndarray
        The triangle each warped pixel lies in (-1 outside the face).
    mask : (h, w) bool ndarray
        Pixels inside the face; ``mask.sum()`` is the feature length.
    alpha, beta : (t, 3) float32 ndarray
        Barycentric coefficients of each destination triangle, as affine
        functions ``c0 + c1 x + c2 y`` of destination coordinates.
    """

    min_x: float
    min_y: float
    destination: np.ndarray
    triangles: np.ndarray
    triangle_id: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True, eq=False)
class ValidatorView:
    """The validator of one view.

    Attributes
    ----------
    orientation : (3,) float64 ndarray
        Euler angles of the view, radians.
    mean, std : (p,) float32 ndarray
        Per-pixel normalisation of the ``p`` masked pixels, in column-major
        pixel order (down the columns of the warped image, left to right).
    layers : tuple of ValidatorLayer
    warp : PiecewiseAffineWarp
    """

    orientation: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    layers: tuple[ValidatorLayer, ...]
    warp: PiecewiseAffineWarp


@dataclass(frozen=True, eq=False)
class DetectionValidator:
    """OpenFace's CNN landmark validator, one network per view."""

    views: tuple[ValidatorView, ...]

    @property
    def orientations(self) -> np.ndarray:
        """``(v, 3)`` float64 view orientations, radians."""
        return np.stack([v.orientation for v in self.views])


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def _count(reader: BinaryReader, what: str) -> int:
    start = reader.pos
    value = reader.i32()
    if value < 0 or value > _MAX_COUNT:
        raise reader.error(f"implausible {what} {value}", start)
    return value


def _vector(reader: BinaryReader, what: str) -> np.ndarray:
    start = reader.pos
    mat = reader.matrix()
    if mat.ndim != 2 or 1 not in mat.shape:
        raise reader.error(f"{what} must be a vector, got shape {mat.shape}", start)
    return mat.reshape(-1)


def _convolution(reader: BinaryReader) -> ValidatorLayer:
    n_in = _count(reader, "input map count")
    n_kernels = _count(reader, "kernel count")
    biases = reader.array(n_kernels, np.float32)
    kernels = None
    for i in range(n_in):
        for k in range(n_kernels):
            start = reader.pos
            kernel = reader.matrix()
            if kernels is None:
                kernels = np.zeros((n_kernels, n_in) + kernel.shape, np.float32)
            elif kernel.shape != kernels.shape[2:]:
                raise reader.error("convolution kernels of different sizes", start)
            kernels[k, i] = kernel
    if kernels is None:
        raise reader.error("a convolution layer without kernels")
    return ValidatorLayer(LayerKind.CONVOLUTION, _frozen(kernels), _frozen(biases))


def _fully_connected(reader: BinaryReader) -> ValidatorLayer:
    biases = _vector(reader, "fully connected biases").astype(np.float32)
    start = reader.pos
    weights = reader.matrix().astype(np.float32)
    if weights.shape[1] != biases.shape[0]:
        raise reader.error(
            f"fully connected weights {weights.shape} do not match {biases.shape[0]} biases",
            start,
        )
    return ValidatorLayer(LayerKind.FULLY_CONNECTED, _frozen(weights.T), _frozen(biases))


def _warp(reader: BinaryReader) -> PiecewiseAffineWarp:
    start = reader.pos
    n_pixels = _count(reader, "warp pixel count")
    min_x, min_y = reader.f64(), reader.f64()
    dest = _vector(reader, "destination landmarks")
    if dest.size % 2:
        raise reader.error("destination landmarks must hold x and y per point")
    n = dest.size // 2
    destination = dest.astype(np.float32).reshape(2, n).T
    tri_at = reader.pos
    triangles = reader.matrix().astype(np.int32)
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise reader.error(f"triangles must have 3 columns, got {triangles.shape}", tri_at)
    if triangles.size and (triangles.min() < 0 or triangles.max() >= n):
        raise reader.error("triangle vertex out of range", tri_at)
    triangle_id = reader.matrix().astype(np.int32)
    mask_at = reader.pos
    mask = reader.matrix() != 0
    if mask.shape != triangle_id.shape:
        raise reader.error("pixel mask and triangle map differ in size", mask_at)
    if int(mask.sum()) != n_pixels:
        raise reader.error(
            f"pixel mask has {int(mask.sum())} pixels, the header says {n_pixels}", start
        )
    if np.any(triangle_id[mask] < 0) or np.any(triangle_id[mask] >= triangles.shape[0]):
        raise reader.error("a masked pixel has no valid triangle", mask_at)
    alpha = reader.matrix().astype(np.float32)
    beta = reader.matrix().astype(np.float32)
    if alpha.shape != triangles.shape or beta.shape != triangles.shape:
        raise reader.error("warp coefficients do not match the triangles")
    return PiecewiseAffineWarp(
        min_x=float(np.float32(min_x)),
        min_y=float(np.float32(min_y)),
        destination=_frozen(destination),
        triangles=_frozen(triangles),
        triangle_id=_frozen(triangle_id),
        mask=_frozen(mask),
        alpha=_frozen(alpha),
        beta=_frozen(beta),
    )


def _view(reader: BinaryReader, orientation: np.ndarray) -> ValidatorView:
    mean = _vector(reader, "mean image").astype(np.float32)
    std = _vector(reader, "standard deviation image").astype(np.float32)
    if mean.shape != std.shape:
        raise reader.error("mean and standard deviation images differ in size")
    layers = []
    for _ in range(_count(reader, "layer count")):
        start = reader.pos
        code = reader.i32()
        try:
            kind = LayerKind(code)
        except ValueError:
            raise reader.error(f"unknown layer type {code}", start) from None
        if kind is LayerKind.CONVOLUTION:
            layers.append(_convolution(reader))
        elif kind is LayerKind.FULLY_CONNECTED:
            layers.append(_fully_connected(reader))
        else:
            layers.append(ValidatorLayer(kind))
    warp = _warp(reader)
    if int(warp.mask.sum()) != mean.size:
        raise reader.error(
            f"normalisation images hold {mean.size} values for {int(warp.mask.sum())} pixels"
        )
    return ValidatorView(
        orientation=_frozen(orientation),
        mean=_frozen(mean),
        std=_frozen(std),
        layers=tuple(layers),
        warp=warp,
    )


def read_detection_validator(path: str | PathLike[str]) -> DetectionValidator:
    """Read OpenFace's CNN landmark-detection validator.

    Parameters
    ----------
    path : path-like
        E.g. ``model/detection_validation/validator_cnn.txt``.

    Returns
    -------
    DetectionValidator

    Raises
    ------
    ModelFileError
        When the file is truncated, has trailing bytes, is not a CNN validator
        (type 3) or holds inconsistent sizes.
    """
    reader = BinaryReader(path)
    kind = reader.i32()
    if kind != _CNN_VALIDATOR:
        raise reader.error(
            f"validator type {kind} is not supported (OpenFace 2.2 uses the CNN type 3)", 0
        )
    n_views = _count(reader, "view count")
    if n_views == 0:
        raise reader.error("the file holds no views")
    orientations = []
    for _ in range(n_views):
        start = reader.pos
        angles = reader.matrix().astype(np.float64).reshape(-1)
        if angles.shape != (3,):
            raise reader.error(f"a view orientation must hold 3 angles, got {angles.size}", start)
        orientations.append(angles * np.pi / 180.0)
    views = tuple(_view(reader, orientation) for orientation in orientations)
    if not reader.at_end():
        raise reader.error(f"{reader.remaining()} unexpected bytes after the last view")
    return DetectionValidator(views=views)
