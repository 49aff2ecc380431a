"""Camera model, head pose and 3-D landmarks as OpenFace's FeatureExtraction writes them.

The PDM fit uses a weak-perspective camera; OpenFace's CSV reports pose and
3-D landmarks for a pinhole camera instead:

* pose (``pose_Tx..Tz`` in millimetres, ``pose_Rx..Rz`` Euler angles in
  radians, camera frame x right, y down, z forward): OpenCV's iterative PnP on
  the PDM's 3-D shape (object frame, no rotation) and the 2-D landmarks,
  started from the weak-perspective estimate -- translation
  ``Z = fx / scale``, ``X = (tx - cx) Z / fx``, ``Y = (ty - cy) Z / fy``, and the
  PDM's Euler angles used as the starting rotation vector
  (``LandmarkDetector::GetPose``);
* 3-D landmarks (``X_i, Y_i, Z_i``, millimetres): each landmark's depth is the
  average depth ``fx / scale`` plus its depth in the rotated PDM shape, and
  X, Y back-project the 2-D landmark at that depth (``CLNF::GetShape``).

When no intrinsics are given, OpenFace assumes ``fx = fy = 500 (W / 640 +
H / 480) / 2`` and the image centre as principal point.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openau.geometry.pdm import shape_3d
from openau.geometry.rotation import euler_to_matrix, matrix_to_euler
from openau.models.pdm import PDMModel

__all__ = ["CameraIntrinsics", "head_pose", "landmarks_3d"]

_F32 = np.float32
#: OpenFace's focal-length guess: 500 px for a 640 x 480 image, scaled with size.
_DEFAULT_FOCAL = 500.0
_DEFAULT_WIDTH = 640.0
_DEFAULT_HEIGHT = 480.0


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole camera intrinsics, pixels.

    Attributes
    ----------
    fx, fy : float
        Focal lengths.
    cx, cy : float
        Principal point.
    """

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def default(cls, width: int, height: int) -> CameraIntrinsics:
        """OpenFace's guess when none are given (``SequenceCapture``), in its float32 steps."""
        fx = _F32(_DEFAULT_FOCAL) * (_F32(width) / _F32(_DEFAULT_WIDTH))
        fy = _F32(_DEFAULT_FOCAL) * (_F32(height) / _F32(_DEFAULT_HEIGHT))
        f = (fx + fy) / _F32(2)
        return cls(float(f), float(f), float(_F32(width) / _F32(2)), float(_F32(height) / _F32(2)))

    def matrix(self) -> np.ndarray:
        """The ``(3, 3)`` float32 camera matrix."""
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=_F32)


def _check(pdm: PDMModel, params_global, params_local, landmarks):
    glob = np.asarray(params_global, dtype=_F32).reshape(-1)
    local = np.asarray(params_local, dtype=_F32).reshape(-1)
    points = np.ascontiguousarray(landmarks, dtype=_F32)
    if glob.shape != (6,) or local.shape != (pdm.n_modes,):
        raise ValueError(
            f"expected params_global (6,) and params_local ({pdm.n_modes},), "
            f"got {glob.shape} and {local.shape}"
        )
    if points.shape != (pdm.n_points, 2):
        raise ValueError(f"landmarks must have shape ({pdm.n_points}, 2), got {points.shape}")
    return glob, local, points


def head_pose(
    pdm: PDMModel,
    params_global: np.ndarray,
    params_local: np.ndarray,
    landmarks: np.ndarray,
    intrinsics: CameraIntrinsics,
) -> np.ndarray:
    """Head pose in the camera frame, as FeatureExtraction writes it.

    Parameters
    ----------
    pdm : PDMModel
    params_global : (6,) array_like
        ``(scale, rx, ry, rz, tx, ty)`` of the face's PDM fit.
    params_local : (m,) array_like
    landmarks : (68, 2) array_like
        The 2-D landmarks, pixels.
    intrinsics : CameraIntrinsics

    Returns
    -------
    (6,) float32 ndarray
        ``(Tx, Ty, Tz)`` millimetres and ``(Rx, Ry, Rz)`` radians (OpenFace's
        Euler convention, see :mod:`openau.geometry.rotation`). Zeros when
        the scale is 0, as in OpenFace.
    """
    glob, local, points = _check(pdm, params_global, params_local, landmarks)
    if glob[0] == 0:
        return np.zeros(6, _F32)
    fx, fy = _F32(intrinsics.fx), _F32(intrinsics.fy)
    cx, cy = _F32(intrinsics.cx), _F32(intrinsics.cy)
    z = _F32(fx / glob[0])
    # OpenFace multiplies by the float64 reciprocal of the focal length.
    x = _F32(np.float64(glob[4] - cx) * (1.0 / np.float64(fx)) * np.float64(z))
    y = _F32(np.float64(glob[5] - cy) * (1.0 / np.float64(fy)) * np.float64(z))
    rvec = glob[1:4].reshape(3, 1).copy()
    tvec = np.array([[x], [y], [z]], dtype=_F32)
    _, rvec, tvec = cv2.solvePnP(
        shape_3d(pdm, local), points, intrinsics.matrix(), None, rvec, tvec, True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    rotation, _ = cv2.Rodrigues(rvec.astype(_F32))
    euler = matrix_to_euler(rotation.astype(_F32))
    return np.concatenate([tvec.reshape(3).astype(_F32), euler.astype(_F32)])


def landmarks_3d(
    pdm: PDMModel,
    params_global: np.ndarray,
    params_local: np.ndarray,
    landmarks: np.ndarray,
    intrinsics: CameraIntrinsics,
) -> np.ndarray:
    """3-D landmarks in the camera frame, as FeatureExtraction writes them.

    Parameters
    ----------
    pdm : PDMModel
    params_global, params_local : array_like
        The face's PDM fit.
    landmarks : (68, 2) array_like
        The 2-D landmarks, pixels.
    intrinsics : CameraIntrinsics

    Returns
    -------
    (68, 3) float32 ndarray
        ``(X, Y, Z)`` millimetres, camera frame.
    """
    glob, local, points = _check(pdm, params_global, params_local, landmarks)
    rotation = euler_to_matrix(glob[1:4])
    rotated = (shape_3d(pdm, local).astype(np.float64) @ rotation.T.astype(np.float64)).astype(_F32)
    fx, fy = _F32(intrinsics.fx), _F32(intrinsics.fy)
    cx, cy = _F32(intrinsics.cx), _F32(intrinsics.cy)
    depth = _F32(fx / glob[0]) + rotated[:, 2]
    out = np.empty((pdm.n_points, 3), _F32)
    out[:, 0] = depth * ((points[:, 0] - cx) / fx)
    out[:, 1] = depth * ((points[:, 1] - cy) / fy)
    out[:, 2] = depth
    return out
