"""Felzenszwalb HOG (FHOG) as dlib computes it, in OpenFace's layout.

OpenFace describes the aligned face by dlib's ``extract_fhog_features`` with
8-pixel cells (``Extract_FHOG_descriptor`` in ``Face_utils.cpp``): 31 values
per cell -- 18 contrast-sensitive and 9 contrast-insensitive orientation bins,
each normalised by the four 2 x 2-cell blocks around the cell, truncated at
0.2 and summed, plus 4 texture features (the cell's gradient energy under each
block normalisation). The border cells are dropped, so the 112 x 112 face
gives 12 x 12 cells.

References
----------
.. [1] P. Felzenszwalb, R. Girshick, D. McAllester, D. Ramanan, "Object
   detection with discriminatively trained part-based models", IEEE TPAMI
   32(9), 2010.
"""

from __future__ import annotations

import functools

import numpy as np

from openau._native import kernels

__all__ = ["CELL_SIZE", "FHOG_CHANNELS", "HOG_CELLS", "HOG_DIM", "fhog", "hog_descriptor"]

#: Cell side, pixels.
CELL_SIZE = 8
#: Values per cell.
FHOG_CHANNELS = 31
#: Cells per side for the 112-pixel aligned face: round(112 / 8) - 2.
HOG_CELLS = 12
#: Length of the AU stage's HOG descriptor.
HOG_DIM = HOG_CELLS * HOG_CELLS * FHOG_CHANNELS


def fhog(image: np.ndarray, cell_size: int = CELL_SIZE) -> np.ndarray:
    """dlib's 31-channel FHOG of an image.

    Parameters
    ----------
    image : (H, W, 3) or (H, W) uint8 ndarray
        BGR (or grey) pixels. For colour, each pixel's gradient is that of the
        channel with the largest gradient magnitude.
    cell_size : int
        Cell side, pixels.

    Returns
    -------
    (rows, cols, 31) float32 ndarray
        ``rows = round(H / cell_size) - 2``, likewise ``cols``; empty when the
        image has fewer than 3 cells a side. float32 like dlib's own output,
        which OpenFace widens to float64 without change.

    Notes
    -----
    Matches OpenFace's ``.hog`` files to about 1e-7 given the same aligned
    face, including dlib's two code paths (see
    :mod:`openau.features._fhog_kernel`).
    """
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(f"image must be (H, W), (H, W, 1) or (H, W, 3), got {img.shape}")
    if cell_size < 1:
        raise ValueError(f"cell_size must be positive, got {cell_size}")
    kernel = kernels("openau.features._fhog_kernel")

    return kernel.fhog(np.ascontiguousarray(img), int(cell_size), _orientation_table())


@functools.cache
def _orientation_table() -> np.ndarray:
    kernel = kernels("openau.features._fhog_kernel")

    return kernel.orientation_table()


def hog_descriptor(aligned_face: np.ndarray) -> np.ndarray:
    """The AU stage's HOG descriptor of an aligned face, in OpenFace's order.

    Parameters
    ----------
    aligned_face : (112, 112, 3) uint8 ndarray
        From :func:`openau.align.align_face`.

    Returns
    -------
    (4464,) float64 ndarray
        Cell row by cell row, then cell column, the 31 channels innermost --
        the order of OpenFace's ``.hog`` records and of the AU models' weights.
    """
    cells = fhog(aligned_face, CELL_SIZE)
    if cells.shape != (HOG_CELLS, HOG_CELLS, FHOG_CHANNELS):
        raise ValueError(
            f"aligned face must give {HOG_CELLS} x {HOG_CELLS} cells, got {cells.shape[:2]}"
        )
    return cells.reshape(-1).astype(np.float64)
