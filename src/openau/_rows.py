"""Per-frame rows kept compactly until a video ends.

A video's table is complete only at its end (OpenFace's AU post-processing
needs every frame), so a few hundred bytes per frame must be kept for its
whole length. Kept as one small array per frame they cost more in object
headers and list slots than in values (about 1.5 KB per frame instead of
0.9); :class:`RowBuffer` writes them into preallocated blocks instead. With
``spill=True`` each full block goes to a temporary file, so a process's
memory stays flat however long the video (about 1 KB per frame would
otherwise stay resident: 100 MB for an hour at 30 frames/s); the rows come
back from the file when the table is built at the end.
"""

from __future__ import annotations

import tempfile
import threading
import weakref

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
    spill : bool
        Write each full block to a temporary file (in :func:`tempfile.gettempdir`)
        and keep only the block being filled in memory. If the file cannot be
        written (full or read-only disk), the rows stay in memory instead.

    Notes
    -----
    One thread appends; another may call :meth:`array` meanwhile (a
    ``.partial`` table written while the run stops) and gets the rows
    appended so far.

    Examples
    --------
    >>> rows = RowBuffer((2,), np.float32)
    >>> rows.append([1, 2]); rows.append([3, 4])
    >>> rows.array().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """

    def __init__(self, shape: tuple[int, ...], dtype, spill: bool = False) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._blocks: list[np.ndarray] = []  # in memory, from row self._spilled on
        self._count = 0
        self._spill = spill
        self._file = None  # the temporary file holding rows 0 .. self._spilled - 1
        self._spilled = 0
        self._lock = threading.Lock()  # held while blocks move to the file, and while reading

    def __len__(self) -> int:
        return self._count

    def append(self, row) -> None:
        """Copy ``row`` (array_like of :attr:`shape`, cast to :attr:`dtype`) in as the next row."""
        slot = self._count % BLOCK_ROWS
        if slot == 0:
            with self._lock:
                if self._spill and self._blocks:
                    self._write_out()
                self._blocks.append(np.empty((BLOCK_ROWS, *self.shape), self.dtype))
        self._blocks[-1][slot] = row
        self._count += 1

    def _write_out(self) -> None:
        """Move the (full) blocks in memory to the file; on failure keep them and stop spilling."""
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="openau-rows-")
                # Closed (and so deleted) with the buffer.
                weakref.finalize(self, self._file.close)
            self._file.seek(self._spilled * self._row_bytes())
            for block in self._blocks:
                self._file.write(block.tobytes())
            self._file.flush()
        except OSError:
            self._spill = False
            return
        self._spilled += len(self._blocks) * BLOCK_ROWS
        self._blocks = []

    def _row_bytes(self) -> int:
        return self.dtype.itemsize * int(np.prod(self.shape, dtype=np.int64))

    def array(self, count: int | None = None) -> np.ndarray:
        """The first ``count`` rows (default: all) as one new ``(count, *shape)`` array."""
        with self._lock:
            count = self._count if count is None else min(count, self._count)
            out = np.empty((count, *self.shape), self.dtype)
            on_disk = min(count, self._spilled)
            if on_disk:
                self._file.seek(0)
                size = on_disk * self._row_bytes()
                if self._file.readinto(memoryview(out[:on_disk].reshape(-1)).cast("B")) != size:
                    raise OSError(f"{self._file.name}: the temporary file of rows was cut short")
            for i, block in enumerate(self._blocks):
                start = self._spilled + i * BLOCK_ROWS
                if start >= count:
                    break
                stop = min(start + BLOCK_ROWS, count)
                out[start:stop] = block[: stop - start]
            return out
