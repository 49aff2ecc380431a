"""CNN landmark-validator reader on OpenFace's real file and on malformed copies."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from openau.errors import ModelFileError
from openau.models.validator import LayerKind, read_detection_validator

VALIDATOR = "model/detection_validation/validator_cnn.txt"


def test_layout(models_dir):
    validator = read_detection_validator(models_dir / VALIDATOR)
    assert len(validator.views) == 7
    np.testing.assert_allclose(
        np.rad2deg(validator.orientations[:, 1]), [0, -20, -45, -70, 20, 45, 70], atol=1e-9
    )
    view = validator.views[0]
    kinds = [layer.kind for layer in view.layers]
    assert kinds == [
        LayerKind.CONVOLUTION, LayerKind.RELU, LayerKind.MAX_POOLING,
        LayerKind.CONVOLUTION, LayerKind.RELU, LayerKind.MAX_POOLING,
        LayerKind.FULLY_CONNECTED, LayerKind.RELU, LayerKind.FULLY_CONNECTED,
    ]  # fmt: skip
    assert view.layers[0].weights.shape == (10, 1, 9, 9)
    assert view.layers[3].weights.shape == (10, 10, 7, 7)
    assert view.layers[6].weights.shape == (50, 1000)
    assert view.layers[8].weights.shape == (30, 50) and view.layers[8].biases.shape == (30,)
    warp = view.warp
    assert warp.mask.shape == (60, 60) and warp.mask.sum() == view.mean.size == 2642
    assert warp.triangles.shape == (97, 3) and warp.destination.shape == (68, 2)
    assert warp.min_x == pytest.approx(-29.763987446501343, abs=1e-5)
    assert np.all(warp.triangle_id[warp.mask] >= 0)
    assert not view.std.flags.writeable


def test_truncated_file(models_dir, tmp_path):
    data = (models_dir / VALIDATOR).read_bytes()
    path = tmp_path / "validator.txt"
    path.write_bytes(data[:100_000])
    with pytest.raises(ModelFileError, match=r"validator\.txt, byte \d+: unexpected end of file"):
        read_detection_validator(path)


def test_old_validator_type(models_dir, tmp_path):
    data = bytearray((models_dir / VALIDATOR).read_bytes())
    data[:4] = struct.pack("<i", 1)
    path = tmp_path / "validator.txt"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="byte 0: validator type 1 is not supported"):
        read_detection_validator(path)


def test_unknown_layer(models_dir, tmp_path):
    validator = read_detection_validator(models_dir / VALIDATOR)
    data = bytearray((models_dir / VALIDATOR).read_bytes())
    # The first layer code follows view 0's mean and std images and the depth.
    n = validator.views[0].mean.size
    offset = 8 + 7 * (12 + 24) + 2 * (12 + 8 * n) + 4
    assert struct.unpack_from("<i", data, offset)[0] == 0
    data[offset : offset + 4] = struct.pack("<i", 7)
    path = tmp_path / "validator.txt"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=rf"byte {offset}: unknown layer type 7"):
        read_detection_validator(path)
