"""Reader for OpenFace's point distribution models (``pdms/*.txt``).

A PDM describes a 3-D face shape as ``mean + components @ params`` (Cootes et al.,
and OpenFace's ``PDM`` class). The file holds three text matrices: the mean shape
``(3n, 1)``, the principal components ``(3n, m)`` and the eigenvalues ``(1, m)``,
with all x coordinates first, then all y, then all z (millimetres).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike

import numpy as np

from openau.models._reader import TextReader

__all__ = ["PDMModel", "read_pdm"]


@dataclass(frozen=True, eq=False)
class PDMModel:
    """A loaded point distribution model (immutable; it holds no fitting state).

    Attributes
    ----------
    mean_shape : (n, 3) float32 ndarray
        Mean 3-D landmark positions, millimetres, in the PDM's object frame
        (x right, y down, z away from the camera).
    components : (n, 3, m) float32 ndarray
        Principal components: ``components[i, :, k]`` is how landmark ``i``
        moves per unit of non-rigid parameter ``k``.
    eigenvalues : (m,) float32 ndarray
        Variance of each non-rigid parameter; OpenFace regularises with
        their inverses and clamps parameters to 3 standard deviations.

    Notes
    -----
    OpenFace reads the file in double and keeps it in float32; so do we, since
    the fitting arithmetic is float32 too.
    """

    mean_shape: np.ndarray
    components: np.ndarray
    eigenvalues: np.ndarray

    @property
    def n_points(self) -> int:
        """Number of landmarks ``n``."""
        return self.mean_shape.shape[0]

    @property
    def n_modes(self) -> int:
        """Number of non-rigid parameters ``m``."""
        return self.eigenvalues.shape[0]

    @property
    def mean_flat(self) -> np.ndarray:
        """The mean as OpenFace stores it: ``(3n,)``, all x, then y, then z."""
        return self.mean_shape.T.reshape(-1)

    @property
    def components_flat(self) -> np.ndarray:
        """The components as OpenFace stores them: ``(3n, m)``, x rows, y rows, z rows."""
        return self.components.transpose(1, 0, 2).reshape(-1, self.n_modes)


def read_pdm(path: str | PathLike[str]) -> PDMModel:
    """Read a PDM text file.

    Parameters
    ----------
    path : path-like
        E.g. ``model/pdms/In-the-wild_aligned_PDM_68.txt``.

    Returns
    -------
    PDMModel

    Raises
    ------
    ModelFileError
        When the file is malformed or its matrices disagree in size.
    """
    reader = TextReader(path)
    mean = reader.matrix()
    components = reader.matrix()
    eigen = reader.matrix()
    if mean.shape[1] != 1 or mean.shape[0] % 3:
        raise reader.error(f"mean shape must be (3n, 1), got {mean.shape}")
    n = mean.shape[0] // 3
    if components.shape[0] != 3 * n:
        raise reader.error(
            f"principal components have {components.shape[0]} rows, expected {3 * n}"
        )
    m = components.shape[1]
    if eigen.size != m or 1 not in eigen.shape:
        raise reader.error(f"eigenvalues must be a vector of {m}, got {eigen.shape}")
    eigen = eigen.reshape(-1)
    if not np.all(np.isfinite(eigen)) or np.any(eigen <= 0):
        raise reader.error("eigenvalues must be finite and positive")
    for name, arr in (("mean shape", mean), ("principal components", components)):
        if not np.all(np.isfinite(arr)):
            raise reader.error(f"{name} holds non-finite values")
    mean_shape = np.ascontiguousarray(mean.reshape(3, n).T, dtype=np.float32)
    comps = np.ascontiguousarray(components.reshape(3, n, m).transpose(1, 0, 2), dtype=np.float32)
    for arr in (mean_shape, comps):
        arr.setflags(write=False)
    eigenvalues = eigen.astype(np.float32)
    eigenvalues.setflags(write=False)
    return PDMModel(mean_shape=mean_shape, components=comps, eigenvalues=eigenvalues)
