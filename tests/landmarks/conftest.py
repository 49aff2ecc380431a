"""Fixtures shared by the landmark tests: the loaded model and OpenFace's reference data."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from openau.landmarks import load_landmark_model

N_POINTS = 68


@pytest.fixture(scope="session")
def landmark_model(models_dir):
    """OpenFace's CLNF model, loaded once for the session (it is immutable)."""
    return load_landmark_model(models_dir)


class Gold:
    """Reads OpenFace's reference outputs for the landmark tests."""

    MEDIA: ClassVar[dict[str, str]] = {
        "single_face": "single_face.mp4",
        "video01": "video01.mp4",
        "of_default": "of_default.wmv",
        "face_noface": "face_noface.mov",
        "no_face": "no_face.mp4",
    }

    def __init__(self, reference_dir: Path, media_dir: Path):
        self.reference_dir = reference_dir
        self.media_dir = media_dir

    def table(self, name: str) -> pd.DataFrame:
        """OpenFace's full-precision CSV for a clip or image folder."""
        return pd.read_csv(self.reference_dir / name / "openface_precise.csv")

    @staticmethod
    def landmarks(table: pd.DataFrame, prefix: str = "", count: int = N_POINTS) -> np.ndarray:
        """``(rows, count, 2)`` float32 landmarks (``prefix`` ``eye_lmk_`` for the eyes)."""
        xs = table[[f"{prefix}x_{i}" for i in range(count)]].to_numpy(np.float32)
        ys = table[[f"{prefix}y_{i}" for i in range(count)]].to_numpy(np.float32)
        return np.stack([xs, ys], axis=-1)

    def boxes(self, name: str, csv: str = "mtcnn_frame0.csv"):
        """OpenFace's corrected MTCNN boxes with confidences, in detector order."""
        table = pd.read_csv(self.reference_dir / name / csv)
        boxes = table[["conv_x", "conv_y", "conv_w", "conv_h"]].to_numpy(np.float32)
        return [(box, float(conf)) for box, conf in zip(boxes, table["confidence"])]

    def frame0(self, name: str) -> np.ndarray:
        import cv2

        return cv2.imread(str(self.reference_dir / name / "frame0.png"))

    def clip(self, name: str) -> Path:
        return self.media_dir / self.MEDIA[name]


@pytest.fixture(scope="session")
def gold(reference_dir, media_dir) -> Gold:
    return Gold(reference_dir, media_dir)


class ReplayDetector:
    """A face detector answering every call with fixed boxes, counting the calls.

    Stands in for MTCNN: OpenFace's detections on each clip's first frame are
    in the reference data, and on clips OpenFace tracks without a failure the
    detector only runs on the first frame.
    """

    def __init__(self, detections):
        self.detections = list(detections)
        self.calls = 0

    def __call__(self, image_bgr):
        self.calls += 1
        return list(self.detections)


@pytest.fixture
def replay():
    """Factory of :class:`ReplayDetector` instances."""
    return ReplayDetector
