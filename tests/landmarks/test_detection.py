"""One detection from OpenFace's face box: fit, part refinement and validation.

OpenFace's first-frame landmarks are the result of exactly this computation
(eleven head-rotation hypotheses from the corrected MTCNN box), so they are
the tightest gold test of the fitting maths. Measured agreement on the five
clips: mean 0.00003-0.0015 px, max 0.007 px. The fit is sensitive to float32
rounding, though: it snaps mean-shift kernels to a 0.1-pixel grid and stops
after a fixed number of iterations, so a change in the last bit of a sum
(another summation order in the response kernel, or the geometry stage's
OpenCV-exact PDM fit instead of the numpy one) moved single clips' first
frames by up to 0.014 px mean (main) and 0.029 px mean (eyes), 0.05 px max,
in our experiments. The tolerances cover that, and nothing more.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openau.landmarks.detection import (
    ROTATION_HYPOTHESES,
    detect_from_box,
    detect_landmarks,
    initial_parts,
)
from openau.landmarks.fitting import fit_clnf, kde_table

MEAN_TOLERANCE_PX = 0.05
MAX_TOLERANCE_PX = 0.2


@pytest.mark.parametrize("clip", ["single_face", "video01", "of_default", "face_noface"])
def test_first_frame_matches_openface(landmark_model, gold, clip):
    table = gold.table(clip)
    gray = cv2.cvtColor(gold.frame0(clip), cv2.COLOR_BGR2GRAY)
    boxes = [box for box, _ in gold.boxes(clip)]
    widest = max(boxes, key=lambda b: b[2])
    det = detect_from_box(
        landmark_model, gray, widest, initial_parts(landmark_model), ROTATION_HYPOTHESES
    )
    error = np.linalg.norm(det.landmarks - gold.landmarks(table)[0], axis=1)
    assert error.mean() < MEAN_TOLERANCE_PX and error.max() < MAX_TOLERANCE_PX
    # The validator's confidence is quantised (30 bins): it must be the same bin.
    assert det.confidence == pytest.approx(table["confidence"][0], abs=1e-6)
    assert det.success
    eyes = np.concatenate([p.landmarks for p in det.parts[1:]])
    eye_error = np.linalg.norm(eyes - gold.landmarks(table, "eye_lmk_", 56)[0], axis=1)
    assert eye_error.mean() < MEAN_TOLERANCE_PX
    p_global = table[["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"]].to_numpy()[0]
    # Same sensitivity: 2e-4 rad of pitch measured on face_noface.
    np.testing.assert_allclose(det.params_global, p_global, rtol=1e-3, atol=1e-3)


def test_profile_face_picks_the_right_hypothesis(landmark_model, gold):
    # of_multi_face's tracked person is seen at ~65 degrees of yaw: only the
    # rotated starts converge, so the likelihood ranking is exercised.
    table = gold.table("of_multi_face")
    gray = cv2.cvtColor(gold.frame0("of_multi_face"), cv2.COLOR_BGR2GRAY)
    widest = max((box for box, _ in gold.boxes("of_multi_face")), key=lambda b: b[2])
    det = detect_from_box(
        landmark_model, gray, widest, initial_parts(landmark_model), ROTATION_HYPOTHESES
    )
    assert det.params_global[2] == pytest.approx(table["p_ry"][0], abs=1e-3)
    error = np.linalg.norm(det.landmarks - gold.landmarks(table)[0], axis=1)
    assert error.mean() < MEAN_TOLERANCE_PX


def test_tracking_step_from_previous_fit_stays_put(landmark_model, gold):
    gray = cv2.cvtColor(gold.frame0("single_face"), cv2.COLOR_BGR2GRAY)
    box = gold.boxes("single_face")[0][0]
    first = detect_from_box(landmark_model, gray, box, initial_parts(landmark_model))
    again = detect_landmarks(
        landmark_model,
        gray,
        first.params_global,
        first.params_local,
        landmark_model.main.settings.windows_track,
        first.parts,
    )
    assert again.success and again.likelihood is not None
    # Another pass from a converged fit moves the loosely held jaw points by
    # about a pixel (1.2 px measured) and the rest far less.
    moved = np.linalg.norm(again.landmarks - first.landmarks, axis=1)
    assert moved.max() < 2.0 and np.median(moved) < 0.1


def test_face_too_small_fails(landmark_model, gold):
    gray = cv2.cvtColor(gold.frame0("single_face"), cv2.COLOR_BGR2GRAY)
    main = landmark_model.main
    glob = np.array([0.2, 0, 0, 0, 300, 180], np.float32)
    result = fit_clnf(gray.astype(np.float32), main, glob, np.zeros(34, np.float32), (11, 9, 7))
    assert not result.success and result.params_global[0] < 0.25
    det = detect_landmarks(
        landmark_model, gray, glob, np.zeros(34, np.float32), (11, 9, 7),
        initial_parts(landmark_model),
    )  # fmt: skip
    assert not det.success and det.confidence == 0.0


def test_kde_table_is_a_gaussian_on_the_grid():
    a = float(np.float32(-0.5 / 1.5**2))
    table = kde_table(7, a)
    assert table.shape == (70 * 70, 49) and table.dtype == np.float32
    # Grid position (x = 3.0, y = 2.0) peaks at response pixel (row 2, column 3).
    row = table[30 * 70 + 20].reshape(7, 7)
    assert np.unravel_index(row.argmax(), row.shape) == (2, 3) and row.max() == 1.0
    assert row[2, 4] == pytest.approx(np.exp(a), rel=1e-6)
    assert not table.flags.writeable


def test_non_finite_start_fails_cleanly(landmark_model, gold):
    gray = cv2.cvtColor(gold.frame0("single_face"), cv2.COLOR_BGR2GRAY)
    glob = np.array([1.1, 0, 0, 0, np.nan, 180], np.float32)
    parts = initial_parts(landmark_model)
    det = detect_landmarks(landmark_model, gray, glob, np.zeros(34, np.float32), (11, 9, 7), parts)
    assert not det.success and not det.fitted and det.confidence == 0.0
    assert det.parts is parts


def test_blank_image_fails_without_error(landmark_model, gold):
    # Flat responses everywhere: the fit must just fail, as OpenFace's does.
    table = gold.table("single_face")
    glob = table[["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"]].to_numpy(np.float32)[0]
    local = table[[f"p_{i}" for i in range(34)]].to_numpy(np.float32)[0]
    for value in (0, 255):
        gray = np.full((360, 640), value, np.uint8)
        det = detect_landmarks(
            landmark_model, gray, glob, local, (11, 9, 7), initial_parts(landmark_model)
        )
        assert not det.success and det.confidence < 0.5
