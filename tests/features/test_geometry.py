"""The geometry descriptor [V p, p] OpenFace's AU models read."""

from __future__ import annotations

import numpy as np
import pytest

from openau.features import geometry_descriptor, geometry_dim
from openau.models import read_pdm


@pytest.fixture(scope="module")
def pdm(models_dir):
    return read_pdm(models_dir / "AU_predictors/In-the-wild_aligned_PDM_68.txt")


def test_layout(pdm):
    rng = np.random.default_rng(0)
    local = rng.normal(size=pdm.n_modes).astype(np.float32)
    geom = geometry_descriptor(pdm, local)
    assert geom.shape == (geometry_dim(pdm),) == (238,) and geom.dtype == np.float64
    np.testing.assert_array_equal(geom[204:], local.astype(np.float64))
    # x offsets of all landmarks first, then y, then z (OpenFace's layout).
    offsets = pdm.components.astype(np.float64) @ local.astype(np.float64)
    np.testing.assert_allclose(geom[:68], offsets[:, 0], rtol=1e-12)
    np.testing.assert_allclose(geom[68:136], offsets[:, 1], rtol=1e-12)
    np.testing.assert_allclose(geom[136:204], offsets[:, 2], rtol=1e-12)


def test_mean_face_is_zero_and_linear(pdm):
    assert not geometry_descriptor(pdm, np.zeros(pdm.n_modes)).any()
    a, b = np.eye(pdm.n_modes)[:2]
    np.testing.assert_allclose(
        geometry_descriptor(pdm, a + b),
        geometry_descriptor(pdm, a) + geometry_descriptor(pdm, b),
        atol=1e-6,
    )


def test_bad_shape(pdm):
    with pytest.raises(ValueError, match="params_local must have shape"):
        geometry_descriptor(pdm, np.zeros(3))
