"""Fake stages for engine tests: fast, deterministic, driven by the pixels.

Loaded by file path (``ExtractConfig(stages=FAKE_STAGES)``), so spawned worker
processes can import it although ``tests/`` is not a package.

- The tracker "finds a face" when the centre of the frame is bright (mean
  over the middle ninth above 128); its landmarks are a fixed grid placed by
  the frame size, moved by the frame's mean intensity.
- The analyser's AU values need the whole video, like OpenFace's
  post-processing: intensity is a 3-frame moving average of a per-frame
  brightness score, zero on failed frames.
- Environment knobs (inherited by spawned workers):
  ``OPENAU_FAKE_DELAY`` seconds per tracked frame; ``OPENAU_FAKE_FAIL_FRAME``
  makes the tracker raise on that 0-based frame.
- A "poison" frame (mean above 250: all white) makes the tracker end its process
  (exit code 3), as a crash in native code would.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from openau.output.columns import INTENSITY_AUS, PRESENCE_AUS
from openau.video.stages import ImageFace, Stages

FAKE_STAGES = f"{__file__}:build"


@dataclass(frozen=True)
class FakeResult:
    landmarks: np.ndarray
    params_global: np.ndarray
    params_local: np.ndarray
    confidence: float
    success: bool
    detected: bool


@dataclass(frozen=True)
class FakeTable:
    intensity: np.ndarray
    presence: np.ndarray
    intensity_names: tuple[str, ...] = INTENSITY_AUS
    presence_names: tuple[str, ...] = PRESENCE_AUS


def has_face(image: np.ndarray) -> bool:
    h, w = image.shape[:2]
    return float(image[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].mean()) > 128


def fit(image: np.ndarray) -> FakeResult:
    h, w = image.shape[:2]
    shade = float(image.mean()) / 255.0
    grid = np.stack(np.meshgrid(np.linspace(0.3, 0.7, 17), np.linspace(0.3, 0.7, 4)), -1).reshape(-1, 2)
    landmarks = (grid * [w, h] + shade).astype(np.float32)
    found = has_face(image)
    params_global = np.array([1.0 + shade, 0.01, -0.02, 0.03, w / 2, h / 2], np.float32)
    params_local = np.full(34, shade, np.float32)
    return FakeResult(landmarks, params_global, params_local, 0.98 if found else 0.02, found, True)


class FakeTracker:
    def __init__(self) -> None:
        self.frame = 0
        self.resets = 0
        self.delay = float(os.environ.get("OPENAU_FAKE_DELAY", "0"))
        self.fail_frame = int(os.environ.get("OPENAU_FAKE_FAIL_FRAME", "-1"))

    def reset(self) -> None:
        self.frame = 0
        self.resets += 1

    def track(self, image: np.ndarray) -> FakeResult:
        if self.frame == self.fail_frame:
            raise ValueError(f"fake tracker failure on frame index {self.frame}")
        self.frame += 1
        if image.mean() > 250:
            os._exit(3)
        if self.delay:
            time.sleep(self.delay)
        return fit(image)


class FakeAnalyser:
    def __init__(self) -> None:
        self.scores: list[float] = []

    def add_frame(self, image: np.ndarray, landmarks: np.ndarray | None, success: bool) -> float:
        score = float(image.mean()) / 51.0 if success and landmarks is not None else 0.0
        self.scores.append(score)
        return score

    def finish(self) -> FakeTable:
        scores = np.asarray(self.scores)
        smooth = scores.copy()
        if len(scores) > 2:
            smooth[1:-1] = (scores[:-2] + scores[1:-1] + scores[2:]) / 3
        intensity = np.repeat(np.clip(smooth, 0, 5)[:, None], len(INTENSITY_AUS), 1)
        presence = np.repeat((smooth > 1)[:, None].astype(float), len(PRESENCE_AUS), 1)
        return FakeTable(intensity, presence)


def geometry(params_global: np.ndarray, params_local: np.ndarray, landmarks: np.ndarray, width: int, height: int):
    n = len(params_global)
    scale = params_global[:, 0]
    pose = np.stack(
        [params_global[:, 4] - width / 2, params_global[:, 5] - height / 2, 500 / scale, *params_global[:, 1:4].T],
        axis=1,
    ).astype(np.float32)
    landmarks_3d = np.zeros((n, 68, 3), np.float32)
    landmarks_3d[:, :, 2] = pose[:, 2:3]
    return pose, landmarks_3d


def analyse_image(image: np.ndarray) -> list[ImageFace]:
    if not has_face(image):
        return []
    result = fit(image)
    score = float(image.mean()) / 51.0
    return [
        ImageFace(result, np.full(len(INTENSITY_AUS), score), np.ones(len(PRESENCE_AUS))),
        ImageFace(result, np.zeros(len(INTENSITY_AUS)), np.zeros(len(PRESENCE_AUS))),
    ]


def build(config) -> Stages:
    return Stages(
        tracker=FakeTracker(),
        new_analyser=FakeAnalyser,
        geometry=geometry,
        analyse_image=analyse_image,
        intensity_names=INTENSITY_AUS,
        presence_names=PRESENCE_AUS,
    )
