"""OpenFace's histogram running median, for person-specific normalisation.

Dynamic AU models subtract a running median of the HOG and geometry
descriptors from each frame's (Baltrusaitis et al. 2015): an estimate of the
person's neutral face. OpenFace keeps, per descriptor dimension, a histogram
of the values seen (``FaceAnalyser::UpdateRunningMedian``) and reads the median
off it as a bin centre. Its bin layouts:

* HOG: 1000 bins over [-0.005, 1] (:data:`HOG_BINS`);
* geometry: 10 000 bins over [-60, 60] (:data:`GEOMETRY_BINS`).

Values outside the range fall into the first or last bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openau._native import kernels

__all__ = ["HistogramBins", "HOG_BINS", "GEOMETRY_BINS", "RunningMedian"]

_UINT16_MAX = int(np.iinfo(np.uint16).max)


@dataclass(frozen=True)
class HistogramBins:
    """A histogram layout: ``count`` equal bins from ``low`` to ``high``."""

    count: int
    low: float
    high: float

    @property
    def width(self) -> float:
        return abs(self.high - self.low)

    @property
    def scale_shift(self) -> tuple[float, float]:
        """``(alpha, beta)``: a value's bin is ``int(clip(v * alpha + beta, 0, count - 1))``.

        OpenFace writes ``(v - low) * count / width``; OpenCV folds it into one
        scale and shift, applied as ``v * alpha + beta`` (float64).
        """
        return self.count * (1.0 / self.width), (-self.low * self.count) * (1.0 / self.width)

    @property
    def step(self) -> float:
        """Bin width."""
        return self.width / self.count

    def index(self, values: np.ndarray) -> np.ndarray:
        """Bin of each value."""
        alpha, beta = self.scale_shift
        scaled = np.clip(np.asarray(values, dtype=np.float64) * alpha + beta, 0, self.count - 1)
        return scaled.astype(np.int64)

    def centre(self, index: np.ndarray) -> np.ndarray:
        """Centre value of each bin, as OpenFace computes it."""
        return self.low + index.astype(np.float64) * self.step + 0.5 * self.step


#: HOG values lie in [0, 0.4] or so; OpenFace's range.
HOG_BINS = HistogramBins(count=1000, low=-0.005, high=1.0)
#: Geometry values (millimetres, PDM parameters); OpenFace's range.
GEOMETRY_BINS = HistogramBins(count=10_000, low=-60.0, high=60.0)


class RunningMedian:
    """Running median of a descriptor, updated the way OpenFace updates it.

    Parameters
    ----------
    n_dims : int
        Descriptor length.
    bins : HistogramBins

    Attributes
    ----------
    hist : (bins.count, n_dims) uint16 ndarray (int32 past 65 535 samples)
        Samples added, per bin and dimension.
    count : int
        Samples added.
    median : (n_dims,) float64 ndarray
        The median after the last :meth:`update`.

    Notes
    -----
    :meth:`update` reproduces OpenFace's quirks, since they reach its numbers:

    * before the first sample, or while no sample has been added, the median
      is the first bin's centre in every dimension;
    * after exactly one sample, the median is the descriptor passed to the
      call -- even on a call that adds nothing (OpenFace then returns a failed
      frame's zero descriptor);
    * otherwise it is the centre of the first bin whose cumulative count
      reaches ``(count + 1) // 2``.
    """

    def __init__(self, n_dims: int, bins: HistogramBins) -> None:
        self.bins = bins
        # Bin-major: the values of a descriptor fall in a narrow band of bins
        # (HOG mostly below 0.3 of its [-0.005, 1] range), so only the pages
        # of those bins are ever touched; dimension-major, every dimension's
        # row would be touched by the first sample. And 16-bit counts until
        # they could overflow (see update): half the cache lines to walk, so
        # as fast as 32-bit dimension-major rows. HOG: ~2.5 MB resident
        # instead of 18.
        self.hist = np.zeros((bins.count, n_dims), np.uint16)
        self.count = 0
        self._median_bin = np.full(n_dims, -1, np.int64)
        self._below = np.zeros(n_dims, np.int64)
        self.median = np.zeros(n_dims)

    def update(self, descriptor: np.ndarray, add: bool) -> np.ndarray:
        """Add ``descriptor`` (if ``add``) and return the median.

        Parameters
        ----------
        descriptor : (n_dims,) float64 ndarray
        add : bool
            Whether this sample enters the histogram (OpenFace adds only
            successful frames, and only every second frame).

        Returns
        -------
        (n_dims,) float64 ndarray
            The new median (also kept in :attr:`median`).
        """
        _median_kernel = kernels("openau.au._median_kernel")

        values = np.ascontiguousarray(descriptor, dtype=np.float64)
        if values.shape != self._below.shape:
            raise ValueError(f"descriptor must have shape {self._below.shape}, got {values.shape}")
        if add:
            if self.hist.dtype == np.uint16 and self.count == _UINT16_MAX:
                # A bin could overflow with this sample (past 2^16 - 1 samples:
                # 73 minutes of video at 30 frames/s, one sample per two frames).
                self.hist = self.hist.astype(np.int32)
            self.count += 1
        median = np.empty_like(values)
        alpha, beta = self.bins.scale_shift
        _median_kernel.update(
            self.hist, values, add, self._median_bin, self._below, (self.count + 1) // 2,
            alpha, beta, self.bins.low, self.bins.step, median,
        )
        self.median = values.copy() if self.count == 1 else median
        return self.median
