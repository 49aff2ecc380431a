"""CCNF patch responses (the scale kernel with no NU-RLMS iterations) against a direct
numpy/OpenCV evaluation of the same formulas."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from openau.geometry import project, similarity_transform
from openau.landmarks.detection import detect_from_box, initial_parts
from openau.landmarks.fitting import fit_scale, view_index


def _oracle(gray, landmarks, ref_to_img, scale_experts, view, window):
    """OpenFace's ResponseOpenBlas, landmark by landmark, in float64 where possible."""
    expert = scale_experts.views[view]
    out = np.zeros((landmarks.shape[0], window, window))
    a1, b1 = ref_to_img[0, 0], -ref_to_img[0, 1]
    sigma = expert.sigma(window).astype(np.float64)
    for row, i in enumerate(expert.index):
        side = window + 10
        half = (side - 1) / 2
        mat = np.array(
            [
                [a1, -b1, landmarks[i, 0] - a1 * half + b1 * half],
                [b1, a1, landmarks[i, 1] - a1 * half - b1 * half],
            ],
            np.float32,
        )
        area = cv2.warpAffine(
            gray, mat, (side, side), flags=cv2.WARP_INVERSE_MAP + cv2.INTER_LINEAR
        )
        patches = sliding_window_view(area.astype(np.float64), (11, 11)).reshape(-1, 121)
        patches = patches - patches.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(patches, axis=1, keepdims=True)
        patches /= np.where(norm == 0, 1, norm)
        pre = patches @ expert.weights[row].astype(np.float64) + expert.biases[row]
        summed = (expert.alphas2[row] / (1 + np.exp(-pre))).sum(axis=1)
        smooth = sigma[row] @ summed
        out[i] = (smooth - min(smooth.min(), 0)).reshape(window, window)
    return out


def test_responses_match_direct_evaluation(landmark_model, gold):
    image = gold.frame0("single_face")
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    box = gold.boxes("single_face")[0][0]
    fit = detect_from_box(landmark_model, gray, box, initial_parts(landmark_model))
    main = landmark_model.main
    for level, window in ((1, 9), (2, 7)):
        experts = main.scales[level]
        view = view_index(experts.view_centres, fit.params_global)
        scale = fit_scale(
            gray.astype(np.float32), main, level, view, window, fit.params_global,
            fit.params_local, iterations=0,
        )  # fmt: skip
        ours, landmarks, ref_to_img = scale.responses, scale.landmarks, scale.ref_to_img
        # No iterations: the parameters stay, and the maps are centred on
        # their projection, in the experts' frame (scale only, no rotation).
        np.testing.assert_array_equal(scale.params_global, fit.params_global)
        np.testing.assert_allclose(
            landmarks, project(main.pdm, fit.params_global, fit.params_local), atol=1e-3
        )
        reference = project(
            main.pdm, np.array([experts.scale, 0, 0, 0, 0, 0], np.float32), fit.params_local
        )
        np.testing.assert_allclose(
            ref_to_img, np.linalg.inv(similarity_transform(landmarks, reference)), rtol=1e-5
        )
        expected = _oracle(gray.astype(np.float32), landmarks, ref_to_img, experts, view, window)
        assert ours.shape == (68, window, window) and ours.dtype == np.float32
        assert np.all(ours >= 0)
        # float32 against float64 arithmetic: relative to each map's peak.
        peak = expected.max(axis=(1, 2), keepdims=True)
        assert np.max(np.abs(ours - expected) / peak) < 1e-4


def test_invisible_landmarks_get_no_response(landmark_model, gold):
    gray = cv2.cvtColor(gold.frame0("single_face"), cv2.COLOR_BGR2GRAY).astype(np.float32)
    main = landmark_model.main
    experts = main.scales[2]
    profile = 3  # yaw -70 degrees: 33 landmarks hidden
    glob = np.array([1.1, 0, -1.2, 0, 300, 200], np.float32)
    local = np.zeros(main.pdm.n_modes, np.float32)
    assert view_index(experts.view_centres, glob) == profile
    maps = fit_scale(gray, main, 2, profile, 7, glob, local, iterations=0).responses
    hidden = ~experts.views[profile].visible
    assert hidden.sum() == 33
    assert not np.any(maps[hidden]) and np.all(maps[~hidden].max(axis=(1, 2)) > 0)
