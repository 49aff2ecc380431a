"""Still images: FaceLandmarkImg's table, one row per face.

FaceLandmarkImg detects every face of an image, fits the landmarks of each
(in the detector's order) and predicts AUs with the static models, without
the video post-processing. The stages do that work
(:attr:`~openau.video.stages.Stages.analyse_image`); this module lays the
faces out as OpenFace's image table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openau.output.columns import N_LANDMARKS, N_MODES
from openau.output.tables import image_table
from openau.video.decode import read_image
from openau.video.engine import VideoOutput
from openau.video.stages import Stages

__all__ = ["analyse_image_file"]


def analyse_image_file(path: Path, stages: Stages) -> VideoOutput:
    """A still image's FaceLandmarkImg table: one row per face.

    Raises
    ------
    InputNotFoundError, InputError
        The file is missing or not an image.
    """
    image = read_image(path)
    faces = list(stages.analyse_image(image))
    height, width = image.shape[:2]
    n = len(faces)
    if n:
        params_global = np.stack([np.asarray(f.landmarks.params_global, np.float32) for f in faces])
        params_local = np.stack([np.asarray(f.landmarks.params_local, np.float32) for f in faces])
        landmarks_2d = np.stack([np.asarray(f.landmarks.landmarks, np.float32) for f in faces])
        pose, landmarks_3d = stages.geometry(params_global, params_local, landmarks_2d, width, height)
        intensity = np.stack([np.asarray(f.intensity, np.float64) for f in faces])
        presence = np.stack([np.asarray(f.presence, np.float64) for f in faces])
    else:
        params_global, params_local, pose = np.zeros((0, 6)), np.zeros((0, N_MODES)), np.zeros((0, 6))
        landmarks_3d, landmarks_2d = np.zeros((0, N_LANDMARKS, 3)), np.zeros((0, N_LANDMARKS, 2))
        intensity = np.zeros((0, len(stages.intensity_names)))
        presence = np.zeros((0, len(stages.presence_names)))
    intensity_names = (faces[0].intensity_names if n else None) or tuple(stages.intensity_names)
    presence_names = (faces[0].presence_names if n else None) or tuple(stages.presence_names)
    table = image_table(
        confidence=np.array([float(f.landmarks.confidence) for f in faces], np.float64),
        pose=pose,
        landmarks_2d=landmarks_2d,
        landmarks_3d=landmarks_3d,
        params_global=params_global,
        params_local=params_local,
        intensity=intensity,
        presence=presence,
        intensity_names=intensity_names,
        presence_names=presence_names,
    )
    warnings = [] if n else [f"{path}: no face found; wrote a table with no rows"]
    return VideoOutput(columns=table, frames=1, warnings=warnings)
