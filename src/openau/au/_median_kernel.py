"""Numba kernel: histogram medians kept up to date one sample at a time."""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def add_and_locate(hist, bins, add, median_bin, below, cutoff):
    """Optionally add one sample per dimension, then move each median to ``cutoff``.

    Parameters
    ----------
    hist : (d, b) int32, updated in place
        Counts per dimension and bin.
    bins : (d,) int64
        The new sample's bin in each dimension (ignored unless ``add``).
    add : bool
    median_bin : (d,) int64, updated in place
        Current median bin (-1 before the first call).
    below : (d,) int64, updated in place
        Samples in bins ``<= median_bin``.
    cutoff : int
        The median bin becomes the first bin whose cumulative count reaches
        ``cutoff``. It moves by a few bins per sample, so this costs O(d)
        instead of OpenFace's O(d * b) rescan, with the same result.
    """
    d, n_bins = hist.shape
    for i in range(d):
        j = median_bin[i]
        count = below[i]
        if add:
            b = bins[i]
            hist[i, b] += 1
            if b <= j:
                count += 1
        while j < 0 or (count < cutoff and j < n_bins - 1):
            j += 1
            count += hist[i, j]
        while j > 0 and count - hist[i, j] >= cutoff:
            count -= hist[i, j]
            j -= 1
        median_bin[i] = j
        below[i] = count
