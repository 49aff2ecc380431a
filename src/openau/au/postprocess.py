"""OpenFace's offline post-processing of a video's AU predictions.

After the last frame FeatureExtraction rewrites the AU columns
(``FaceAnalyser::ExtractAllPredictionsOfflineReg`` / ``...Class``):

intensity
    1. for each dynamic model with a cutoff, the value at position
       ``floor(n * cutoff)`` of the sorted predictions of the n successful
       frames is subtracted from every successful frame (the person's neutral
       level, learnt as the share of neutral frames);
    2. successful frames are clipped to [0, 5], failed frames set to 0;
    3. a centred 3-frame moving average over all frames; the first and last
       frame keep their values.

presence
    a centred 7-frame moving average of the 0/1 values (failed frames count as
    0) thresholded at 0.5; the first 3 and last 3 frames keep their values,
    and nothing is forced back to 0 on failed frames.

The re-prediction of the first frames with the final running median happens
before this, in :class:`openau.au.AUAnalyser`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_INTENSITY",
    "INTENSITY_WINDOW",
    "PRESENCE_WINDOW",
    "intensity_offsets",
    "postprocess_intensity",
    "postprocess_presence",
]

#: AU intensities are on OpenFace's 0-5 scale.
MAX_INTENSITY = 5.0
#: Frames in the intensity moving average.
INTENSITY_WINDOW = 3
#: Frames in the presence moving average.
PRESENCE_WINDOW = 7


def intensity_offsets(raw: np.ndarray, success: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """Per-AU neutral level to subtract: the ``cutoff`` quantile of successful frames.

    Parameters
    ----------
    raw : (n, k) float64 ndarray
    success : (n,) bool ndarray
    cutoffs : (k,) float64 ndarray
        NaN for models without a cutoff (static models included).

    Returns
    -------
    (k,) float64 ndarray
        0 where there is no cutoff or no successful frame.
    """
    good = np.sort(np.asarray(raw, dtype=np.float64)[np.asarray(success, bool)], axis=0)
    offsets = np.zeros(raw.shape[1])
    n = good.shape[0]
    if n == 0:
        return offsets
    for j, cutoff in enumerate(np.asarray(cutoffs, dtype=np.float64)):
        if not np.isnan(cutoff):
            offsets[j] = good[int(n * cutoff), j]
    return offsets


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average; the ``window // 2`` frames at each end keep their values."""
    half = window // 2
    out = values.copy()
    n = values.shape[0]
    if n <= 2 * half:
        return out
    total = values[: n - 2 * half].copy()
    for w in range(1, window):
        total += values[w : n - 2 * half + w]
    out[half : n - half] = total / window
    return out


def postprocess_intensity(
    raw: np.ndarray, success: np.ndarray, cutoffs: np.ndarray | None
) -> np.ndarray:
    """Offset, clip, zero failed frames and smooth a video's intensities.

    Parameters
    ----------
    raw : (n, k) float64 ndarray
        Raw model outputs per frame (any value on failed frames).
    success : (n,) bool ndarray
    cutoffs : (k,) float64 ndarray or None
        Per-AU cutoffs (NaN for none); None skips the offsets (OpenFace's
        static mode, ``-au_static``).

    Returns
    -------
    (n, k) float64 ndarray
    """
    raw = np.asarray(raw, dtype=np.float64)
    ok = np.asarray(success, bool)
    offsets = np.zeros(raw.shape[1]) if cutoffs is None else intensity_offsets(raw, ok, cutoffs)
    values = np.where(ok[:, None], np.clip(raw - offsets, 0.0, MAX_INTENSITY), 0.0)
    return _moving_average(values, INTENSITY_WINDOW)


def postprocess_presence(values: np.ndarray) -> np.ndarray:
    """Smooth a video's presence values: 7-frame majority vote.

    Parameters
    ----------
    values : (n, k) float64 ndarray
        0/1 per frame, 0 on failed frames.

    Returns
    -------
    (n, k) float64 ndarray
    """
    values = np.asarray(values, dtype=np.float64)
    smoothed = _moving_average(values, PRESENCE_WINDOW)
    half = PRESENCE_WINDOW // 2
    inner = slice(half, max(values.shape[0] - half, half))
    smoothed[inner] = np.where(smoothed[inner] < 0.5, 0.0, 1.0)
    return smoothed
