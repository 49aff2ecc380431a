"""The landmark-detection validator: does a fit sit on a face, and how sure are we?

OpenFace (``DetectionValidator::Check``) warps the face inside the fitted
landmarks onto a fixed 60 x 60 shape with a piecewise-affine warp, normalises
the warped pixels (per face, then per pixel with the training statistics) and
runs a small CNN whose 30 outputs are bins of a score in [-1, 1]. The winning
bin's centre is turned into a confidence in [0, 1]; FeatureExtraction reports
it and calls the fit successful above 0.725. The confidence therefore takes one
of 30 values (0.0167, 0.05, ..., 0.9833).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from openau._native import kernels
from openau.landmarks import _validator_onnx
from openau.models.validator import (
    DetectionValidator,
    LayerKind,
    PiecewiseAffineWarp,
    ValidatorLayer,
    ValidatorView,
)

__all__ = ["cnn_score", "paw_warp", "validate_landmarks", "validator_view"]

_F32 = np.float32
#: Extra pixels around the landmarks' box kept for interpolation.
_ROI_MARGIN = _F32(3.0)
#: The CNN's output bins cover this score range.
_SCORE_RANGE = (-1.0, 1.0)
#: Max pooling of the validator CNN: 2 x 2 windows, stride 2.
_POOL = 2


def validator_view(validator: DetectionValidator, orientation: np.ndarray) -> int:
    """The view nearest a head orientation (Euclidean distance of Euler angles)."""
    rx, ry, rz = (float(v) for v in orientation)
    best, best_distance = 0, math.inf
    for index, view in enumerate(validator.views):
        ox, oy, oz = view.orientation
        distance = math.sqrt((rx - ox) ** 2 + (ry - oy) ** 2 + (rz - oz) ** 2)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


def paw_warp(image: np.ndarray, landmarks: np.ndarray, warp: PiecewiseAffineWarp) -> np.ndarray:
    """Warp the face onto the validator's shape (OpenFace's ``PAW::Warp``).

    Parameters
    ----------
    image : (H, W) float32 ndarray
    landmarks : (n, 2) float32 ndarray
        Source landmarks in ``image`` coordinates.
    warp : PiecewiseAffineWarp

    Returns
    -------
    (h, w) float32 ndarray
        The warped face, 0 outside the mask.
    """
    _sampling = kernels("openau.landmarks._sampling")

    out = np.empty(warp.mask.shape, _F32)
    _sampling.piecewise_affine_warp(
        np.ascontiguousarray(image, dtype=_F32),
        np.ascontiguousarray(landmarks, dtype=_F32),
        warp.triangles,
        warp.triangle_id,
        warp.mask,
        warp.alpha,
        warp.beta,
        _F32(warp.min_x),
        _F32(warp.min_y),
        out,
    )
    return out


def _normalised_input(warped: np.ndarray, view: ValidatorView) -> np.ndarray:
    """The CNN input: masked pixels normalised per face, then per pixel."""
    mask_t = view.warp.mask.T
    # OpenFace walks the pixels column by column.
    values = warped.T[mask_t]
    mean = values.mean(dtype=np.float64)
    std = values.astype(np.float64).std()
    if std == 0:
        std = 1.0
    values = (values - _F32(mean)) * _F32(1.0 / std)
    features = (values - view.mean) / view.std
    image_t = np.zeros(mask_t.shape, _F32)
    image_t[mask_t] = features
    return image_t.T


def _convolve(maps: np.ndarray, layer: ValidatorLayer) -> np.ndarray:
    """Correlate every input map with its kernels and add the biases (im2col + matmul)."""
    kernels = layer.weights  # (out, in, kh, kw)
    n_out, n_in, kh, kw = kernels.shape
    windows = sliding_window_view(maps, (kh, kw), axis=(1, 2))  # (in, oh, ow, kh, kw)
    _, oh, ow, _, _ = windows.shape
    cols = np.ascontiguousarray(windows.transpose(0, 3, 4, 1, 2)).reshape(n_in * kh * kw, -1)
    out = kernels.reshape(n_out, -1) @ cols + layer.biases[:, None]
    return out.reshape(n_out, oh, ow)


def _max_pool(maps: np.ndarray) -> np.ndarray:
    # Output size round((n - 2) / 2) + 1, windows clipped at the border
    # (OpenFace's Caffe-style pooling).
    n_in, h, w = maps.shape
    out_h = int(np.floor((h - _POOL) / _POOL + 0.5)) + 1
    out_w = int(np.floor((w - _POOL) / _POOL + 0.5)) + 1
    padded = np.full((n_in, out_h * _POOL, out_w * _POOL), -np.inf, _F32)
    hh, ww = min(h, out_h * _POOL), min(w, out_w * _POOL)
    padded[:, :hh, :ww] = maps[:, :hh, :ww]
    result = padded[:, ::_POOL, ::_POOL]
    for dy in range(_POOL):
        for dx in range(_POOL):
            if dy or dx:
                result = np.maximum(result, padded[:, dy::_POOL, dx::_POOL])
    return result


def cnn_score(image: np.ndarray, view: ValidatorView) -> float:
    """The validator CNN's score in [-1, 1] for a normalised warped face.

    Returns
    -------
    float
        Centre of the winning output bin (OpenFace's ``CheckCNN``).
    """
    maps = image[None].astype(_F32)
    vector = None
    for layer in view.layers:
        if layer.kind is LayerKind.CONVOLUTION:
            maps = _convolve(maps, layer)
        elif layer.kind is LayerKind.MAX_POOLING:
            maps = _max_pool(maps)
        elif layer.kind is LayerKind.FULLY_CONNECTED:
            if vector is None:
                # Maps are flattened column by column, one after another.
                vector = maps.transpose(0, 2, 1).reshape(-1)
            vector = (layer.weights @ vector + layer.biases).astype(_F32)
        elif layer.kind is LayerKind.RELU:
            if vector is None:
                maps = np.maximum(maps, _F32(0))
            else:
                vector = np.maximum(vector, _F32(0))
        elif layer.kind is LayerKind.SIGMOID:
            if vector is None:
                maps = (1 / (1 + np.exp(-maps))).astype(_F32)
            else:
                vector = (1 / (1 + np.exp(-vector))).astype(_F32)
    if vector is None:
        vector = maps.transpose(0, 2, 1).reshape(-1)
    return _bin_centre(vector)


def _bin_centre(vector: np.ndarray) -> float:
    """The centre of the winning output bin, a score in [-1, 1] (OpenFace's ``CheckCNN``)."""
    bins = vector.shape[0]
    low, high = _SCORE_RANGE
    step = (high - low) / bins
    return low + step / 2.0 + int(np.argmax(vector)) * step


def validate_landmarks(
    validator: DetectionValidator,
    gray: np.ndarray,
    landmarks: np.ndarray,
    orientation: np.ndarray,
) -> float:
    """Confidence that landmarks sit on a face (OpenFace's ``DetectionValidator::Check``).

    Parameters
    ----------
    validator : DetectionValidator
    gray : (H, W) uint8 ndarray
        The grayscale frame.
    landmarks : (n, 2) float32 ndarray
        Fitted landmarks, pixels.
    orientation : (3,) array_like
        Head rotation ``(rx, ry, rz)`` of the fit, radians; picks the view.

    Returns
    -------
    float
        ``0.5 (1 - score)`` as float32, in (0, 1); 0 when the landmarks' box
        leaves no image inside it.
    """
    points = np.asarray(landmarks, _F32)
    if not np.all(np.isfinite(points)) or not np.all(np.isfinite(orientation)):
        return 0.0
    view = validator.views[validator_view(validator, orientation)]
    low = points.min(axis=0)
    high = points.max(axis=0)
    # C casts truncate toward zero.
    min_x = max(int(low[0] - _ROI_MARGIN), 0)
    min_y = max(int(low[1] - _ROI_MARGIN), 0)
    max_x = min(int(high[0] + _ROI_MARGIN), gray.shape[1] - 1)
    max_y = min(int(high[1] + _ROI_MARGIN), gray.shape[0] - 1)
    if max_x - min_x <= 1 or max_y - min_y <= 1:
        return 0.0
    crop = gray[min_y:max_y, min_x:max_x].astype(_F32)
    local = points - np.array([min_x, min_y], _F32)
    warped = paw_warp(crop, local, view.warp)
    # ONNX Runtime runs the CNN; cnn_score is the numpy reference of the same.
    score = _bin_centre(_validator_onnx.scores(_normalised_input(warped, view), view))
    return float(_F32(0.5 * (1.0 - score)))
