"""Fixtures for the MTCNN tests: the networks, a CPU detector, OpenFace's reference detections."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from openau.detect import MTCNNDetector
from openau.models import read_mtcnn


@dataclass(frozen=True)
class ReferenceCase:
    """One image OpenFace's MTCNN ran on, and what it found."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8 BGR
    boxes: np.ndarray  # (k, 4) float64 x, y, w, h
    confidences: np.ndarray  # (k,)
    corrected: np.ndarray  # (k, 4) conv_x, conv_y, conv_w, conv_h
    video_pick: np.ndarray  # (k,) 0/1


def _read_case(name: str, image_path: Path, csv_path: Path) -> ReferenceCase:
    import cv2

    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot read {image_path}"
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    def cols(*names):
        return np.array([[float(r[n]) for n in names] for r in rows], dtype=np.float64).reshape(-1, len(names))

    return ReferenceCase(
        name=name,
        image=image,
        boxes=cols("x", "y", "w", "h"),
        confidences=cols("confidence")[:, 0],
        corrected=cols("conv_x", "conv_y", "conv_w", "conv_h"),
        video_pick=cols("video_pick")[:, 0].astype(int),
    )


@pytest.fixture(scope="session")
def reference_cases(reference_dir, media_dir) -> list[ReferenceCase]:
    """Every frame and image with an MTCNN reference CSV (6 clips' frame 0, 2 images)."""
    cases = []
    for folder in sorted(p for p in reference_dir.iterdir() if p.is_dir()):
        if (folder / "mtcnn_frame0.csv").is_file():
            cases.append(_read_case(folder.name, folder / "frame0.png", folder / "mtcnn_frame0.csv"))
        elif (folder / "mtcnn.csv").is_file() and folder.name.endswith("_jpg"):
            image = media_dir / (folder.name[: -len("_jpg")] + ".jpg")
            cases.append(_read_case(folder.name, image, folder / "mtcnn.csv"))
    assert len(cases) == 8, [c.name for c in cases]
    return cases


@pytest.fixture(scope="session")
def mtcnn_model(models_dir):
    return read_mtcnn(models_dir)


@pytest.fixture(scope="session")
def cpu_detector(mtcnn_model) -> MTCNNDetector:
    return MTCNNDetector(mtcnn_model, device="cpu", threads=1)
