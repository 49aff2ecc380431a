"""Pose and 3-D landmarks as FeatureExtraction writes them, from the CSV's own parameters."""

from __future__ import annotations

import numpy as np
import pytest

from openau.geometry import CameraIntrinsics, head_pose, landmarks_3d
from openau.models import read_pdm
from openau.output.columns import PARAMS_GLOBAL, POSE, landmark_3d_columns, params_local_columns

CLIPS = {
    "single_face": (640, 360),
    "video01": (480, 360),
    "of_default": (640, 480),
    "face_noface": (960, 540),
}


@pytest.fixture(scope="module")
def pdm(models_dir):
    return read_pdm(models_dir / "AU_predictors/In-the-wild_aligned_PDM_68.txt")


def test_default_intrinsics_match_of_details():
    # single_face's of_details.txt: "Camera parameters:437.5,437.5,320,180".
    cam = CameraIntrinsics.default(640, 360)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (437.5, 437.5, 320.0, 180.0)
    assert CameraIntrinsics.default(640, 480).fx == 500.0


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_pose_and_3d_landmarks(clip, pdm, reference_clip):
    ref = reference_clip(clip)
    camera = CameraIntrinsics.default(*CLIPS[clip])
    glob = ref.columns(PARAMS_GLOBAL).astype(np.float32)
    local = ref.columns(params_local_columns()).astype(np.float32)
    pose = ref.columns(POSE)
    points = ref.columns(landmark_3d_columns()).reshape(-1, 3, 68).transpose(0, 2, 1)
    # Rows before the first detection hold a degenerate state (zero landmarks).
    rows = np.flatnonzero((ref.landmarks[:, :, 0] != 0).any(axis=1))
    for row in rows:
        ours = head_pose(pdm, glob[row], local[row], ref.landmarks[row], camera)
        # Target 1e-3 relative. Measured 3e-7 (translation) and 2e-6 rad:
        # the same OpenCV solvePnP from the same start.
        np.testing.assert_allclose(ours[:3], pose[row, :3], rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(ours[3:], pose[row, 3:], atol=1e-4)
        xyz = landmarks_3d(pdm, glob[row], local[row], ref.landmarks[row], camera)
        # Target 0.05 mm; measured 6e-5 mm.
        assert np.abs(xyz - points[row]).max() <= 1e-3


def test_zero_scale_gives_zero_pose(pdm):
    camera = CameraIntrinsics.default(640, 480)
    pose = head_pose(pdm, np.zeros(6), np.zeros(34), pdm.mean_shape[:, :2], camera)
    assert not pose.any()
