"""OpenFace 2.2's MTCNN detection procedure, batched over frames.

:func:`run_cascade` is a pure function: frames and three network callables
in, :class:`FaceBoxes` per frame out. It reproduces ``FaceDetectorMTCNN::
DetectFaces``:

1. Image pyramid: scales ``(12 / min_face) * 0.709**i`` while the scaled
   shorter side still holds a 12-pixel P-Net cell; each level is the float
   frame resized with OpenCV's bilinear ``cv::resize`` to ``ceil`` of the
   scaled size. (Levels and R-/O-Net crops are resampled here in one
   compiled pass with OpenCV's bilinear formula, straight from the uint8
   frame into normalised planes: ``cv::resize`` through Intel IPP rounds
   differently by < 1e-2 grey levels, which moves final boxes by < 1e-4 px.)
2. P-Net on every level; cells with face probability >= 0.6 become boxes;
   NMS (IoU 0.5) per level, then NMS (IoU 0.7) over all levels; P-Net box
   regression; squaring.
3. R-Net on 24x24 crops of those boxes; keep probability >= 0.7; NMS (IoU
   0.7); R-Net regression; squaring.
4. O-Net on 48x48 crops; keep probability >= 0.7; O-Net regression (on the
   box size + 1); NMS (intersection over the smaller box, 0.7).
5. OpenFace's fixed correction towards the 68-landmark extent.

Crops for R- and O-Net of all frames go through their network in one batch;
P-Net levels of equal size across frames (same-size video frames) too.

Network inputs are RGB planes normalised as ``(value - 127.5) * 0.0078125``
(OpenFace flips OpenCV's BGR order when it splits the channels).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from openau._native import kernels
from openau.detect._boxes import (
    PNET_CELL,
    apply_regression,
    correct_for_landmarks,
    face_probability,
    non_maximum_suppression,
    pnet_level_proposals,
    square_boxes,
)
from openau.errors import InputError

__all__ = [
    "MTCNNParams",
    "FaceBoxes",
    "NetFn",
    "RNET_SIZE",
    "ONET_SIZE",
    "pyramid_scales",
    "crop_patches",
    "crop_inputs",
    "normalise",
    "run_cascade",
    "pick_video_face",
    "as_frames",
]

#: Input sizes of R-Net and O-Net (pixels, square).
RNET_SIZE = 24
ONET_SIZE = 48
#: OpenFace's input normalisation: (value - MEAN) * SCALE, SCALE = 1/128.
PIXEL_MEAN = 127.5
PIXEL_SCALE = 0.0078125
#: NMS thresholds OpenFace hard-codes (overlap above which a box is dropped).
NMS_PNET_LEVEL = 0.5
NMS_PNET_ALL = 0.7
NMS_RNET = 0.7
NMS_ONET = 0.7

#: A network: (N, 3, H, W) float32 normalised RGB -> raw float32 output.
NetFn = Callable[[np.ndarray], np.ndarray]

_F32 = np.float32


@dataclass(frozen=True)
class MTCNNParams:
    """Detection settings; the defaults are OpenFace 2.2's.

    Attributes
    ----------
    min_face_size : int
        Smallest face to look for, in pixels (sets the first pyramid scale).
    thresholds : (float, float, float)
        Minimum face probability after P-, R- and O-Net.
    pyramid_factor : float
        Ratio between consecutive pyramid scales.
    """

    min_face_size: int = 60
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    pyramid_factor: float = 0.709

    def __post_init__(self) -> None:
        if not (isinstance(self.min_face_size, int | np.integer) and self.min_face_size > 0):
            raise InputError(f"min_face_size must be a positive integer, got {self.min_face_size!r}")
        if len(self.thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in self.thresholds):
            raise InputError(f"thresholds must be three probabilities, got {self.thresholds!r}")
        if not 0.0 < self.pyramid_factor < 1.0:
            raise InputError(f"pyramid_factor must be in (0, 1), got {self.pyramid_factor!r}")


@dataclass(frozen=True, eq=False)
class FaceBoxes:
    """The faces MTCNN found in one frame, best first.

    Coordinates are pixels of the input frame in OpenCV's convention:
    ``x`` is the column and ``y`` the row of the top-left corner (pixel
    centres at integer coordinates, origin at the top-left pixel), ``w`` and
    ``h`` the width and height.

    Attributes
    ----------
    boxes : (k, 4) float32 ndarray
        ``[x, y, w, h]`` after O-Net's box regression and the final NMS: the
        box a standard MTCNN returns (``x, y, w, h`` of ``mtcnn*.csv``).
    confidences : (k,) float32 ndarray
        O-Net's face probability, in decreasing order.
    corrected : (k, 4) float32 ndarray
        ``[x, y, w, h]`` after OpenFace's fixed correction (``conv_*`` of
        ``mtcnn*.csv``): the box OpenFace hands to CLNF initialisation.
    """

    boxes: np.ndarray
    confidences: np.ndarray
    corrected: np.ndarray

    def __len__(self) -> int:
        return int(self.confidences.shape[0])

    @classmethod
    def empty(cls) -> FaceBoxes:
        """No face."""
        return cls(np.zeros((0, 4), _F32), np.zeros(0, _F32), np.zeros((0, 4), _F32))


def pick_video_face(faces: FaceBoxes) -> int | None:
    """Index of the face OpenFace's video tracker keeps, or None if there is none.

    ``DetectSingleFaceMTCNN`` keeps the widest corrected box; on equal widths
    the first one (highest confidence) wins.
    """
    if len(faces) == 0:
        return None
    return int(np.argmax(faces.corrected[:, 2]))


def pyramid_scales(height: int, width: int, params: MTCNNParams) -> list[tuple[float, int, int]]:
    """The image pyramid OpenFace builds for a frame.

    Returns
    -------
    list of (scale, level_height, level_width)
        ``scale = (12 / min_face) * factor**i`` for ``i < floor(log(min_face /
        min(H, W)) / log(factor)) + 1``; level sizes are ``ceil(H * scale)``
        and ``ceil(W * scale)``. Levels too small for one P-Net cell are
        dropped (OpenFace's count never produces them for sane sizes).
    """
    min_dim = min(height, width)
    if min_dim <= 0:
        return []
    count = math.floor(math.log(params.min_face_size / min_dim) / math.log(params.pyramid_factor)) + 1
    levels = []
    for i in range(max(count, 0)):
        scale = (PNET_CELL / params.min_face_size) * params.pyramid_factor**i
        h, w = math.ceil(height * scale), math.ceil(width * scale)
        if min(h, w) >= PNET_CELL:
            levels.append((scale, h, w))
    return levels


def normalise(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` float32 BGR in 0..255 -> ``(N, 3, H, W)`` normalised RGB."""
    bgr_to_planes = kernels("openau.detect._kernels").bgr_to_planes

    return bgr_to_planes(np.ascontiguousarray(images, dtype=_F32), _F32(PIXEL_MEAN), _F32(PIXEL_SCALE))


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut square boxes out of a frame and resize them for R- or O-Net.

    Parameters
    ----------
    image : (H, W, 3) float32 ndarray
        The frame, BGR, 0..255.
    boxes : (k, 4) float32 ndarray
        Integer-valued ``[x, y, w, h]`` (after :func:`square_boxes`).
    size : int
        24 or 48.

    Returns
    -------
    (k, size, size, 3) float32 ndarray
        BGR, 0..255 (see :func:`normalise`).

    Notes
    -----
    OpenFace crops columns ``x - 1 .. x + w - 1`` and rows ``y - 1 .. y + h - 1``
    (a ``(h + 1) x (w + 1)`` patch), fills what lies outside the frame with 0,
    and resizes with ``cv::resize``'s default bilinear interpolation.
    """
    import cv2

    height, width = image.shape[:2]
    out = np.empty((len(boxes), size, size, 3), dtype=_F32)
    rects = boxes.astype(np.int64)
    x0, y0 = rects[:, 0] - 1, rects[:, 1] - 1
    x1, y1 = rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]
    inside = (x0 >= 0) & (y0 >= 0) & (x1 <= width) & (y1 <= height) & (x1 > x0) & (y1 > y0)
    size2 = (size, size)
    # One cv2.resize per box (OpenCV may use IPP, whose arithmetic only
    # cv2.resize itself reproduces); the loop does nothing else for boxes
    # inside the frame.
    outside = []
    for k, (a, b, c, d, whole) in enumerate(zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist(), inside.tolist())):
        if whole:
            cv2.resize(image[b:d, a:c], size2, dst=out[k], interpolation=cv2.INTER_LINEAR)
        else:
            outside.append((k, a, b, c, d))
    if not outside:
        return out
    # Boxes reaching past the frame: the zero-padded patch is built in one
    # scratch buffer shared by all of them. Such boxes come from the coarse
    # pyramid levels and can be larger than the frame; a fresh array per box
    # costs a page fault per 4 KiB touched, more than the resize itself.
    largest = max((d - b) * (c - a) if c > a and d > b else 0 for _, a, b, c, d in outside)
    scratch = np.empty(largest * 3, dtype=_F32)
    for k, a, b, c, d in outside:
        if c <= a or d <= b:
            out[k] = 0  # degenerate box: an all-zero patch
            continue
        patch = scratch[: (d - b) * (c - a) * 3].reshape(d - b, c - a, 3)
        sx0, sy0, sx1, sy1 = max(a, 0), max(b, 0), min(c, width), min(d, height)
        if sx1 > sx0 and sy1 > sy0:
            # Copy what lies in the frame; zero only the rest.
            patch[: sy0 - b] = 0
            patch[sy1 - b :] = 0
            patch[sy0 - b : sy1 - b, : sx0 - a] = 0
            patch[sy0 - b : sy1 - b, sx1 - a :] = 0
            patch[sy0 - b : sy1 - b, sx0 - a : sx1 - a] = image[sy0:sy1, sx0:sx1]
        else:
            patch[...] = 0
        cv2.resize(patch, size2, dst=out[k], interpolation=cv2.INTER_LINEAR)
    return out


def crop_inputs(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """R- or O-Net's input for square boxes: :func:`crop_patches` then :func:`normalise`, compiled.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray
        The frame, BGR.
    boxes : (k, 4) float32 ndarray
        Integer-valued ``[x, y, w, h]``.
    size : int
        24 or 48.

    Returns
    -------
    (k, 3, size, size) float32 ndarray
        Normalised RGB planes.

    Notes
    -----
    The same window as :func:`crop_patches` (columns ``x - 1 .. x + w - 1``,
    rows ``y - 1 .. y + h - 1``, zeros outside the frame) resized with
    OpenCV's bilinear formula in one compiled pass, instead of a
    ``cv2.resize`` call per box. Values match ``cv2.resize`` to ~1e-2 grey
    levels (OpenCV may round differently through Intel IPP); measured on the
    reference frames, final boxes move by at most 6e-5 px and confidences
    by 6e-8.
    """
    resample_windows = kernels("openau.detect._kernels").resample_windows

    rects = boxes.astype(np.int64)
    windows = np.empty_like(rects)
    windows[:, :2] = rects[:, :2] - 1
    windows[:, 2:] = rects[:, 2:] + 1
    return resample_windows(image, windows, size, _F32(PIXEL_MEAN), _F32(PIXEL_SCALE))


def as_frames(frames: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    """Check frames at the public boundary: a list of uint8 images.

    Accepts a sequence of ``(H, W, 3)`` BGR or ``(H, W)`` grey frames
    (OpenFace turns grey into three equal channels), or one ``(N, H, W, 3)``
    array.
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise InputError(
                f"frames must be a list of images or an (N, H, W, 3) array, got one array of shape "
                f"{frames.shape}; wrap a single frame in a list"
            )
        frames = list(frames)
    result = []
    for i, frame in enumerate(frames):
        frame = np.asarray(frame)
        if frame.dtype != np.uint8:
            raise InputError(f"frame {i}: expected uint8 pixels, got {frame.dtype}")
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise InputError(f"frame {i}: expected an (H, W, 3) BGR or (H, W) grey image, got {frame.shape}")
        result.append(frame)
    return result


@dataclass
class _Stage:
    """Per-frame candidates between stages."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), _F32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, _F32))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), _F32))

    def take(self, index: np.ndarray) -> _Stage:
        return _Stage(self.boxes[index], self.scores[index], self.offsets[index])


class _Clock:
    """Adds elapsed seconds per stage name into a caller's dict (or does nothing)."""

    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink = sink
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.sink is None:
            return
        now = time.perf_counter()
        self.sink[name] = self.sink.get(name, 0.0) + (now - self.t)
        self.t = now


def _run_pnet(
    images: list[np.ndarray], pnet: NetFn, params: MTCNNParams, clock: _Clock
) -> list[_Stage]:
    """P-Net over every pyramid level of every frame, then the P-Net NMS and regression."""
    resample_window = kernels("openau.detect._kernels").resample_window

    # Group (frame, level) pairs by level size so equal-size frames share a run.
    groups: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
    levels = [pyramid_scales(img.shape[0], img.shape[1], params) for img in images]
    for f, frame_levels in enumerate(levels):
        for level, (scale, h, w) in enumerate(frame_levels):
            groups.setdefault((h, w), []).append((f, level, scale))
    results: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    threshold = params.thresholds[0]
    pixel_mean, pixel_scale = _F32(PIXEL_MEAN), _F32(PIXEL_SCALE)
    for (h, w), members in groups.items():
        level = members[0][1]
        batch = np.empty((len(members), 3, h, w), dtype=_F32)
        for i, (f, _, _) in enumerate(members):
            image = images[f]
            resample_window(image, 0, 0, image.shape[1], image.shape[0], batch[i], pixel_mean, pixel_scale)
        clock.lap(f"pyramid[{level}]")
        out = pnet(batch)
        clock.lap(f"pnet[{level}]")
        for (f, lv, scale), maps in zip(members, out, strict=True):
            results[(f, lv)] = pnet_level_proposals(maps, scale, threshold, NMS_PNET_LEVEL)
        clock.lap("pnet boxes")
    stages = []
    for f, frame_levels in enumerate(levels):
        parts = [results[(f, lv)] for lv in range(len(frame_levels))]
        if not parts:
            stages.append(_Stage())
            continue
        stage = _Stage(*(np.concatenate(c) for c in zip(*parts, strict=True)))
        stage = stage.take(non_maximum_suppression(stage.boxes, stage.scores, NMS_PNET_ALL, "union"))
        boxes = square_boxes(apply_regression(stage.boxes, stage.offsets, add_one=False))
        stages.append(_Stage(boxes, stage.scores, stage.offsets))
    clock.lap("pnet boxes")
    return stages


def _refine(
    images: list[np.ndarray],
    stages: list[_Stage],
    net: NetFn,
    size: int,
    threshold: float,
    name: str,
    clock: _Clock,
) -> list[_Stage]:
    """Score every frame's boxes with R- or O-Net in one batch; keep those above threshold."""
    counts = [len(s.scores) for s in stages]
    total = sum(counts)
    if total == 0:
        return [_Stage() for _ in stages]
    parts = [crop_inputs(img, s.boxes, size) for img, s in zip(images, stages, strict=True) if len(s.scores)]
    batch = parts[0] if len(parts) == 1 else np.concatenate(parts)
    clock.lap(f"{name} crops")
    out = net(batch)
    clock.lap(name)
    scores = face_probability(out[:, :2].T)
    offsets = np.ascontiguousarray(out[:, 2:6], dtype=_F32)
    refined, start = [], 0
    for stage, n in zip(stages, counts, strict=True):
        s = _Stage(stage.boxes, scores[start : start + n], offsets[start : start + n])
        start += n
        refined.append(s.take(np.flatnonzero(s.scores >= _F32(threshold))))
    return refined


def run_cascade(
    frames: Sequence[np.ndarray] | np.ndarray,
    pnet: NetFn,
    rnet: NetFn,
    onet: NetFn,
    params: MTCNNParams = MTCNNParams(),
    stage_times: dict[str, float] | None = None,
) -> list[FaceBoxes]:
    """Detect faces in frames with OpenFace 2.2's MTCNN procedure.

    Parameters
    ----------
    frames : sequence of (H, W, 3) uint8 ndarray, or (N, H, W, 3) uint8 ndarray
        BGR frames as OpenCV/PyAV deliver them (grey ``(H, W)`` is accepted).
        Frames may differ in size.
    pnet, rnet, onet : callable
        The networks: ``(N, 3, H, W)`` float32 normalised RGB to raw output
        (``(N, 6, h, w)``, ``(N, 6)``, ``(N, 16)``), e.g. ONNX Runtime sessions
        or the callables of :func:`~openau.detect.numpy_networks`.
    params : MTCNNParams
    stage_times : dict, optional
        When given, seconds spent per stage are added into it (keys
        ``"pyramid[i]"``, ``"pnet[i]"``, ``"pnet boxes"``, ``"rnet crops"``,
        ``"rnet"``, ``"rnet boxes"``, ``"onet crops"``, ``"onet"``, ``"onet boxes"``).

    Returns
    -------
    list of FaceBoxes
        One per frame, in order; faces sorted by decreasing O-Net confidence.
    """
    clock = _Clock(stage_times)
    images = as_frames(frames)
    if not images:
        return []
    stages = _run_pnet(images, pnet, params, clock)

    stages = _refine(images, stages, rnet, RNET_SIZE, params.thresholds[1], "rnet", clock)
    next_stages = []
    for s in stages:
        s = s.take(non_maximum_suppression(s.boxes, s.scores, NMS_RNET, "union"))
        boxes = square_boxes(apply_regression(s.boxes, s.offsets, add_one=False))
        next_stages.append(_Stage(boxes, s.scores, s.offsets))
    clock.lap("rnet boxes")

    stages = _refine(images, next_stages, onet, ONET_SIZE, params.thresholds[2], "onet", clock)
    results = []
    for s in stages:
        boxes = apply_regression(s.boxes, s.offsets, add_one=True)
        keep = non_maximum_suppression(boxes, s.scores, NMS_ONET, "min")
        boxes, scores = boxes[keep], s.scores[keep]
        results.append(FaceBoxes(boxes, scores, correct_for_landmarks(boxes)))
    clock.lap("onet boxes")
    return results
