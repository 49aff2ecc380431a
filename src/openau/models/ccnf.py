"""Reader for OpenFace's CCNF patch experts (``ccnf_patches_*.txt``, binary).

A continuous conditional neural field (CCNF) patch expert scores, for one
landmark, how well every pixel of a small search window fits that landmark
(Baltrusaitis et al. 2013). One file holds the experts of every landmark for
one image scale, in several views (head orientations). Despite the ``.txt``
name the file is binary little-endian (OpenFace's
``Patch_experts::Read_CCNF_patch_experts``):

* ``float64`` scale of the reference shape the experts were trained at;
* ``int32`` number of views, then per view its centre as a ``3 x 1`` matrix of
  Euler angles in degrees, then per view a ``n x 1`` int matrix of landmark
  visibilities;
* ``int32`` number of window sizes, then per window size ``int32`` size,
  ``int32`` number of components and that many ``size^2 x size^2`` float
  matrices: the spatial-similarity matrices the betas weight;
* per view, per landmark: ``int32`` 5, ``int32`` width, height and neuron count
  (0 for a landmark invisible in that view, followed by one padding ``int32``);
  then per neuron ``int32`` 2, ``int32`` type, ``float64`` norm weight, bias,
  alpha and the ``height x width`` weight matrix; then one ``float64`` beta per
  component of the *first* window size, and the ``float64`` patch confidence.

Matrices are OpenFace's binary matrices (three ``int32``: rows, cols, OpenCV type
code, then the raw row-major elements).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from os import PathLike

import numpy as np

from openau.models._reader import BinaryReader

__all__ = ["CCNFPatchExperts", "CCNFView", "read_ccnf_patch_experts"]

# Record markers OpenFace writes before a patch expert and before a neuron.
_EXPERT_MARKER = 5
_NEURON_MARKER = 2
# The only neuron type OpenFace supports on intensity images (type 3 is for
# depth images, which OpenFace 2.2 aborts on).
_INTENSITY_NEURON = 0
# Guard against a corrupted count asking for an absurd allocation.
_MAX_COUNT = 1 << 16


@dataclass(frozen=True, eq=False)
class CCNFView:
    """The patch experts of every landmark in one view of one scale.

    Arrays are stacked over the ``n`` landmarks and ``k`` neurons; the rows of
    landmarks invisible in this view are zero and must not be used.

    Attributes
    ----------
    centre : (3,) float64 ndarray
        Head orientation the view was trained for, Euler angles
        ``(rx, ry, rz)`` in radians.
    visible : (n,) bool ndarray
        Landmarks that have an expert (and are fitted) in this view.
    weights : (n, k, h, w) float32 ndarray
        Neuron weights over the ``h x w`` patch (row = image y).
    norm_weights, biases, alphas : (n, k) float64 ndarray
        Each neuron computes ``2 alpha sigmoid(norm_weight * (weights . patch) + bias)``
        on the contrast-normalised patch.
    betas : (n, b) float64 ndarray
        Weights of the ``b`` spatial-similarity components (edge potentials).
    confidences : (n,) float64 ndarray
        The experts' reliabilities; NU-RLMS weighs landmarks by them.
    """

    centre: np.ndarray
    visible: np.ndarray
    weights: np.ndarray
    norm_weights: np.ndarray
    biases: np.ndarray
    alphas: np.ndarray
    betas: np.ndarray
    confidences: np.ndarray

    @property
    def patch_shape(self) -> tuple[int, int]:
        """``(h, w)`` of the support region of every expert in this view."""
        return self.weights.shape[2], self.weights.shape[3]


@dataclass(frozen=True, eq=False)
class CCNFPatchExperts:
    """Every landmark's CCNF patch experts at one image scale (one file).

    Attributes
    ----------
    scale : float
        Scale of the reference shape the experts work in (pixels per PDM
        millimetre): 0.25, 0.35, 0.5 for the 68-point model.
    views : tuple of CCNFView
        In file order; OpenFace picks the view whose centre is nearest the
        current head orientation.
    sigma_windows : tuple of int
        Window sizes (response side lengths) with spatial-similarity components.
    sigma_components : tuple of ndarray
        For each entry of ``sigma_windows``, a ``(c, s^2, s^2)`` float32 array
        (``c`` may be 0: then the experts have no edge potentials).
    """

    scale: float
    views: tuple[CCNFView, ...]
    sigma_windows: tuple[int, ...]
    sigma_components: tuple[np.ndarray, ...]

    @property
    def n_points(self) -> int:
        """Number of landmarks ``n``."""
        return self.views[0].visible.shape[0]

    @property
    def view_centres(self) -> np.ndarray:
        """``(v, 3)`` float64 view orientations, radians."""
        return np.stack([v.centre for v in self.views])

    def components_for(self, window: int) -> np.ndarray | None:
        """The similarity components for a window size, or None if the file has none."""
        for size, comps in zip(self.sigma_windows, self.sigma_components):
            if size == window:
                return comps
        return None


def _count(reader: BinaryReader, what: str) -> int:
    start = reader.pos
    value = reader.i32()
    if value < 0 or value > _MAX_COUNT:
        raise reader.error(f"implausible {what} {value}", start)
    return value


def _read_neuron(reader: BinaryReader, height: int, width: int):
    start = reader.pos
    marker = reader.i32()
    if marker != _NEURON_MARKER:
        raise reader.error(f"expected neuron marker {_NEURON_MARKER}, found {marker}", start)
    kind_at = reader.pos
    kind = reader.i32()
    if kind != _INTENSITY_NEURON:
        raise reader.error(
            f"unsupported neuron type {kind} (only intensity neurons, type 0)", kind_at
        )
    norm_weight, bias, alpha = reader.f64(), reader.f64(), reader.f64()
    matrix_at = reader.pos
    weights = reader.matrix()
    if weights.shape != (height, width):
        raise reader.error(
            f"neuron weights are {weights.shape[0]} x {weights.shape[1]}, "
            f"expected {height} x {width}",
            matrix_at,
        )
    return (norm_weight, bias, alpha), weights


@functools.lru_cache(maxsize=16)
def _neuron_record(height: int, width: int) -> np.dtype:
    """One neuron as stored: markers, parameters, matrix header and float32 weights."""
    return np.dtype(
        [
            ("marker", "<i4"),
            ("kind", "<i4"),
            ("params", "<f8", (3,)),
            ("header", "<i4", (3,)),
            ("weights", "<f4", (height * width,)),
        ]
    )


def _read_neurons(reader: BinaryReader, height: int, width: int, count: int):
    """An expert's neurons: ``(count, 3)`` float64 parameters and ``(count, h, w)`` float32 weights.

    Every record with the usual layout (float32 weights of the expected
    size) is read in one structured read; anything else goes neuron by
    neuron through :func:`_read_neuron`, which reports the exact offset of
    the problem.
    """
    record = _neuron_record(height, width)
    size = record.itemsize * count
    if reader.remaining() >= size:
        rows = np.frombuffer(reader.data, dtype=record, count=count, offset=reader.pos)
        if (
            (rows["marker"] == _NEURON_MARKER).all()
            and (rows["kind"] == _INTENSITY_NEURON).all()
            and (rows["header"] == (height, width, 5)).all()  # 5: CV_32F
        ):
            reader.pos += size
            return rows["params"], rows["weights"].reshape(count, height, width)
    neurons = [_read_neuron(reader, height, width) for _ in range(count)]
    return np.array([p for p, _ in neurons]), np.stack([w for _, w in neurons])


def _read_view(reader: BinaryReader, centre, visible, n_betas):
    n = visible.shape[0]
    experts: list[tuple | None] = []
    shape = None
    for landmark in range(n):
        start = reader.pos
        marker = reader.i32()
        if marker != _EXPERT_MARKER:
            raise reader.error(
                f"expected patch expert marker {_EXPERT_MARKER}, found {marker}", start
            )
        width, height = reader.i32(), reader.i32()
        n_neurons = _count(reader, "neuron count")
        if n_neurons == 0:
            reader.i32()  # padding OpenFace writes after an empty expert
            if visible[landmark]:
                raise reader.error(f"landmark {landmark} is visible but has no expert", start)
            experts.append(None)
            continue
        if not visible[landmark]:
            raise reader.error(f"landmark {landmark} is invisible but has an expert", start)
        if shape is None:
            shape = (height, width, n_neurons)
        elif shape != (height, width, n_neurons):
            raise reader.error(
                f"expert of landmark {landmark} is {height} x {width} with {n_neurons} "
                f"neurons, unlike the view's first ({shape[0]} x {shape[1]}, {shape[2]})",
                start,
            )
        params, weights = _read_neurons(reader, height, width, n_neurons)
        tail = reader.array(n_betas + 1, np.float64)  # the betas, then the confidence
        experts.append((params, weights, tail))

    height, width, k = shape if shape is not None else (0, 0, 0)
    weights = np.zeros((n, k, height, width), np.float32)
    params = np.zeros((3, n, k), np.float64)
    betas = np.zeros((n, n_betas), np.float64)
    confidences = np.zeros(n, np.float64)
    for i, expert in enumerate(experts):
        if expert is None:
            continue
        expert_params, expert_weights, tail = expert
        weights[i] = expert_weights
        params[:, i] = expert_params.T
        betas[i] = tail[:n_betas]
        confidences[i] = tail[n_betas]
    arrays = (weights, params, betas, confidences, centre, visible)
    for arr in arrays:
        arr.setflags(write=False)
    return CCNFView(
        centre=centre,
        visible=visible,
        weights=weights,
        norm_weights=params[0],
        biases=params[1],
        alphas=params[2],
        betas=betas,
        confidences=confidences,
    )


def read_ccnf_patch_experts(path: str | PathLike[str]) -> CCNFPatchExperts:
    """Read one CCNF patch-expert file (one scale, all views and landmarks).

    Parameters
    ----------
    path : path-like
        E.g. ``model/patch_experts/ccnf_patches_0.25_general.txt``.

    Returns
    -------
    CCNFPatchExperts

    Raises
    ------
    ModelFileError
        When the file is truncated, has trailing bytes, or holds values OpenFace
        could not use (unknown markers, depth neurons, experts of mixed sizes
        within a view, visibilities that disagree with the experts present).
    """
    reader = BinaryReader(path)
    scale = reader.f64()
    if not np.isfinite(scale) or scale <= 0:
        raise reader.error(f"patch scale must be positive, got {scale}", 0)
    n_views = _count(reader, "view count")
    if n_views == 0:
        raise reader.error("the file holds no views")
    centres = []
    for _ in range(n_views):
        start = reader.pos
        centre = reader.matrix().astype(np.float64).reshape(-1)
        if centre.shape != (3,):
            raise reader.error(f"a view centre must hold 3 angles, got {centre.size}", start)
        centres.append(centre * np.pi / 180.0)
    visibilities = []
    for _ in range(n_views):
        start = reader.pos
        vis = reader.matrix()
        if vis.ndim != 2 or vis.shape[1] != 1:
            raise reader.error(f"visibilities must be an n x 1 matrix, got {vis.shape}", start)
        if visibilities and vis.shape[0] != visibilities[0].shape[0]:
            raise reader.error("views disagree on the number of landmarks", start)
        visibilities.append(vis.reshape(-1) != 0)

    windows, components = [], []
    for _ in range(_count(reader, "window-size count")):
        size_at = reader.pos
        size = reader.i32()
        if size <= 0 or size > 256:
            raise reader.error(f"implausible window size {size}", size_at)
        comps = []
        for _ in range(_count(reader, "similarity component count")):
            start = reader.pos
            comp = reader.matrix()
            if comp.shape != (size * size, size * size):
                raise reader.error(
                    f"similarity component is {comp.shape}, expected {size * size} square",
                    start,
                )
            comps.append(comp.astype(np.float32))
        stacked = np.stack(comps) if comps else np.zeros((0, size * size, size * size), np.float32)
        stacked.setflags(write=False)
        windows.append(size)
        components.append(stacked)
    # OpenFace reads as many betas as the first window size has components.
    n_betas = components[0].shape[0] if components else 0

    views = tuple(
        _read_view(reader, centre, vis, n_betas) for centre, vis in zip(centres, visibilities)
    )
    if not reader.at_end():
        raise reader.error(f"{reader.remaining()} unexpected bytes after the last patch expert")
    return CCNFPatchExperts(
        scale=float(scale),
        views=views,
        sigma_windows=tuple(windows),
        sigma_components=tuple(components),
    )
