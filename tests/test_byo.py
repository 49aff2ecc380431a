"""Bring your own landmarks: OpenFace's columns from a video and its landmark table."""

from __future__ import annotations

import numpy as np
import pytest

from openau.byo import extract_with_landmarks
from openau.errors import InputError
from openau.output.columns import (
    PARAMS_GLOBAL,
    POSE,
    au_columns,
    landmark_2d_columns,
    landmark_3d_columns,
    params_local_columns,
)


@pytest.mark.slow
@pytest.mark.parametrize("clip", ["single_face", "face_noface"])
def test_matches_openface_csv(clip, reference_clip, models_dir):
    ref = reference_clip(clip)
    out = extract_with_landmarks(ref.video, ref.folder / "openface_precise.csv", models_dir)
    assert len(out) == len(ref)
    assert list(out.columns[:5]) == ["frame", "face_id", "timestamp", "confidence", "success"]
    # The 2-D landmarks are the table's, as float32 (OpenFace's type).
    np.testing.assert_allclose(
        out[list(landmark_2d_columns())].to_numpy(), ref.columns(landmark_2d_columns()), rtol=1e-7
    )
    # Rows with landmarks (all of them here; face_noface's failed frames carry
    # the tracker's last estimate, some at extreme pitch).
    rows = (ref.landmarks[:, :, 0] != 0).any(axis=1)
    assert rows.all()
    # Targets: PDM parameters and pose within 1e-3 relative, 3-D landmarks
    # within 0.05 mm. Measured: global parameters 2e-6 relative, p_i within
    # 4.4e-4 (values up to ~40), pose translation 1e-6 relative, rotation
    # 2e-6 rad, 3-D landmarks 6e-4 mm.
    glob = out[list(PARAMS_GLOBAL)].to_numpy()
    np.testing.assert_allclose(glob, ref.columns(PARAMS_GLOBAL), rtol=1e-4, atol=1e-5)
    local = out[list(params_local_columns())].to_numpy()
    theirs = ref.columns(params_local_columns())
    assert np.all(np.abs(local - theirs) <= 1e-3 * np.maximum(np.abs(theirs), 1.0))
    pose = out[list(POSE)].to_numpy()
    np.testing.assert_allclose(pose[:, :3], ref.columns(POSE[:3]), rtol=1e-4)
    np.testing.assert_allclose(pose[:, 3:], ref.columns(POSE[3:]), atol=1e-4)
    xyz = out[list(landmark_3d_columns())].to_numpy()
    assert np.abs(xyz - ref.columns(landmark_3d_columns())).max() <= 0.01
    # AUs: measured within 3e-6 of OpenFace's.
    aus = list(au_columns())
    assert np.abs(out[aus].to_numpy() - ref.columns(aus)).max() <= 1e-4


def test_degenerate_rows_and_generic_landmarks(reference_clip, models_dir):
    """Rows without landmarks get NaN; landmarks that are no PDM projection still fit."""
    ref = reference_clip("single_face")
    table = ref.table.copy()
    xs, ys = landmark_2d_columns()[:68], landmark_2d_columns()[68:]
    table.loc[5, list(xs) + list(ys)] = 0.0
    table.loc[5, "success"] = 0
    rng = np.random.default_rng(0)
    noisy = table.loc[:, list(xs)].to_numpy() + rng.normal(0, 1.5, (len(table), 68))
    noisy[5] = 0.0
    table.loc[:, list(xs)] = noisy
    out = extract_with_landmarks(ref.video, table, models_dir)
    assert out.loc[5, list(POSE) + list(PARAMS_GLOBAL)].isna().all()
    others = out.drop(index=5)
    assert np.isfinite(others[list(POSE) + list(PARAMS_GLOBAL)].to_numpy()).all()
    np.testing.assert_allclose(others["pose_Tz"], ref.table["pose_Tz"].drop(index=5), rtol=0.05)


def test_table_and_video_must_agree(reference_clip, models_dir):
    ref = reference_clip("single_face")
    with pytest.raises(InputError, match="more frames than the table's 10 rows"):
        extract_with_landmarks(ref.video, ref.table.iloc[:10], models_dir)
    longer = ref.table.iloc[list(range(len(ref))) + [0]].reset_index(drop=True)
    longer["frame"] = np.arange(1, len(longer) + 1)
    with pytest.raises(InputError, match=f"has {len(ref) + 1} rows but the video {len(ref)} frames"):
        extract_with_landmarks(ref.video, longer, models_dir)
