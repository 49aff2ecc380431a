"""Box logic: compiled kernels against plain references, and OpenFace's arithmetic by hand."""

from __future__ import annotations

import numpy as np
import pytest

from openau.detect import (
    FaceBoxes,
    MTCNNParams,
    apply_regression,
    correct_for_landmarks,
    crop_patches,
    non_maximum_suppression,
    pick_video_face,
    pnet_proposals,
    pyramid_scales,
    square_boxes,
)
from openau.detect._cascade import as_frames, normalise
from openau.errors import InputError

F32 = np.float32


def _cv_rect(box):
    return [int(np.rint(v)) for v in box]


def _nms_reference(boxes, scores, threshold, mode):
    """OpenFace's NMS written out: a multimap popped from the back, cv::Rect overlaps."""
    items = sorted(range(len(scores)), key=lambda i: (scores[i], i))  # multimap order
    rects = [_cv_rect(b) for b in boxes]
    keep = []
    while items:
        current = items.pop()
        keep.append(current)
        x1, y1, w1, h1 = rects[current]
        survivors = []
        for j in items:
            x2, y2, w2, h2 = rects[j]
            if min(w1, h1, w2, h2) <= 0:
                inter = 0
            else:
                iw = min(x1 + w1, x2 + w2) - max(x1, x2)
                ih = min(y1 + h1, y2 + h2) - max(y1, y2)
                inter = iw * ih if iw > 0 and ih > 0 else 0
            a1, a2 = w1 * h1, w2 * h2
            denom = min(a1, a2) if mode == "min" else a1 + a2 - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                overlap = F32(inter) / F32(denom)
            if not overlap > F32(threshold):
                survivors.append(j)
        items = survivors
    return np.array(keep, dtype=np.int64)


