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
