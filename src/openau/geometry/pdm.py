"""The point distribution model's maths: shape, projection, Jacobian, fitting.

A face is ``X = mean + components @ p_local`` in 3-D (millimetres), placed in
the image by a weak-perspective (scaled orthographic) camera with global
parameters ``p_global = (scale, rx, ry, rz, tx, ty)``: ``x = scale * R[:2] @ X +
(tx, ty)`` with ``R`` from :func:`~openau.geometry.rotation.euler_to_matrix`
(OpenFace's ``PDM::CalcShape2D``). Image coordinates are pixels, x right, y down.

Everything is computed in float32, as OpenFace does, so fits agree with its
output to float32 rounding rather than to a different optimum.

References
----------
.. [1] J. Saragih, S. Lucey, J. Cohn, "Deformable model fitting by regularized
   landmark mean-shift", IJCV 2011.
.. [2] T. Baltrusaitis, "Automatic facial expression analysis", PhD thesis,
   University of Cambridge, 2014 (the small-angle rotation update).
"""

from __future__ import annotations

import functools

import numpy as np

from openau._native import kernels
from openau.geometry.rotation import euler_to_matrix, matrix_to_euler, orthonormalise
from openau.models.pdm import PDMModel

__all__ = [
    "N_GLOBAL",
    "shape_3d",
    "project",
    "bounding_box",
    "jacobian",
    "update_params",
    "clamp_local",
    "params_from_box",
    "fit_to_landmarks",
    "refine_to_landmarks",
]

#: Number of global (rigid) parameters: scale, three rotations, two translations.
N_GLOBAL = 6

_F32 = np.float32

# CalcParams' Gauss-Newton: damping of each step, iteration cap, and the
# stopping rule (stop after 3 steps that each fail to cut the error by 0.1 %;
# the 0.1 % is in the kernel).
_FIT_STEP = _F32(0.75)
_FIT_MAX_ITERATIONS = 1000
_FIT_PATIENCE = 3

# refine_to_landmarks' Levenberg-Marquardt: starting damping (nearly pure
# Gauss-Newton), its growth after a rejected step and its cap, and the
# relative decrease of the squared error below which it stops.
_LM_DAMPING_START = 1e-9
_LM_DAMPING_FACTOR = 10.0
_LM_DAMPING_MAX = 1e6
_REFINE_TOLERANCE = 1e-6


def shape_3d(pdm: PDMModel, params_local: np.ndarray) -> np.ndarray:
    """3-D landmarks in the model frame: ``mean + components @ params_local``.

    Parameters
    ----------
    pdm : PDMModel
    params_local : (m,) float32 ndarray
        Non-rigid parameters.

    Returns
    -------
    (n, 3) float32 ndarray
        Millimetres, object frame.
    """
    local = np.asarray(params_local, dtype=_F32)
    return pdm.mean_shape + pdm.components @ local


def _rotated(pdm: PDMModel, params_global: np.ndarray, params_local: np.ndarray):
    glob = np.asarray(params_global, dtype=_F32)
    shape = shape_3d(pdm, params_local)
    rotation = euler_to_matrix(glob[1:4])
    return glob, shape, rotation


def project(pdm: PDMModel, params_global: np.ndarray, params_local: np.ndarray) -> np.ndarray:
    """2-D landmarks under the weak-perspective camera (OpenFace's ``CalcShape2D``).

    Parameters
    ----------
    pdm : PDMModel
    params_global : (6,) float32 ndarray
        ``(scale, rx, ry, rz, tx, ty)``; scale in pixels per millimetre,
        rotations in radians, translation in pixels.
    params_local : (m,) float32 ndarray

    Returns
    -------
    (n, 2) float32 ndarray
        Pixel coordinates (x, y).
    """
    glob, shape, rotation = _rotated(pdm, params_global, params_local)
    return glob[0] * (shape @ rotation[:2].T) + glob[4:6]


def bounding_box(
    pdm: PDMModel, params_global: np.ndarray, params_local: np.ndarray
) -> tuple[float, float, float, float]:
    """The axis-aligned box ``(x, y, width, height)`` around the projected landmarks."""
    points = project(pdm, params_global, params_local)
    low = points.min(axis=0)
    high = points.max(axis=0)
    return float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])


