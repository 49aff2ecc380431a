"""The geometry descriptor OpenFace's AU models read next to the HOG.

``FaceAnalyser`` describes face shape by the PDM's non-rigid parameters and
the 3-D landmark offsets they produce: ``[V @ p, p]`` with ``V`` the ``(3n, m)``
principal components in OpenFace's layout (all x rows, then y, then z) and
``p`` the ``m`` parameters of its own ``CalcParams`` fit. The mean shape is not
included, so a neutral average face has a zero descriptor. Units: millimetres
for the offsets, PDM parameter units for ``p``.
"""

from __future__ import annotations

import numpy as np

from openau.models.pdm import PDMModel

__all__ = ["geometry_descriptor", "geometry_dim"]


def geometry_dim(pdm: PDMModel) -> int:
    """Length of the descriptor: ``3 n + m`` (238 for the 68-point, 34-mode PDM)."""
    return 3 * pdm.n_points + pdm.n_modes


def geometry_descriptor(pdm: PDMModel, params_local: np.ndarray) -> np.ndarray:
    """``[V @ p, p]`` for non-rigid parameters ``p``.

    Parameters
    ----------
    pdm : PDMModel
    params_local : (m,) float32 array_like
        From :func:`openau.geometry.fit_to_landmarks`.

    Returns
    -------
    (3 n + m,) float64 ndarray
        Offsets ordered x of every landmark, then y, then z; then ``p``.
        Computed in float64 from the float32 model, as OpenFace does.
    """
    local = np.asarray(params_local, dtype=np.float32).astype(np.float64)
    if local.shape != (pdm.n_modes,):
        raise ValueError(f"params_local must have shape ({pdm.n_modes},), got {local.shape}")
    offsets = pdm.components_flat.astype(np.float64) @ local
    return np.concatenate([offsets, local])
