"""Numba kernel: histogram medians kept up to date one sample at a time.

The kernel releases the GIL (``nogil``): the engine's AU thread then runs
beside the landmark thread on a machine with more than one core.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def update(hist, values, add, median_bin, below, cutoff, alpha, beta, low, step, median):
    """Optionally add one sample per dimension, then move each median to ``cutoff``.

    Parameters
    ----------
    hist : (b, d) uint16 or int32, updated in place
        Counts per bin and dimension.
    values : (d,) float64
        The sample (ignored unless ``add``).
    add : bool
    median_bin : (d,) int64, updated in place
        Current median bin (-1 before the first call).
    below : (d,) int64, updated in place
        Samples in bins ``<= median_bin``.
    cutoff : int
        The median bin becomes the first bin whose cumulative count reaches
        ``cutoff``. It moves by a few bins per sample, so this costs O(d)
        instead of OpenFace's O(d * b) rescan, with the same result.
    alpha, beta : float
        A value's bin is ``int(clip(value * alpha + beta, 0, b - 1))``.
    low, step : float
        Bin ``j``'s centre is ``low + j * step + step / 2``.
    median : (d,) float64, written
        The bin centres of the medians.
    """
    n_bins, d = hist.shape
    top = n_bins - 1
    half = 0.5 * step
    for i in range(d):
        j = median_bin[i]
        count = below[i]
        if add:
            scaled = values[i] * alpha + beta
            if scaled > top:
                scaled = top
            if scaled < 0:
                scaled = 0.0
            b = int(scaled)
            hist[b, i] += 1
            if b <= j:
                count += 1
        while j < 0 or (count < cutoff and j < top):
            j += 1
            count += hist[j, i]
        while j > 0 and count - hist[j, i] >= cutoff:
            count -= hist[j, i]
            j -= 1
        median_bin[i] = j
        below[i] = count
        median[i] = low + j * step + half