def jacobian(pdm: PDMModel, params_global: np.ndarray, params_local: np.ndarray) -> np.ndarray:
    """Derivatives of the projected landmarks by every parameter.

    Rotations are differentiated with the small-angle update ``R @ (I + [w]x)``
    that :func:`update_params` applies, not by the Euler angles themselves
    (Baltrusaitis 2014; OpenFace's ``PDM::ComputeJacobian``).

    Parameters
    ----------
    pdm : PDMModel
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray

    Returns
    -------
    (n, 2, 6 + m) float32 ndarray
        ``J[i, c, k]`` = d(coordinate ``c`` of landmark ``i``) / d(parameter ``k``),
        parameters ordered as ``(scale, wx, wy, wz, tx, ty, p_0 .. p_{m-1})``.
        Reshape to ``(2n, 6 + m)`` to pair it with ``(n, 2)`` residuals flattened.
    """
    glob, shape, rotation = _rotated(pdm, params_global, params_local)
    s = glob[0]
    n, m = pdm.n_points, pdm.n_modes
    x, y, z = shape[:, 0], shape[:, 1], shape[:, 2]
    jac = np.empty((n, 2, N_GLOBAL + m), dtype=_F32)
    for c in range(2):
        r1, r2, r3 = rotation[c]
        jac[:, c, 0] = x * r1 + y * r2 + z * r3
        jac[:, c, 1] = s * (y * r3 - z * r2)
        jac[:, c, 2] = -s * (x * r3 - z * r1)
        jac[:, c, 3] = s * (x * r2 - y * r1)
        jac[:, c, 4] = 1.0 if c == 0 else 0.0
        jac[:, c, 5] = 0.0 if c == 0 else 1.0
        jac[:, c, N_GLOBAL:] = s * np.einsum("k,ikj->ij", rotation[c], pdm.components)
    return jac


