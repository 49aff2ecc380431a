"""OpenFace's offline post-processing of a video's AU predictions (README, "AU post-processing")."""

from __future__ import annotations

import numpy as np

from openau.au import postprocess_intensity, postprocess_presence
from openau.au.postprocess import intensity_offsets


def test_offset_is_the_cutoff_quantile_of_successful_frames():
    raw = np.array([[5.0], [1.0], [3.0], [2.0], [4.0], [-9.0]])
    success = np.array([True, True, True, True, True, False])
    # Sorted successful values 1, 2, 3, 4, 5; floor(5 * 0.5) = 2 -> 3.
    np.testing.assert_array_equal(intensity_offsets(raw, success, np.array([0.5])), [3.0])
    np.testing.assert_array_equal(intensity_offsets(raw, success, np.array([np.nan])), [0.0])
    np.testing.assert_array_equal(intensity_offsets(raw, ~success & False, np.array([0.5])), [0.0])


def test_intensity_clip_zero_and_smooth():
    raw = np.array([[6.0], [2.0], [-1.0], [9.0], [3.0], [1.0]])
    success = np.array([True, True, True, False, True, True])
    out = postprocess_intensity(raw, success, np.array([np.nan]))[:, 0]
    clipped = np.array([5.0, 2.0, 0.0, 0.0, 3.0, 1.0])  # clipped to [0, 5], failed -> 0
    expected = clipped.copy()
    expected[1:-1] = (clipped[:-2] + clipped[1:-1] + clipped[2:]) / 3
    np.testing.assert_allclose(out, expected)
    assert out[0] == 5.0 and out[-1] == 1.0  # ends unsmoothed
    # The failed frame next to successful ones gets a non-zero value (face_noface frame 73).
    assert out[3] > 0


def test_intensity_offset_then_clip():
    raw = np.array([[1.0], [2.0], [3.0], [4.0]])
    out = postprocess_intensity(raw, np.ones(4, bool), np.array([0.25]))[:, 0]
    # offset = sorted[1] = 2: values -1, 0, 1, 2 -> 0, 0, 1, 2, then smoothed.
    np.testing.assert_allclose(out, [0.0, 1 / 3, 1.0, 2.0])


def test_presence_majority_of_seven():
    values = np.array([1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1], float)[:, None]
    out = postprocess_presence(values)[:, 0]
    np.testing.assert_array_equal(out[:3], values[:3, 0])
    np.testing.assert_array_equal(out[-3:], values[-3:, 0])
    for i in range(3, len(values) - 3):
        assert out[i] == (1.0 if values[i - 3 : i + 4].sum() >= 4 else 0.0)


def test_short_clips_are_left_alone():
    values = np.array([[1.0], [0.0], [1.0], [1.0], [0.0], [1.0]])
    np.testing.assert_array_equal(postprocess_presence(values), values)
    one = np.array([[2.5]])
    np.testing.assert_array_equal(postprocess_intensity(one, np.ones(1, bool), None), one)
    empty = np.zeros((0, 3))
    assert postprocess_intensity(empty, np.zeros(0, bool), None).shape == (0, 3)
