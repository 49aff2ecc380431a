"""OpenCV-exact bilinear sampling kernels (patch warp and validator remap).

The installed OpenCV (4.x) quantises sample positions like the OpenCV 4.6 that
OpenFace ran on; only the float rounding of the weighted sum may differ, by
about 1e-5 grey levels. A different quantisation would shift samples by 1/32
pixel and change values by up to a few grey levels, so a 1e-3 tolerance
checks the quantisation itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from openau.landmarks import _sampling

TOLERANCE = 1e-3  # grey levels, see the module docstring


def _image(rng):
    return (rng.random((50, 60)) * 255).astype(np.float32)


def test_remap_matches_opencv():
    rng = np.random.default_rng(1)
    image = _image(rng)
    # Positions well inside, near and beyond every border.
    map_x = rng.uniform(-3, 63, (40, 40)).astype(np.float32)
    map_y = rng.uniform(-3, 53, (40, 40)).astype(np.float32)
    expected = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR)
    out = np.empty_like(map_x)
    _sampling.remap(image, map_x, map_y, out)
    np.testing.assert_allclose(out, expected, atol=TOLERANCE, rtol=0)


def test_remap_outside_is_zero():
    image = np.full((10, 10), 7.0, np.float32)
    out = np.ones((2, 2), np.float32)
    _sampling.remap(image, np.full((2, 2), -5.0, np.float32), np.full((2, 2), 3.0, np.float32), out)
    assert not np.any(out)


def test_warp_affine_matches_opencv():
    rng = np.random.default_rng(2)
    image = _image(rng)
    area = np.empty((21, 21), np.float32)
    for _ in range(50):
        scale, angle = rng.uniform(0.5, 2.0), rng.uniform(-0.6, 0.6)
        a, b = scale * np.cos(angle), scale * np.sin(angle)
        mat = np.array(
            [[a, -b, rng.uniform(-15, 65)], [b, a, rng.uniform(-15, 55)]], dtype=np.float32
        )
        expected = cv2.warpAffine(
            image, mat, (21, 21), flags=cv2.WARP_INVERSE_MAP + cv2.INTER_LINEAR
        )
        _sampling.warp_affine(image, mat.astype(np.float64), area)
        np.testing.assert_allclose(area, expected, atol=TOLERANCE, rtol=0)