def update_params(
    params_global: np.ndarray, params_local: np.ndarray, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a parameter step as OpenFace's ``PDM::UpdateModelParameters`` does.

    Scale, translation and non-rigid parameters are added. The rotation step
    ``(wx, wy, wz)`` is composed as ``R_new = R @ orth(I + [w]x)``, then turned
    back into Euler angles (zeros if that breaks down numerically).

    Parameters
    ----------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    delta : (6,) or (6 + m,) float32 ndarray
        The step, ordered as in :func:`jacobian`.

    Returns
    -------
    params_global, params_local : float32 ndarrays
        New arrays; the inputs are not modified.
    """
    glob = np.array(params_global, dtype=_F32)
    local = np.array(params_local, dtype=_F32)
    step = np.asarray(delta, dtype=_F32)
    glob[0] += step[0]
    glob[4] += step[4]
    glob[5] += step[5]
    wx, wy, wz = step[1:4]
    small = np.array([[1, -wz, wy], [wz, 1, -wx], [-wy, wx, 1]], dtype=_F32)
    combined = euler_to_matrix(glob[1:4]) @ orthonormalise(small)
    euler = matrix_to_euler(orthonormalise(combined))
    glob[1:4] = euler if np.all(np.isfinite(euler)) else 0.0
    if step.shape[0] > N_GLOBAL:
        local += step[N_GLOBAL:]
    return glob, local


def clamp_local(pdm: PDMModel, params_local: np.ndarray, n_sigmas: float = 3.0) -> np.ndarray:
    """Clamp non-rigid parameters to ``n_sigmas`` standard deviations (``PDM::Clamp``).

    Returns
    -------
    (m,) float32 ndarray
    """
    limit = _F32(n_sigmas) * np.sqrt(pdm.eigenvalues)
    return np.clip(np.asarray(params_local, dtype=_F32), -limit, limit)


def params_from_box(
    pdm: PDMModel,
    box: tuple[float, float, float, float],
    params_local: np.ndarray | None = None,
    rotation: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Global parameters that fit the (rotated) model shape into a face box.

    The box is taken to span the face outline left to right and chin to
    eyebrows, as OpenFace's corrected detector boxes do. The model is scaled so
    its projected extent matches the box (mean of the width and height ratios)
    and centred on the box (OpenFace's ``PDM::CalcParams`` from a bounding box).

    Parameters
    ----------
    pdm : PDMModel
    box : (x, y, width, height)
        Pixels.
    params_local : (m,) float32 ndarray, optional
        Shape to fit; zeros (the mean shape) by default.
    rotation : (3,) array_like
        Euler angles of the initial head pose, radians.

    Returns
    -------
    (6,) float32 ndarray
    """
    local = np.zeros(pdm.n_modes, _F32) if params_local is None else params_local
    rot = np.asarray(rotation, dtype=_F32)
    rotated = shape_3d(pdm, local) @ euler_to_matrix(rot).T
    low = rotated[:, :2].min(axis=0)
    high = rotated[:, :2].max(axis=0)
    x, y, w, h = (_F32(v) for v in box)
    extent = high - low
    scale = (w / extent[0] + h / extent[1]) / _F32(2)
    tx = x + w / _F32(2) - scale * (low[0] + high[0]) / _F32(2)
    ty = y + h / _F32(2) - scale * (low[1] + high[1]) / _F32(2)
    return np.array([scale, rot[0], rot[1], rot[2], tx, ty], dtype=_F32)


def fit_to_landmarks(
    pdm: PDMModel,
    landmarks: np.ndarray,
    rotation: np.ndarray | tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Fit global and non-rigid parameters to 2-D landmarks (OpenFace's ``CalcParams``).

    Regularised Gauss-Newton [1]_: each step solves
    ``(J^T J + Lambda) dp = J^T r - Lambda p`` with ``Lambda`` the inverse
    eigenvalues on the non-rigid block (zero on the rigid one), is damped by
    0.75, and the loop stops once three steps have each failed to reduce the
    residual norm by 0.1 % (or after 1000 steps). Landmarks whose x is exactly
    0 count as not visible and are left out, as in OpenFace.

    Parameters
    ----------
    pdm : PDMModel
    landmarks : (n, 2) array_like
        Pixel coordinates (x, y) of the model's n landmarks.
    rotation : (3,) array_like
        Euler angles to start from, radians.

    Returns
    -------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray

    Notes
    -----
    The work is done by a numba kernel (:mod:`openau.geometry._fit_kernel`)
    that keeps OpenFace's float32 parameters and stopping rule: the AU stage
    aligns faces with this fit's translation, and OpenFace's aligned pixels
    are reproduced only when the translation agrees to the last bit (it does
    on every reference frame).

    Like OpenFace, the stopping test after each step projects the shape of the
    step's start (the non-rigid update is not yet applied to it) with the new
    global parameters; reproducing this keeps the iteration count, and so the
    result, the same as OpenFace's.
    """
    points = np.asarray(landmarks, dtype=_F32)
    if points.shape != (pdm.n_points, 2):
        raise ValueError(f"landmarks must have shape ({pdm.n_points}, 2), got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError("landmarks must be finite")
    visible = points[:, 0] != 0
    if visible.sum() < 2:
        raise ValueError("at least two landmarks must be visible (x != 0) to fit the PDM")
    _fit_kernel = kernels("openau.geometry._fit_kernel")

    model = _visible_model(pdm, visible.tobytes())
    glob, local, _ = _fit_kernel.fit(
        *model.arrays,
        model.ready,
        np.ascontiguousarray(points[visible]),
        np.asarray(rotation, dtype=_F32).reshape(3),
        True,
        _FIT_STEP,
        _FIT_MAX_ITERATIONS,
        _FIT_PATIENCE,
    )
    model.ready = True
    return glob, local


class _VisibleModel:
    """The PDM restricted to the visible landmarks, with room for the fit's moments.

    ``arrays`` are the fit kernel's model arguments: mean, components (both
    layouts), eigenvalues and the three moment arrays, which the first fit
    fills (they cost about as much as a whole fit); ``ready`` says whether it
    has. Two threads may both fill them; they write equal values.
    """

    def __init__(self, pdm: PDMModel, visible: np.ndarray):
        m = pdm.n_modes
        mean = np.ascontiguousarray(pdm.mean_shape[visible])
        comps = np.ascontiguousarray(pdm.components[visible])
        comps_t = np.ascontiguousarray(comps.transpose(2, 0, 1))
        eigenvalues = np.ascontiguousarray(pdm.eigenvalues)
        moments = (np.zeros((3, 3, m, m)), np.zeros((3, m)), np.zeros((3, 3, m)))
        self.arrays = (mean, comps, comps_t, eigenvalues, *moments)
        self.ready = False


@functools.lru_cache(maxsize=8)
def _visible_model(pdm: PDMModel, visible_key: bytes) -> _VisibleModel:
    """The PDM restricted to a visibility pattern (nearly always "all visible"), cached."""
    return _VisibleModel(pdm, np.frombuffer(visible_key, dtype=bool))


def refine_to_landmarks(
    pdm: PDMModel,
    landmarks: np.ndarray,
    params_global: np.ndarray,
    params_local: np.ndarray,
    max_iterations: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """The parameters whose projection reproduces the landmarks, near a start.

    Unregularised least squares in float64 from ``(params_global,
    params_local)`` (usually :func:`fit_to_landmarks`' result): Gauss-Newton
    steps with Levenberg-Marquardt damping, which stays near zero when the
    start is good. It minimises the plain reprojection error, with no pull
    towards the mean shape.

    Why: OpenFace's landmark tracker ends each frame by fitting the PDM to its
    part-refined landmarks and writing out the *projection* of those
    parameters, so the CSV's ``x_i, y_i`` are exactly ``project(p)`` for the
    CSV's ``p_*``. :func:`fit_to_landmarks` on those landmarks (what the AU
    stage does) is regularised and lands elsewhere (e.g. ``p_0`` -0.55 against
    -0.28, 0.3 px residual); this refinement recovers the CSV's parameters, and
    with them its pose and 3-D landmarks.

    Parameters
    ----------
    pdm : PDMModel
    landmarks : (n, 2) array_like
        Pixels; landmarks with x = 0 are ignored, as in :func:`fit_to_landmarks`.
    params_global : (6,) array_like
    params_local : (m,) array_like
    max_iterations : int
        Cap on linear solves (accepted and rejected steps together).

    Returns
    -------
    params_global : (6,) float32 ndarray
    params_local : (m,) float32 ndarray
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (pdm.n_points, 2):
        raise ValueError(f"landmarks must have shape ({pdm.n_points}, 2), got {points.shape}")
    visible = points[:, 0] != 0
    target = points[visible]
    mean = pdm.mean_shape[visible].astype(np.float64)
    comps = pdm.components[visible].astype(np.float64)
    glob = np.asarray(params_global, dtype=np.float64).copy()
    local = np.asarray(params_local, dtype=np.float64).copy()
    rotation = euler_to_matrix(glob[1:4])

    def residual(glob, rotation, local):
        shape = mean + comps @ local
        return target - (glob[0] * shape @ rotation[:2].T + glob[4:6]), shape

    res, shape = residual(glob, rotation, local)
    error = float(np.sum(res * res))
    damping = _LM_DAMPING_START
    jac = None
    for _ in range(max_iterations):
        if jac is None:
            jac = _jacobian64(shape, comps, glob[0], rotation).reshape(-1, N_GLOBAL + pdm.n_modes)
            normal = jac.T @ jac
            gradient = jac.T @ res.reshape(-1)
        # Marquardt's scaling of the damping by the diagonal. The Jacobian's
        # condition number is about 1e4, so normal equations are safe in float64.
        damped = normal + damping * np.diag(np.diag(normal))
        try:
            step = np.linalg.solve(damped, gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(damped, gradient, rcond=None)[0]
        new_glob = glob.copy()
        new_glob[[0, 4, 5]] += step[[0, 4, 5]]
        new_rotation = rotation @ _rodrigues(step[1:4])
        new_local = local + step[N_GLOBAL:]
        new_res, new_shape = residual(new_glob, new_rotation, new_local)
        new_error = float(np.sum(new_res * new_res))
        if not new_error < error:
            damping *= _LM_DAMPING_FACTOR
            if damping > _LM_DAMPING_MAX:
                break
            continue
        converged = error - new_error <= _REFINE_TOLERANCE * error
        glob, rotation, local, res, shape = new_glob, new_rotation, new_local, new_res, new_shape
        error = new_error
        damping = max(damping / _LM_DAMPING_FACTOR, _LM_DAMPING_START)
        jac = None
        if converged:
            break
    glob[1:4] = matrix_to_euler(rotation)
    return glob.astype(_F32), local.astype(_F32)


def _jacobian64(shape: np.ndarray, comps: np.ndarray, scale: float, rotation: np.ndarray):
    """:func:`jacobian` in float64 from a given 3-D shape: ``(n, 2, 6 + m)``."""
    n, m = shape.shape[0], comps.shape[2]
    x, y, z = shape[:, 0], shape[:, 1], shape[:, 2]
    jac = np.empty((n, 2, N_GLOBAL + m))
    for c in range(2):
        r1, r2, r3 = rotation[c]
        jac[:, c, 0] = x * r1 + y * r2 + z * r3
        jac[:, c, 1] = scale * (y * r3 - z * r2)
        jac[:, c, 2] = -scale * (x * r3 - z * r1)
        jac[:, c, 3] = scale * (x * r2 - y * r1)
        jac[:, c, 4] = 1.0 if c == 0 else 0.0
        jac[:, c, 5] = 0.0 if c == 0 else 1.0
    # d(projection)/d(p_local) = s R[:2] V_i, all points at once.
    jac[:, :, N_GLOBAL:] = scale * np.matmul(rotation[:2], comps)
    return jac


def _rodrigues(w: np.ndarray) -> np.ndarray:
    """Rotation matrix of a small rotation vector (float64)."""
    theta = float(np.linalg.norm(w))
    if theta < 1e-300:
        return np.eye(3)
    k = w / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)
