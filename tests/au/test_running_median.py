"""The histogram running median against a direct transcription of OpenFace's rule."""

from __future__ import annotations

import numpy as np
import pytest

from openau.au import GEOMETRY_BINS, HOG_BINS, HistogramBins, RunningMedian


class RescanMedian:
    """OpenFace's UpdateRunningMedian, literally: rescan every histogram row each call."""

    def __init__(self, n_dims: int, bins: HistogramBins) -> None:
        self.bins = bins
        self.hist = np.zeros((n_dims, bins.count), np.int64)
        self.count = 0
        self.median = None

    def update(self, descriptor: np.ndarray, add: bool) -> np.ndarray:
        b = self.bins
        if self.median is None:
            self.median = descriptor.copy()
        if add:
            idx = np.clip((descriptor - b.low) * b.count / b.width, 0, b.count - 1).astype(int)
            self.hist[np.arange(len(idx)), idx] += 1
            self.count += 1
        if self.count == 1:
            self.median = descriptor.copy()
        else:
            cutoff = (self.count + 1) // 2
            cumulative = np.cumsum(self.hist, axis=1)
            j = np.argmax(cumulative >= cutoff, axis=1)
            self.median = b.low + j * (b.width / b.count) + 0.5 * b.width / b.count
        return self.median


@pytest.mark.parametrize("bins, scale", [(HOG_BINS, 0.1), (GEOMETRY_BINS, 20.0)])
def test_matches_full_rescan(bins, scale):
    rng = np.random.default_rng(7)
    ours, theirs = RunningMedian(50, bins), RescanMedian(50, bins)
    for step in range(300):
        # Values drift, jump and leave the range now and then.
        values = rng.normal(scale * np.sin(step / 40), scale, 50)
        if step % 37 == 0:
            values *= 100
        add = bool(rng.random() < 0.8)
        np.testing.assert_array_equal(ours.update(values, add), theirs.update(values, add))


def test_openface_quirks():
    median = RunningMedian(3, GEOMETRY_BINS)
    zeros = np.zeros(3)
    # Before any sample: the first bin's centre (-60 + 0.006).
    np.testing.assert_allclose(median.update(zeros, add=False), -59.994)
    sample = np.array([1.234, -5.0, 70.0])
    # One sample: the descriptor itself, unbinned and unclipped.
    np.testing.assert_array_equal(median.update(sample, add=True), sample)
    # Still one sample: the median is whatever descriptor the call passes.
    np.testing.assert_array_equal(median.update(zeros, add=False), zeros)
    # Two samples: the lower one's bin centre.
    out = median.update(sample + 1, add=True)
    np.testing.assert_allclose(out, [1.230, -4.998, 59.994], atol=1e-9)


def test_shape_check():
    with pytest.raises(ValueError, match="descriptor must have shape"):
        RunningMedian(4, HOG_BINS).update(np.zeros(5), True)


def test_counts_widen_before_they_can_overflow():
    # 16-bit counts hold 65 535 samples (73 minutes of video at 30 frames/s);
    # the histogram widens before a bin could wrap around.
    rng = np.random.default_rng(3)
    ours, theirs = RunningMedian(2, HOG_BINS), RescanMedian(2, HOG_BINS)
    n = np.iinfo(np.uint16).max + 40
    samples = rng.normal(0.1, 0.01, (n, 2))
    samples[:, 0] = 0.1  # one bin takes every sample: it passes 2^16
    for values in samples[:-1]:
        ours.update(values, True)
        theirs.hist[np.arange(2), HOG_BINS.index(values)] += 1
        theirs.count += 1
    assert ours.hist.dtype == np.int32 and ours.hist.max() > np.iinfo(np.uint16).max
    np.testing.assert_array_equal(ours.update(samples[-1], True), theirs.update(samples[-1], True))
