"""The compiled PDM primitives agree with the numpy reference functions.

Tolerances: the primitives keep OpenFace's float32 storage but round some
intermediate sums differently from numpy's BLAS (double accumulation of the
shape), so projections agree to ~1e-4 px (float32 rounding of coordinates in
the hundreds) and rotations to float32 rounding (numpy's vectorised float32
sine may differ from the C library's by one unit in the last place).
"""

from __future__ import annotations

import numpy as np

from openau.geometry import _kernels as kernels
from openau.geometry import (
    euler_to_matrix,
    project,
    shape_3d,
    similarity_transform,
    update_params,
)


def _params(pdm, seed):
    rng = np.random.default_rng(seed)
    glob = np.array(
        [rng.uniform(0.5, 3), *rng.uniform(-0.8, 0.8, 3), *rng.uniform(50, 600, 2)], np.float32
    )
    local = (rng.standard_normal(pdm.n_modes) * np.sqrt(pdm.eigenvalues)).astype(np.float32)
    return glob, local


def test_euler_to_matrix_matches_numpy():
    rng = np.random.default_rng(0)
    out = np.empty((3, 3), np.float32)
    for angles in rng.uniform(-1.6, 1.6, (200, 3)).astype(np.float32):
        kernels.euler_to_matrix(*angles, out)
        np.testing.assert_allclose(out, euler_to_matrix(angles), rtol=0, atol=2.5e-7)


def test_shape_and_projection_match_numpy(pdm):
    comps_t = np.ascontiguousarray(pdm.components.transpose(2, 0, 1))
    shape = np.empty((pdm.n_points, 3), np.float32)
    points = np.empty((pdm.n_points, 2), np.float32)
    rot = np.empty((3, 3), np.float32)
    for seed in range(20):
        glob, local = _params(pdm, seed)
        kernels.shape_3d(pdm.mean_shape, comps_t, local, np.empty((pdm.n_points, 3)), shape)
        np.testing.assert_allclose(shape, shape_3d(pdm, local), atol=1e-4)
        kernels.euler_to_matrix(glob[1], glob[2], glob[3], rot)
        kernels.project(shape, glob, rot, points)
        np.testing.assert_allclose(points, project(pdm, glob, local), atol=2e-4)


def test_rotation_update_matches_numpy():
    rng = np.random.default_rng(1)
    rot = np.empty((3, 3), np.float32)
    work = np.empty((2, 3, 3), np.float32)
    for _ in range(200):
        glob = np.array([1, *rng.uniform(-1.2, 1.2, 3), 0, 0], np.float32)
        step = np.zeros(6, np.float32)
        step[1:4] = rng.normal(0, 0.05, 3)
        kernels.euler_to_matrix(glob[1], glob[2], glob[3], rot)
        angles = kernels.update_rotation(rot, *step[1:4].astype(np.float64), work)
        expected, _ = update_params(glob, np.zeros(0, np.float32), step)
        np.testing.assert_allclose(np.array(angles), expected[1:4], atol=2e-6)


def test_cholesky_solve_matches_numpy():
    rng = np.random.default_rng(2)
    for size in (1, 6, 16, 40):
        basis = rng.standard_normal((size, 2 * size))
        a = (basis @ basis.T + np.eye(size)).astype(np.float32)
        b = rng.standard_normal(size).astype(np.float32)
        out = np.empty(size, np.float32)
        assert kernels.cholesky_solve(a.copy(), b, out)
        expected = np.linalg.solve(a.astype(np.float64), b.astype(np.float64))
        np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-4)


def test_cholesky_of_a_singular_matrix_gives_zeros():
    out = np.ones(3, np.float32)
    a = np.ones((3, 3), np.float32)  # rank 1
    assert not kernels.cholesky_solve(a, np.ones(3, np.float32), out)
    assert not out.any()


def test_similarity_matches_numpy():
    rng = np.random.default_rng(3)
    out = np.empty((2, 2), np.float32)
    for _ in range(50):
        source = rng.uniform(0, 500, (68, 2)).astype(np.float32)
        angle, scale = rng.uniform(-np.pi, np.pi), rng.uniform(0.2, 5)
        a = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        target = (source @ a.T + rng.normal(0, 1, (68, 2)) + 40).astype(np.float32)
        kernels.similarity_transform(source, target, np.empty((2, 68, 2), np.float32), out)
        expected = similarity_transform(source, target)
        np.testing.assert_allclose(out, expected, rtol=2e-6, atol=2e-6 * scale)
