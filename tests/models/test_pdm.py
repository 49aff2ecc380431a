"""PDM and triangulation readers on OpenFace's real files and on malformed copies."""

from __future__ import annotations

import numpy as np
import pytest

from openau.errors import ModelFileError
from openau.models import read_pdm, read_triangulation, read_triangulations

PDM_FILE = "model/pdms/In-the-wild_aligned_PDM_68.txt"


def test_pdm_shapes_and_known_values(models_dir):
    pdm = read_pdm(models_dir / PDM_FILE)
    assert pdm.mean_shape.shape == (68, 3) and pdm.mean_shape.dtype == np.float32
    assert pdm.components.shape == (68, 3, 34) and pdm.components.dtype == np.float32
    assert pdm.eigenvalues.shape == (34,)
    assert pdm.n_points == 68 and pdm.n_modes == 34
    # First line of the file's mean: landmark 0's x is -73.393523 mm.
    assert pdm.mean_shape[0, 0] == pytest.approx(-73.393523, abs=1e-5)
    assert np.all(np.isfinite(pdm.components))
    assert np.all(np.diff(pdm.eigenvalues) <= 0), "eigenvalues come sorted, largest first"
    # The flat views reproduce OpenFace's x..., y..., z... layout.
    assert pdm.mean_flat[68] == pdm.mean_shape[0, 1]
    assert pdm.components_flat.shape == (204, 34)
    assert not pdm.mean_shape.flags.writeable


def test_au_predictor_pdm_is_the_same_model(models_dir):
    a = read_pdm(models_dir / PDM_FILE)
    b = read_pdm(models_dir / "AU_predictors/In-the-wild_aligned_PDM_68.txt")
    np.testing.assert_array_equal(a.components, b.components)


def test_triangulations(models_dir):
    full = read_triangulation(models_dir / "model/tris_68_full.txt")
    assert full.shape == (111, 3) and full.dtype == np.int32
    views = read_triangulations(models_dir / "model/tris_68.txt")
    assert len(views) == 7 and views[0].shape == (97, 3)
    assert all(t.max() < 68 for t in views)


def test_truncated_pdm(models_dir, tmp_path):
    text = (models_dir / PDM_FILE).read_text()
    bad = tmp_path / "pdm.txt"
    bad.write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match="pdm.txt, end of file"):
        read_pdm(bad)


def test_pdm_with_wrong_type_field(models_dir, tmp_path):
    lines = (models_dir / PDM_FILE).read_text().splitlines()
    assert lines[3].strip() == "6"
    lines[3] = "17"
    bad = tmp_path / "pdm.txt"
    bad.write_text("\n".join(lines))
    with pytest.raises(ModelFileError, match="line 2: unknown matrix type code 17"):
        read_pdm(bad)


def test_pdm_with_word_for_number(models_dir, tmp_path):
    lines = (models_dir / PDM_FILE).read_text().splitlines()
    lines[9] = "abc"
    bad = tmp_path / "pdm.txt"
    bad.write_text("\n".join(lines))
    with pytest.raises(ModelFileError, match="line 10: expected a number, found 'abc'"):
        read_pdm(bad)
