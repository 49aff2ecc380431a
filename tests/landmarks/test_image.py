"""Still images: every detected face, FaceLandmarkImg's settings.

Measured against OpenFace's image outputs: mean 0.0001-0.003 px, max 0.022 px
(multi_face's face 1); the tolerances allow float32 summation order only.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openau.landmarks import detect_image_landmarks

MEAN_TOLERANCE_PX = 0.01
MAX_TOLERANCE_PX = 0.05


@pytest.mark.parametrize(
    "name, image, faces",
    [("single_face_jpg", "single_face.jpg", 1), ("multi_face_jpg", "multi_face.jpg", 5)],
)
def test_images_match_openface(landmark_model, gold, replay, media_dir, name, image, faces):
    picture = cv2.imread(str(media_dir / image))
    detector = replay(gold.boxes(name, "mtcnn.csv"))
    results = detect_image_landmarks(picture, landmark_model, detector)
    table = gold.table(name)
    assert len(results) == len(table) == faces and detector.calls == 1
    reference = gold.landmarks(table)
    eyes = gold.landmarks(table, "eye_lmk_", 56)
    for i, result in enumerate(results):
        error = np.linalg.norm(result.landmarks - reference[i], axis=1)
        assert error.mean() < MEAN_TOLERANCE_PX and error.max() < MAX_TOLERANCE_PX
        assert np.linalg.norm(result.eye_landmarks - eyes[i], axis=1).mean() < MEAN_TOLERANCE_PX
        assert result.confidence == pytest.approx(table["confidence"][i], abs=1e-6)
        assert result.success and result.detected


def test_no_faces_no_results(landmark_model, replay):
    image = np.zeros((50, 50, 3), np.uint8)
    assert detect_image_landmarks(image, landmark_model, replay([])) == []


def test_empty_boxes_are_skipped(landmark_model, replay):
    image = np.zeros((50, 50, 3), np.uint8)
    boxes = [(np.array([10, 10, 0, 20], np.float32), 0.9), (np.full(4, np.nan), 0.9)]
    assert detect_image_landmarks(image, landmark_model, replay(boxes)) == []
