"""Shape maths shared by the landmark fitter and the AU stage.

One implementation of each piece: Euler/axis-angle/matrix rotations
(:mod:`~openau.geometry.rotation`), the PDM's shape, projection, Jacobian and
parameter fitting (:mod:`~openau.geometry.pdm`), and 2-D similarity alignment
(:mod:`~openau.geometry.similarity`). Pure functions over numpy arrays, in
float32 as OpenFace computes them.
"""

from __future__ import annotations

from openau.geometry.pdm import (
    N_GLOBAL,
    bounding_box,
    clamp_local,
    fit_to_landmarks,
    jacobian,
    params_from_box,
    project,
    refine_to_landmarks,
    shape_3d,
    update_params,
)
from openau.geometry.rotation import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_euler,
    orthonormalise,
)
from openau.geometry.camera import CameraIntrinsics, head_pose, landmarks_3d
from openau.geometry.similarity import similarity_transform

__all__ = [
    "CameraIntrinsics",
    "N_GLOBAL",
    "axis_angle_to_matrix",
    "bounding_box",
    "clamp_local",
    "euler_to_matrix",
    "head_pose",
    "landmarks_3d",
    "fit_to_landmarks",
    "jacobian",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "orthonormalise",
    "params_from_box",
    "project",
    "refine_to_landmarks",
    "shape_3d",
    "similarity_transform",
    "update_params",
]
