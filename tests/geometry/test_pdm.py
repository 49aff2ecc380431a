"""PDM maths: projection, Jacobian by finite differences, box and landmark fits."""

from __future__ import annotations

import numpy as np
import pytest

from openau.geometry import (
    bounding_box,
    clamp_local,
    fit_to_landmarks,
    jacobian,
    params_from_box,
    project,
    shape_3d,
    similarity_transform,
    update_params,
)
from openau.models import read_pdm


@pytest.fixture
def params(pdm):
    rng = np.random.default_rng(3)
    glob = np.array([0.9, 0.1, -0.2, 0.05, 320, 240], np.float32)
    local = (rng.standard_normal(pdm.n_modes) * np.sqrt(pdm.eigenvalues) * 0.5).astype(np.float32)
    return glob, local


def test_mean_shape_projection(pdm):
    glob = np.array([2, 0, 0, 0, 10, 20], np.float32)
    pts = project(pdm, glob, np.zeros(pdm.n_modes, np.float32))
    np.testing.assert_allclose(pts, 2 * pdm.mean_shape[:, :2] + [10, 20], rtol=1e-6)
    assert pts.dtype == np.float32 and shape_3d(pdm, np.zeros(34)).shape == (68, 3)


def test_jacobian_matches_finite_differences(pdm, params):
    glob, local = params
    jac = jacobian(pdm, glob, local).astype(np.float64)
    # float32 coordinates near 300 px carry ~3e-5 px of rounding, so the step
    # must be large enough for the difference quotient to rise above it.
    eps = 1e-2
    base = project(pdm, glob, local).astype(np.float64)
    for k in range(6 + pdm.n_modes):
        step = np.zeros(6 + pdm.n_modes, np.float32)
        step[k] = eps
        g2, l2 = update_params(glob, local, step)
        numeric = (project(pdm, g2, l2).astype(np.float64) - base) / eps
        scale = np.abs(jac[:, :, k]).max() + 1e-6
        assert np.abs(numeric - jac[:, :, k]).max() / scale < 0.03, f"parameter {k}"


def test_update_params_does_not_modify_inputs(pdm, params):
    glob, local = params
    g0, l0 = glob.copy(), local.copy()
    update_params(glob, local, np.ones(6 + pdm.n_modes, np.float32) * 0.01)
    np.testing.assert_array_equal(glob, g0)
    np.testing.assert_array_equal(local, l0)


def test_params_from_box_fills_box(pdm):
    box = (100.0, 50.0, 200.0, 180.0)
    glob = params_from_box(pdm, box)
    x, y, w, h = bounding_box(pdm, glob, np.zeros(pdm.n_modes, np.float32))
    assert (x + w / 2, y + h / 2) == pytest.approx((200.0, 140.0), abs=1e-3)
    # One scale serves both axes (the mean of the two ratios), so the box is
    # matched in one dimension from above and in the other from below.
    assert min(w / 200, h / 180) <= 1.0 <= max(w / 200, h / 180)


def test_clamp_local(pdm):
    big = np.full(pdm.n_modes, 1e6, np.float32)
    np.testing.assert_allclose(clamp_local(pdm, big), 3 * np.sqrt(pdm.eigenvalues), rtol=1e-6)


def test_fit_recovers_a_projected_shape(pdm, params):
    glob, local = params
    landmarks = project(pdm, glob, local)
    g, l = fit_to_landmarks(pdm, landmarks)
    # The fit is regularised towards the mean shape, so it does not reproduce the
    # shape exactly; the residual stays well under a pixel at this face size.
    assert np.abs(project(pdm, g, l) - landmarks).max() < 0.5
    # The prior pulls the shape (and with it the scale) slightly towards the mean.
    np.testing.assert_allclose(g[[0, 4, 5]], glob[[0, 4, 5]], rtol=5e-3)
    np.testing.assert_allclose(g[1:4], glob[1:4], atol=0.02)


def test_fit_ignores_invisible_landmarks(pdm, params):
    glob, local = params
    landmarks = project(pdm, glob, local)
    hidden = landmarks.copy()
    hidden[:8] = 0.0
    g, l = fit_to_landmarks(pdm, hidden)
    assert np.abs(project(pdm, g, l)[8:] - landmarks[8:]).max() < 1.0


def test_similarity_transform_recovers_scale_rotation():
    rng = np.random.default_rng(4)
    src = rng.normal(size=(20, 2)).astype(np.float32)
    angle = 0.4
    a = 1.7 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ a.T + [5, -3]
    np.testing.assert_allclose(similarity_transform(src, dst), a, atol=1e-5)


def test_fit_translation_and_refinement_match_openface(models_dir, reference_clip):
    """CalcParams' translation equals the CSV's; the refinement recovers the CSV's parameters.

    The CSV's landmarks are the projection of the tracker's parameters; the
    regularised fit (what the AU stage uses) keeps their translation exactly
    but not their shape, the unregularised refinement recovers both.
    """
    from openau.geometry import refine_to_landmarks

    pdm = read_pdm(models_dir / "AU_predictors/In-the-wild_aligned_PDM_68.txt")
    ref = reference_clip("video01")
    names_g = ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"]
    glob_csv = ref.columns(names_g).astype(np.float32)
    local_csv = ref.columns(f"p_{i}" for i in range(34)).astype(np.float32)
    for row in range(0, len(ref), 15):
        glob, local = fit_to_landmarks(pdm, ref.landmarks[row])
        np.testing.assert_array_equal(glob[4:], glob_csv[row, 4:])
        glob2, local2 = refine_to_landmarks(pdm, ref.landmarks[row], glob, local)
        # Target 1e-3 relative. Measured: global 2e-6 relative, local within
        # 4.4e-4 absolute (the parameters' own float32 rounding through the
        # landmarks' rounding); the p_i are O(1-30).
        np.testing.assert_allclose(glob2, glob_csv[row], rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(local2, local_csv[row], atol=2e-3)
        assert np.abs(project(pdm, glob2, local2) - ref.landmarks[row]).max() < 1e-3
