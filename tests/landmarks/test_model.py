"""Loading the CLNF landmark model and the settings OpenFace gives each part."""

from __future__ import annotations

import numpy as np
import pytest

from openau.errors import ModelsNotFoundError
from openau.landmarks import _array_cache, load_landmark_model
from openau.landmarks.model import _ccnf_sigma


def test_main_model_and_parts(landmark_model):
    main = landmark_model.main
    assert [s.scale for s in main.scales] == [0.25, 0.35, 0.5]
    assert main.pdm.n_points == 68 and main.pdm.n_modes == 34
    assert main.settings.windows_detect == (11, 9, 7, 5)
    assert main.settings.windows_track == (0, 9, 7, 0)
    names = [p.name for p in landmark_model.parts]
    assert names == ["inner", "left_eye_28", "right_eye_28"]
    inner, left, _ = landmark_model.parts
    assert inner.model.settings.weight_factor == 2.5 and inner.model.settings.windows_detect == (9,)
    assert len(inner.main_index) == 51 and inner.main_index[0] == 17 and inner.part_index[0] == 0
    assert left.model.settings.windows_detect == (3, 5, 9)
    assert [s.scale for s in left.model.scales] == [1.0, 1.5]
    assert list(left.main_index) == [36, 37, 38, 39, 40, 41]
    assert list(left.part_index) == [8, 10, 12, 14, 16, 18]
    assert len(landmark_model.validator.views) == 7
    assert landmark_model.eye_parts == landmark_model.parts[1:]


def test_sigma_is_symmetric_positive_definite(landmark_model):
    view = landmark_model.main.scales[1].views[0]
    sigma = view.sigma(9)
    assert sigma.shape == (68, 81, 81) and sigma.dtype == np.float32
    assert view.sigma_t(9) is view.sigma_t(9)  # computed once
    np.testing.assert_allclose(sigma, sigma.transpose(0, 2, 1), atol=1e-6)
    assert np.all(np.linalg.eigvalsh(sigma[0].astype(np.float64)) > 0)
    # Eye experts have no edge potentials: Sigma = I / (2 sum(alpha)).
    eye = landmark_model.parts[1].model.scales[0].views[0].sigma(3)
    assert np.count_nonzero(eye[0] - np.diag(np.diag(eye[0]))) == 0


def test_missing_models(tmp_path):
    with pytest.raises(ModelsNotFoundError, match="main_clnf_general.txt not found"):
        load_landmark_model(tmp_path)


def test_model_pickles(landmark_model):
    # Worker processes may receive a loaded model.
    import pickle

    copy = pickle.loads(pickle.dumps(landmark_model))
    np.testing.assert_array_equal(copy.main.pdm.mean_shape, landmark_model.main.pdm.mean_shape)
    assert copy.parts[0].name == "inner"


def test_array_cache_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    inputs = (rng.random(3).astype(np.float32), rng.random((3, 2)).astype(np.float32))
    calls = []

    def compute():
        calls.append(1)
        return np.arange(12, dtype=np.float32).reshape(3, 4)

    expected = compute()
    calls.clear()
    first = _array_cache.cached_array("test", inputs, (3, 4), compute, tmp_path)
    again = _array_cache.cached_array("test", inputs, (3, 4), compute, tmp_path)
    assert len(calls) == 1 and len(list(tmp_path.glob("*.npy"))) == 1
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected)
    assert not again.flags.writeable and again.dtype == np.float32
    # Other inputs, another file; a file of the wrong shape is recomputed.
    other = (inputs[0] + 1, inputs[1])
    _array_cache.cached_array("test", other, (3, 4), compute, tmp_path)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.npy"))) == 2
    for path in tmp_path.glob("*.npy"):
        path.unlink()  # (mapped files stay valid for their readers)
        np.save(path, np.zeros((2, 2), np.float32))
    recomputed = _array_cache.cached_array("test", inputs, (3, 4), compute, tmp_path)
    np.testing.assert_array_equal(recomputed, expected)
    np.testing.assert_array_equal(first, expected)
    assert len(calls) == 3


def test_array_cache_survives_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    value = _array_cache.cached_array(
        "test", (np.zeros(1, np.float32),), (2,), lambda: np.ones(2, np.float32), blocker / "cache"
    )
    np.testing.assert_array_equal(value, [1, 1])
    assert not value.flags.writeable


def test_cached_sigma_equals_the_computed_one(landmark_model):
    view = landmark_model.main.scales[2].views[1]
    comps = view._components.components_for(7)
    betas = np.ascontiguousarray(view._betas[:, : comps.shape[0]], dtype=np.float32)
    expected = _ccnf_sigma(view._sum_alphas, betas, comps)
    np.testing.assert_array_equal(view.sigma(7), expected)
