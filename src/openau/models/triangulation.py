"""Reader for OpenFace's landmark triangulation files (``tris_68*.txt``).

``tris_68_full.txt`` holds one triangulation of the 68 landmarks (111 triangles)
that OpenFace's AU pipeline uses to mask the aligned face. ``tris_68.txt`` starts
with a count and holds one triangulation per CLNF view (7), used to draw and to
warp faces.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from openau.models._reader import TextReader

__all__ = ["read_triangulation", "read_triangulations"]


def _triangles(reader: TextReader, n_points: int) -> np.ndarray:
    tris = reader.matrix()
    if tris.ndim != 2 or tris.shape[1] != 3:
        raise reader.error(f"a triangulation must have 3 columns, got shape {tris.shape}")
    tris = tris.astype(np.int32)
    if tris.size and (tris.min() < 0 or tris.max() >= n_points):
        raise reader.error(f"triangle vertex out of range 0..{n_points - 1}")
    tris.setflags(write=False)
    return tris


def read_triangulation(path: str | PathLike[str], n_points: int = 68) -> np.ndarray:
    """Read a file holding a single triangulation (``tris_68_full.txt``).

    Returns
    -------
    (t, 3) int32 ndarray
        Vertex indices (0-based landmark numbers) of each triangle.
    """
    reader = TextReader(path)
    tris = _triangles(reader, n_points)
    if not reader.at_end():
        raise reader.error("unexpected data after the triangulation")
    return tris


def read_triangulations(path: str | PathLike[str], n_points: int = 68) -> tuple[np.ndarray, ...]:
    """Read a file holding a count and that many triangulations (``tris_68.txt``).

    Returns
    -------
    tuple of (t_k, 3) int32 ndarray
        One triangulation per view, in file order.
    """
    reader = TextReader(path)
    count = reader.int()
    if count <= 0 or count > 1000:
        raise reader.error(f"implausible number of triangulations {count}")
    result = tuple(_triangles(reader, n_points) for _ in range(count))
    if not reader.at_end():
        raise reader.error("unexpected data after the last triangulation")
    return result
