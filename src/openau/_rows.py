"""Per-frame rows kept compactly until a video ends.

A video's table is complete only at its end (OpenFace's AU post-processing
needs every frame), so a few hundred bytes per frame stay in memory for its
whole length. Kept as one small array per frame they cost more in object
headers and list slots than in values (about 1.5 KB per frame instead of
0.9); :class:`RowBuffer` writes them into preallocated blocks instead, so a
long video grows by its values alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RowBuffer"]

#: Rows per preallocated block: a few hundred KB at most, a tiny share of a short clip.
BLOCK_ROWS = 512


class RowBuffer:
    """Rows of one shape and dtype, appended one at a time.

    Parameters
    ----------
    shape : tuple of int
        Shape of one row (``()`` for scalars).
    dtype : numpy dtype

    Examples
    --------
    >>> rows = RowBuffer((2,), np.float32)
    >>> rows.append([1, 2]); rows.append([3, 4])
    >>> rows.array().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """

    def __init__(self, shape: tuple[int, ...], dtype) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._blocks: list[np.ndarray] = []
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, row) -> None:
        """Copy ``row`` (array_like of :attr:`shape`, cast to :attr:`dtype`) in as the next row."""
        slot = self._count % BLOCK_ROWS
        if slot == 0:
            self._blocks.append(np.empty((BLOCK_ROWS, *self.shape), self.dtype))
        self._blocks[-1][slot] = row
        self._count += 1

    def array(self, count: int | None = None) -> np.ndarray:
        """The first ``count`` rows (default: all) as one new ``(count, *shape)`` array."""
        count = self._count if count is None else min(count, self._count)
        out = np.empty((count, *self.shape), self.dtype)
        for i, block in enumerate(self._blocks):
            start = i * BLOCK_ROWS
            if start >= count:
                break
            stop = min(start + BLOCK_ROWS, count)
            out[start:stop] = block[: stop - start]
        return out
