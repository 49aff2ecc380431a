"""MTCNN .dat reader on OpenFace's real networks and on malformed copies."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from openau.errors import ModelFileError, ModelsNotFoundError
from openau.models import find_mtcnn_dir, read_cnn, read_mtcnn
from openau.models.mtcnn import (
    ConvLayer,
    FullyConnectedLayer,
    MaxPoolLayer,
    PReLULayer,
)

MTCNN_DIR = "model/mtcnn_detector"


def _kinds(net):
    short = {ConvLayer: "conv", MaxPoolLayer: "pool", PReLULayer: "prelu", FullyConnectedLayer: "fc"}
    return [short[type(layer)] for layer in net.layers]


def test_layer_structure(models_dir):
    model = read_mtcnn(models_dir)
    assert _kinds(model.pnet) == ["conv", "prelu", "pool", "conv", "prelu", "conv", "prelu", "fc"]
    assert _kinds(model.rnet) == [
        "conv", "prelu", "pool", "conv", "prelu", "pool", "conv", "prelu", "fc", "prelu", "fc",
    ]  # fmt: skip
    assert _kinds(model.onet) == [
        "conv", "prelu", "pool", "conv", "prelu", "pool", "conv", "prelu", "pool",
        "conv", "prelu", "fc", "prelu", "fc",
    ]  # fmt: skip
    # Published MTCNN sizes (Zhang et al. 2016): P-Net 3-10-16-32, R-Net 3-28-48-64-128,
    # O-Net 3-32-64-64-128-256; outputs 2 + 4 (P/R) and 2 + 4 + 10 (O).
    convs = [layer.weights.shape for layer in model.onet.layers if isinstance(layer, ConvLayer)]
    assert convs == [(32, 3, 3, 3), (64, 32, 3, 3), (64, 64, 3, 3), (128, 64, 2, 2)]
    assert model.pnet.layers[-1].weights.shape == (6, 32)
    assert model.rnet.layers[8].weights.shape == (128, 576)  # 64 maps of 3x3
    assert model.onet.layers[-1].weights.shape == (16, 256)
    assert model.rnet.layers[2] == MaxPoolLayer(kernel=(3, 3), stride=(2, 2))
    for net in (model.pnet, model.rnet, model.onet):
        assert net.in_channels == 3
        for layer in net.layers:
            for name in ("weights", "bias", "slopes"):
                if hasattr(layer, name):
                    array = getattr(layer, name)
                    assert array.dtype == np.float32 and not array.flags.writeable


def test_first_values_match_the_file(models_dir):
    """Weights land where the file puts them (in-map outer, kernel inner)."""
    raw = (models_dir / MTCNN_DIR / "PNet.dat").read_bytes()
    depth, layer_type, n_in, n_out = struct.unpack_from("<4i", raw, 0)
    assert (depth, layer_type, n_in, n_out) == (8, 0, 3, 10)
    biases = np.frombuffer(raw, "<f4", n_out, 16)
    offset = 16 + 4 * n_out
    rows, cols, cv_type = struct.unpack_from("<3i", raw, offset)
    first_kernel = np.frombuffer(raw, "<f4", rows * cols, offset + 12).reshape(rows, cols)
    second = offset + 12 + 4 * rows * cols  # in-map 0, kernel 1
    second_kernel = np.frombuffer(raw, "<f4", 9, second + 12).reshape(3, 3)
    conv = read_cnn(models_dir / MTCNN_DIR / "PNet.dat").layers[0]
    np.testing.assert_array_equal(conv.bias, biases)
    np.testing.assert_array_equal(conv.weights[0, 0], first_kernel)
    np.testing.assert_array_equal(conv.weights[1, 0], second_kernel)


@pytest.mark.parametrize("where", ["", "model", MTCNN_DIR, f"{MTCNN_DIR}/MTCNN_detector.txt"])
def test_find_mtcnn_dir(models_dir, where):
    assert find_mtcnn_dir(models_dir / where) == models_dir / MTCNN_DIR


def test_missing_models(tmp_path):
    with pytest.raises(ModelsNotFoundError, match="no MTCNN detector"):
        read_mtcnn(tmp_path)


def _copy_dir(models_dir, tmp_path):
    folder = tmp_path / "mtcnn_detector"
    folder.mkdir()
    for name in ("PNet.dat", "RNet.dat", "ONet.dat", "MTCNN_detector.txt"):
        (folder / name).write_bytes((models_dir / MTCNN_DIR / name).read_bytes())
    return folder


def test_truncated_network(models_dir, tmp_path):
    folder = _copy_dir(models_dir, tmp_path)
    data = (folder / "RNet.dat").read_bytes()
    (folder / "RNet.dat").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"RNet.dat, byte \d+: unexpected end of file"):
        read_mtcnn(folder)


def test_trailing_bytes(models_dir, tmp_path):
    folder = _copy_dir(models_dir, tmp_path)
    with open(folder / "PNet.dat", "ab") as f:
        f.write(b"\0" * 8)
    with pytest.raises(ModelFileError, match="8 unexpected bytes after the last layer"):
        read_mtcnn(folder)


def test_unknown_layer_type(models_dir, tmp_path):
    folder = _copy_dir(models_dir, tmp_path)
    data = bytearray((folder / "PNet.dat").read_bytes())
    data[4:8] = struct.pack("<i", 9)
    (folder / "PNet.dat").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="PNet.dat, byte 4: unknown layer type 9"):
        read_mtcnn(folder)


def test_listing_file_names_the_networks(models_dir, tmp_path):
    folder = _copy_dir(models_dir, tmp_path)
    (folder / "ONet.dat").rename(folder / "other.dat")
    (folder / "ONet.dat").write_bytes(b"")  # present, so the folder is found, but not used
    (folder / "MTCNN_detector.txt").write_text("PNet PNet.dat\nRNet RNet.dat\nONet other.dat\n")
    model = read_mtcnn(folder)
    assert model.onet.name == "other" and len(model.onet.layers) == 14


def test_model_store_is_accepted(models_dir):
    from openau.models import ModelStore

    store = ModelStore.at(models_dir)
    assert find_mtcnn_dir(store) == models_dir / MTCNN_DIR
    assert len(read_mtcnn(store).rnet.layers) == 11


def test_kernel_of_another_shape(models_dir, tmp_path):
    folder = _copy_dir(models_dir, tmp_path)
    data = bytearray((folder / "RNet.dat").read_bytes())
    # Layer 0: 4 count + 4 type + 8 map counts + 28 float biases, then 48-byte kernels.
    offset = 16 + 28 * 4 + 5 * 48
    assert struct.unpack_from("<3i", data, offset) == (3, 3, 5)
    struct.pack_into("<i", data, offset, 4)
    (folder / "RNet.dat").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=rf"RNet.dat, byte {offset}: convolution kernel 5 has header \[4, 3, 5\]"):
        read_mtcnn(folder)
