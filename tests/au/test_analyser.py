"""AUAnalyser end to end from OpenFace's landmarks, against OpenFace's CSV, HOG and faces.

The inputs are the decoded frames (OpenFace's pixels) and OpenFace's own 2-D
landmarks; the AU stage's success flag is taken from the HOG file (non-zero
record), which is what OpenFace's FaceAnalyser was given.
"""

from __future__ import annotations

import numpy as np
import pytest

from openau.au import AUAnalyser, predict_image_aus
from openau.models import read_face_analyser

CLIPS = ("single_face", "video01", "of_default", "face_noface")


@pytest.fixture(scope="module")
def video_models(models_dir):
    return read_face_analyser(models_dir)


def _compare_aus(table, ref, clip):
    intensity = ref.columns(f"{au}_r" for au in table.intensity_names)
    presence = ref.columns(f"{au}_c" for au in table.presence_names)
    for j, au in enumerate(table.intensity_names):
        ours, theirs = table.intensity[:, j], intensity[:, j]
        mae = np.abs(ours - theirs).mean()
        # Targets: MAE <= 0.01 and Pearson r >= 0.999 per AU. Measured: MAE
        # below 1e-6 and max error 3e-6 on every clip (float64 vs OpenFace's
        # summation order), so a tighter bound guards against regressions.
        assert mae <= 0.01, f"{clip} {au}: MAE {mae:.2e}"
        assert np.abs(ours - theirs).max() <= 1e-4, f"{clip} {au}"
        if theirs.std() > 0:
            r = np.corrcoef(ours, theirs)[0, 1]
            assert r >= 0.999, f"{clip} {au}: r = {r:.5f}"
        else:
            np.testing.assert_array_equal(ours, theirs)
    agreement = (table.presence == presence).mean()
    assert agreement >= 0.995, f"{clip}: presence agreement {agreement:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("clip", CLIPS)
def test_video_matches_openface(clip, reference_clip, video_models):
    ref = reference_clip(clip)
    analyser = AUAnalyser(video_models)
    for index, image in enumerate(ref.frames()):
        ok = bool(ref.au_success[index])
        features = analyser.add_frame(image, ref.landmarks[index], ok)
        # Every frame's HOG end to end (target 1e-3 given the aligned face,
        # 5e-3 from landmarks; measured 1.8e-7: the aligned faces are identical).
        assert np.abs(features.hog - ref.hog[index]).max() <= 1e-5, f"{clip} frame {index + 1}"
        if index % 10 == 0:
            diff = np.abs(features.aligned_face.astype(int) - ref.aligned(index))
            assert diff.mean() <= 0.5, f"{clip} frame {index + 1}"
    assert analyser.n_frames == len(ref)
    table = analyser.finish()
    assert table.intensity.shape == (len(ref), 17) and table.presence.shape == (len(ref), 18)
    _compare_aus(table, ref, clip)
    assert analyser.finish() is table
    with pytest.raises(RuntimeError, match="finish"):
        analyser.add_frame(None, None, False)


def test_no_face_clip_is_all_zero(reference_clip, video_models):
    ref = reference_clip("no_face")
    assert not ref.au_success.any()
    analyser = AUAnalyser(video_models)
    for _ in range(len(ref)):
        features = analyser.add_frame(None, None, False)
    assert not features.aligned_face.any() and not features.hog.any()
    table = analyser.finish()
    _compare_aus(table, ref, "no_face")
    assert not table.intensity.any() and not table.presence.any()


@pytest.mark.parametrize(
    "folder, image", [("single_face_jpg", "single_face.jpg"), ("multi_face_jpg", "multi_face.jpg")]
)
def test_still_images_match_openface(folder, image, models_dir, media_dir, reference_dir):
    import pandas as pd

    from openau.video.decode import read_image

    models = read_face_analyser(models_dir, dynamic=False)
    table = pd.read_csv(reference_dir / folder / "openface_precise.csv")
    frame = read_image(media_dir / image)
    for row in range(len(table)):
        points = np.stack(
            [table[[f"{a}_{i}" for i in range(68)]].iloc[row].to_numpy(float) for a in "xy"],
            axis=1,
        ).astype(np.float32)
        result = predict_image_aus(frame, points, models)
        intensity = table[[f"{au}_r" for au in result.intensity_names]].iloc[row].to_numpy(float)
        presence = table[[f"{au}_c" for au in result.presence_names]].iloc[row].to_numpy(float)
        # Measured max difference 3e-6 (static models, no post-processing).
        np.testing.assert_allclose(result.intensity, intensity, atol=1e-4)
        np.testing.assert_array_equal(result.presence, presence)