@pytest.mark.parametrize("mode", ["union", "min"])
@pytest.mark.parametrize("seed", range(6))
def test_nms_matches_reference(mode, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    xy = rng.uniform(-20, 200, (n, 2))
    wh = rng.uniform(0, 80, (n, 2))
    wh[rng.random(n) < 0.05] = 0  # a few empty boxes
    boxes = np.concatenate([xy, wh], axis=1).astype(F32)
    boxes[: n // 3] = np.round(boxes[: n // 3] * 2) / 2  # halves: round-half-to-even matters
    scores = rng.choice(np.linspace(0.6, 1.0, 7), n).astype(F32)  # many ties
    threshold = 0.7 if mode == "min" else float(rng.choice([0.5, 0.7]))
    got = non_maximum_suppression(boxes, scores, threshold, mode)
    np.testing.assert_array_equal(got, _nms_reference(boxes, scores, threshold, mode))


def test_nms_tie_order_and_empty():
    boxes = np.array([[0, 0, 10, 10], [100, 0, 10, 10], [200, 0, 10, 10]], F32)
    scores = np.array([0.9, 0.9, 0.95], F32)
    # Highest first; equal scores: later index first (std::multimap from the back).
    np.testing.assert_array_equal(non_maximum_suppression(boxes, scores, 0.5), [2, 1, 0])
    assert non_maximum_suppression(np.zeros((0, 4), F32), np.zeros(0, F32), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="mode"):
        non_maximum_suppression(boxes, scores, 0.5, "iou")


def _proposals_reference(maps, scale, threshold):
    prob = (F32(1) / (F32(1) + np.exp((maps[0] - maps[1]).astype(F32)))).astype(F32)
    xs, ys = np.nonzero(prob.T >= F32(threshold))  # column by column
    s = F32(scale)
    x1 = np.trunc((2 * xs + 1).astype(F32) / s)
    y1 = np.trunc((2 * ys + 1).astype(F32) / s)
    x2 = np.trunc((2 * xs + 12).astype(F32) / s)
    y2 = np.trunc((2 * ys + 12).astype(F32) / s)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(F32)
    return boxes, prob[ys, xs], maps[2:6, ys, xs].T


@pytest.mark.parametrize("scale", [0.2, 0.1418, 0.0254])
def test_pnet_proposals_match_reference(scale):
    maps = np.random.default_rng(5).normal(0, 1.5, (6, 31, 45)).astype(F32)
    boxes, scores, offsets = pnet_proposals(maps, scale, 0.6)
    ref_boxes, ref_scores, ref_offsets = _proposals_reference(maps, scale, 0.6)
    np.testing.assert_array_equal(boxes, ref_boxes)
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-6)  # exp may differ by an ulp
    np.testing.assert_array_equal(offsets, ref_offsets)
    assert len(scores) > 50


@pytest.mark.parametrize("threshold", [0.6, 0.3, 0.95, 0.005])
def test_logit_screen_changes_no_cell(threshold):
    """Skipping exp for cells far above the cut keeps every cell and its score."""
    from openau.detect._boxes import PNET_CELL, PNET_STRIDE, logit_screen
    from openau.detect._kernels import pnet_cells

    rng = np.random.default_rng(11)
    maps = rng.normal(0, 3, (6, 40, 50)).astype(F32)
    # Put many cells within a few ulps of the exact cut log(1/t - 1).
    cut = np.log(1 / threshold - 1)
    near = rng.random((40, 50)) < 0.3
    maps[1][near] = (maps[0][near] - F32(cut) + rng.normal(0, 1e-6, near.sum())).astype(F32)
    args = (maps, F32(0.2), F32(threshold), PNET_STRIDE, PNET_CELL)
    full = pnet_cells(*args, np.inf)
    screened = pnet_cells(*args, logit_screen(threshold))
    for a, b in zip(full, screened, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(full[1]) > 0


@pytest.mark.parametrize("scale", [0.2, 0.0713, 0.0254])
def test_level_proposals_are_proposals_then_nms(scale):
    from openau.detect._boxes import pnet_level_proposals

    maps = np.random.default_rng(6).normal(0, 1.5, (6, 37, 52)).astype(F32)
    boxes, scores, offsets = pnet_proposals(maps, scale, 0.6)
    keep = non_maximum_suppression(boxes, scores, 0.5, "union")
    got = pnet_level_proposals(maps, scale, 0.6, 0.5)
    for a, b in zip(got, (boxes[keep], scores[keep], offsets[keep]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert 0 < len(keep) < len(scores)
    empty = pnet_level_proposals(np.full((6, 5, 5), -1, F32) * np.array([-1, 1, 0, 0, 0, 0], F32)[:, None, None], scale, 0.6, 0.5)
    assert [a.shape[0] for a in empty] == [0, 0, 0]


def test_apply_regression_by_hand():
    boxes = np.array([[10.4, 20.6, 30, 40]], F32)  # rounded to [10, 21, 30, 40] first
    offsets = np.array([[0.1, -0.1, 0.2, 0.05]], F32)
    np.testing.assert_allclose(apply_regression(boxes, offsets, add_one=False), [[13, 17, 33, 46]], atol=1e-5)
    # O-Net: size + 1 -> 31 x 41
    np.testing.assert_allclose(
        apply_regression(boxes, offsets, add_one=True), [[13.1, 16.9, 34.1, 47.15]], atol=1e-5
    )


def test_square_boxes_truncate_towards_zero():
    boxes = np.array([[10, 20, 30, 40], [-3.2, 0, 10, 11], [-3.5, 0, 10, 11], [5, 5, 20.7, 3]], F32)
    expected = [[5, 20, 40, 40], [-3, 0, 11, 11], [-4, 0, 11, 11], [5, -3, 20, 20]]
    np.testing.assert_array_equal(square_boxes(boxes), expected)


def test_correction_reproduces_reference_columns(reference_cases):
    for case in reference_cases:
        corrected = correct_for_landmarks(case.boxes.astype(F32))
        # The CSV's 9 significant digits round-trip float32, so this is exact.
        np.testing.assert_array_equal(corrected, case.corrected.astype(F32), err_msg=case.name)


def test_pick_video_face(reference_cases):
    widths = FaceBoxes(np.zeros((3, 4), F32), np.ones(3, F32), np.array([[0, 0, 50, 1], [0, 0, 80, 1], [0, 0, 80, 1]], F32))
    assert pick_video_face(widths) == 1  # ties: the first
    assert pick_video_face(FaceBoxes.empty()) is None
    for case in reference_cases:
        faces = FaceBoxes(case.boxes.astype(F32), case.confidences.astype(F32), case.corrected.astype(F32))
        expected = int(np.argmax(case.video_pick)) if len(faces) else None
        assert pick_video_face(faces) == expected, case.name


def test_pyramid():
    levels = pyramid_scales(480, 640, MTCNNParams())
    assert [(h, w) for _, h, w in levels] == [(96, 128), (69, 91), (49, 65), (35, 46), (25, 33), (18, 23), (13, 17)]
    assert levels[1][0] == pytest.approx(0.2 * 0.709)
    assert len(pyramid_scales(720, 1280, MTCNNParams())) == 8
    assert len(pyramid_scales(60, 80, MTCNNParams())) == 1  # the frame is the smallest face
    assert pyramid_scales(50, 100, MTCNNParams()) == []  # smaller than the minimum face
    assert len(pyramid_scales(480, 640, MTCNNParams(min_face_size=30))) == 9


def _crop_like_openface(image, box, size):
    """OpenFace's index arithmetic for a candidate patch, spelled out."""
    import cv2

    x, y, w, h = (int(v) for v in box)
    H, W = image.shape[:2]
    wt, ht = w + 1, h + 1
    sx_in, sy_in = max(x - 1, 0), max(y - 1, 0)
    ex_in, ey_in = min(x + wt - 1, W), min(y + ht - 1, H)
    sx_out, sy_out = max(-x + 1, 0), max(-y + 1, 0)
    ex_out, ey_out = min(wt - (x + w - W), wt), min(ht - (y + h - H), ht)
    tmp = np.zeros((ht, wt, 3), F32)
    tmp[sy_out:ey_out, sx_out:ex_out] = image[sy_in:ey_in, sx_in:ex_in]
    return cv2.resize(tmp, (size, size))


def test_crop_patches_follow_openface_indices():
    image = np.random.default_rng(2).uniform(0, 255, (60, 80, 3)).astype(F32)
    boxes = np.array([[10, 12, 30, 30], [0, 0, 20, 20], [-5, -7, 25, 25], [70, 50, 20, 20], [-3, 40, 90, 90]], F32)
    # Boxes past the frame share one scratch patch: larger then smaller ones
    # must not see each other's pixels.
    boxes = np.concatenate([boxes, boxes[::-1]])
    for size in (24, 48):
        patches = crop_patches(image, boxes, size)
        for box, patch in zip(boxes, patches, strict=True):
            np.testing.assert_array_equal(patch, _crop_like_openface(image, box, size))
    # Entirely outside, or degenerate: all-zero patches.
    empty = np.array([[-40, -40, 20, 20], [100, 0, 10, 10], [5, 5, -1, -1], [-9, 3, -2, 4]], F32)
    patches = crop_patches(image, np.concatenate([boxes[-1:], empty]), 24)
    assert patches.shape == (5, 24, 24, 3) and patches[0].any() and not patches[1:].any()


def test_normalise_flips_to_rgb():
    bgr = np.zeros((1, 2, 2, 3), F32)
    bgr[..., 0], bgr[..., 2] = 255, 0  # blue
    out = normalise(bgr)
    assert out.shape == (1, 3, 2, 2)
    np.testing.assert_array_equal(out[0, 2], (255 - 127.5) / 128)  # blue is the last plane
    np.testing.assert_array_equal(out[0, 0], -127.5 / 128)
    # The compiled pass equals numpy's float32 expression, value for value.
    images = np.random.default_rng(3).uniform(0, 255, (3, 7, 9, 3)).astype(F32)
    expected = (images.transpose(0, 3, 1, 2)[:, ::-1] - F32(127.5)) * F32(0.0078125)
    np.testing.assert_array_equal(normalise(images), expected)


def test_frame_checks():
    frame = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(InputError, match="wrap a single frame in a list"):
        as_frames(frame)
    with pytest.raises(InputError, match="frame 0: expected uint8"):
        as_frames([frame.astype(F32)])
    with pytest.raises(InputError, match=r"frame 1: expected an \(H, W, 3\)"):
        as_frames([frame, np.zeros((4, 5, 4), np.uint8)])
    grey = as_frames([np.full((4, 5), 7, np.uint8)])[0]
    assert grey.shape == (4, 5, 3) and np.all(grey == 7)
    assert len(as_frames(np.zeros((2, 4, 5, 3), np.uint8))) == 2


@pytest.mark.parametrize(
    "kwargs", [{"min_face_size": 0}, {"thresholds": (0.6, 0.7)}, {"thresholds": (0.6, 1.5, 0.7)}, {"pyramid_factor": 1.2}]
)
def test_params_are_checked(kwargs):
    with pytest.raises(InputError):
        MTCNNParams(**kwargs)


def test_face_probability_rounds_like_openface():
    import math

    from openau.detect._boxes import face_probability

    logits = np.random.default_rng(4).normal(0, 6, (2, 200)).astype(F32)
    got = face_probability(logits)
    for l0, l1, p in zip(logits[0], logits[1], got, strict=True):
        e = F32(math.exp(float(F32(l0 - l1))))  # expf, correctly rounded
        assert p == F32(1.0 / (1.0 + float(e)))
    assert got.dtype == F32 and face_probability(np.array([[-40.0], [40.0]], F32))[0] == 1.0


# cv2.resize (through Intel IPP in the pip wheels) and the compiled bilinear
# pass round differently; measured at most 6e-3 grey levels on crops and
# pyramid levels of the reference frames. In normalised units (1/128 per grey
# level) a 0.02-level bound catches any wrong tap or weight.
RESAMPLE_ATOL = 0.02 / 128


def test_crop_inputs_match_cv2_crops():
    from openau.detect._cascade import crop_inputs

    image = np.random.default_rng(8).integers(0, 256, (60, 80, 3)).astype(np.uint8)
    boxes = np.array(
        [[10, 12, 30, 30], [0, 0, 20, 20], [-5, -7, 25, 25], [70, 50, 20, 20], [-3, 40, 90, 90], [30, 30, 5, 5]], F32
    )
    for size in (24, 48):
        expected = normalise(crop_patches(image.astype(F32), boxes, size))
        got = crop_inputs(image, boxes, size)
        assert got.shape == (len(boxes), 3, size, size) and got.dtype == F32
        np.testing.assert_allclose(got, expected, rtol=0, atol=RESAMPLE_ATOL)
    degenerate = crop_inputs(image, np.array([[5, 5, -1, -1], [-9, 3, -2, 4]], F32), 24)
    np.testing.assert_array_equal(degenerate, F32(-127.5) * F32(0.0078125))


@pytest.mark.parametrize(("height", "width"), [(480, 640), (37, 53), (20, 10), (13, 12)])
def test_pyramid_levels_match_cv2_resize(height, width):
    import cv2

    from openau.detect._kernels import resample_window

    image = np.random.default_rng(9).integers(0, 256, (height, width, 3)).astype(np.uint8)
    for _, h, w in pyramid_scales(height, width, MTCNNParams(min_face_size=12)) + [(1.0, 2 * height, width + 3)]:
        out = np.empty((3, h, w), F32)
        resample_window(image, 0, 0, width, height, out, F32(127.5), F32(0.0078125))
        expected = normalise(cv2.resize(image.astype(F32), (w, h), interpolation=cv2.INTER_LINEAR)[None])[0]
        np.testing.assert_allclose(out, expected, rtol=0, atol=RESAMPLE_ATOL)
