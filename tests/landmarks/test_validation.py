"""The CNN landmark validator: confidence bins, view choice, degenerate inputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openau.landmarks.validation import validate_landmarks, validator_view

# The validator's 30 output bins give confidences (2 k + 1) / 60.
BINS = (2 * np.arange(30) + 1) / 60


def test_openface_landmarks_get_openface_confidence(landmark_model, gold):
    # Validating OpenFace's own frame-1 landmarks must give its confidence.
    for clip in ("single_face", "video01", "of_default"):
        table = gold.table(clip)
        gray = cv2.cvtColor(gold.frame0(clip), cv2.COLOR_BGR2GRAY)
        landmarks = gold.landmarks(table)[0]
        pose = table[["p_rx", "p_ry", "p_rz"]].to_numpy()[0]
        confidence = validate_landmarks(landmark_model.validator, gray, landmarks, pose)
        assert confidence == pytest.approx(table["confidence"][0], abs=1e-6)


def test_misplaced_landmarks_are_rejected(landmark_model, gold):
    table = gold.table("single_face")
    gray = cv2.cvtColor(gold.frame0("single_face"), cv2.COLOR_BGR2GRAY)
    shifted = gold.landmarks(table)[0] + np.array([0, 120], np.float32)
    confidence = validate_landmarks(landmark_model.validator, gray, shifted, (0, 0, 0))
    assert confidence < landmark_model.validation_boundary
    assert np.min(np.abs(BINS - confidence)) < 1e-6


def test_landmarks_outside_the_image(landmark_model):
    gray = np.zeros((100, 100), np.uint8)
    landmarks = np.full((68, 2), 500.0, np.float32)
    assert validate_landmarks(landmark_model.validator, gray, landmarks, (0, 0, 0)) == 0.0


def test_view_follows_head_yaw(landmark_model):
    validator = landmark_model.validator
    assert validator_view(validator, (0, 0, 0)) == 0
    assert validator_view(validator, (0, np.deg2rad(-50), 0)) == 2
    assert validator_view(validator, (0, np.deg2rad(80), 0)) == 6


def test_non_finite_landmarks(landmark_model):
    gray = np.zeros((100, 100), np.uint8)
    landmarks = np.full((68, 2), np.nan, np.float32)
    assert validate_landmarks(landmark_model.validator, gray, landmarks, (0, 0, 0)) == 0.0


def test_onnx_runtime_cnn_matches_the_numpy_forward_pass(landmark_model, gold, tmp_path):
    # The frames' CNN runs in ONNX Runtime; the numpy pass is its reference.
    # Summation orders differ, so outputs agree to float rounding (measured:
    # <= 3e-7 of the largest output on random inputs; no bin changed on 277
    # frames of the four clips) and the winning bin -- all the validator
    # reports -- is the same.
    from openau.landmarks import _validator_onnx
    from openau.landmarks.validation import _normalised_input, cnn_score, paw_warp

    validator = landmark_model.validator
    table = gold.table("single_face")
    gray = cv2.cvtColor(gold.frame0("single_face"), cv2.COLOR_BGR2GRAY).astype(np.float32)
    landmarks = gold.landmarks(table)[0]
    rng = np.random.default_rng(7)
    for index, view in enumerate(validator.views):
        # A graph built into an empty folder, then read back from it.
        assert _validator_onnx.graph_bytes(view, tmp_path) == _validator_onnx.graph_bytes(
            view, tmp_path
        )
        inputs = [_normalised_input(paw_warp(gray, landmarks, view.warp), view)]
        inputs += [rng.standard_normal(view.warp.mask.shape).astype(np.float32) for _ in range(3)]
        for image in inputs:
            scores = _validator_onnx.scores(image, view)
            assert scores.shape == (30,)
            centre = -1 + 1 / 30 + int(np.argmax(scores)) * 2 / 30
            assert centre == pytest.approx(cnn_score(image, view), abs=1e-12), index
    assert len(list(tmp_path.glob("validator-*.onnx"))) == len(validator.views)
