"""The ONNX graphs against the pure-numpy oracle of OpenFace's CNN layers."""

from __future__ import annotations

import numpy as np
import pytest

from openau.detect import build_onnx, forward_numpy, run_cascade
from openau.detect._oracle import pool_output_size

# The bound. Measured: at most 6e-6 on random inputs and 5e-6 on real
# crops (float32 sums in a different order: ONNX Runtime's blocked convolutions
# against numpy's BLAS).
ATOL = 1e-4

SIZES = {"pnet": None, "rnet": (24, 24), "onet": (48, 48)}


def _session(net, size, **options):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    graph = build_onnx(net, size, **options).SerializeToString()
    session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"image": x})[0]


@pytest.mark.parametrize(
    ("which", "shape"),
    [
        ("pnet", (1, 3, 12, 12)),
        ("pnet", (2, 3, 37, 50)),  # odd sizes: pooling windows past the border
        ("pnet", (1, 3, 96, 128)),
        ("rnet", (5, 3, 24, 24)),
        ("onet", (3, 3, 48, 48)),
    ],
)
def test_onnx_matches_numpy_on_random_input(mtcnn_model, which, shape):
    net = getattr(mtcnn_model, which)
    x = np.random.default_rng(7).uniform(-1, 1, shape).astype(np.float32)
    expected = forward_numpy(net, x)
    got = _session(net, SIZES[which])(x)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)


def test_output_shapes(mtcnn_model):
    x = np.zeros((2, 3, 30, 41), np.float32)
    # conv 3 -> 28x39, pool (round((28-2)/2)+1 = 14, round(18.5)+1 = 20), two 3x3 convs -> 10x16
    assert forward_numpy(mtcnn_model.pnet, x).shape == (2, 6, 10, 16)
    assert forward_numpy(mtcnn_model.rnet, np.zeros((4, 3, 24, 24), np.float32)).shape == (4, 6)
    assert forward_numpy(mtcnn_model.onet, np.zeros((1, 3, 48, 48), np.float32)).shape == (1, 16)


def test_onnx_matches_numpy_on_real_crops(mtcnn_model, cpu_detector, reference_cases):
    """Every network input the cascade builds for a 3-face frame, through both."""
    case = next(c for c in reference_cases if c.name == "of_multi_face")
    seen = {"pnet": [], "rnet": [], "onet": []}
    nets = cpu_detector.networks()

    def recording(which, fn):
        def run(x):
            seen[which].append(x.copy())
            return fn(x)

        return run

    run_cascade([case.image], *(recording(w, fn) for w, fn in zip(seen, nets, strict=True)))
    assert len(seen["pnet"]) == 7 and seen["rnet"][0].shape[0] > 10 and seen["onet"][0].shape[0] > 3
    for which, inputs in seen.items():
        net = getattr(mtcnn_model, which)
        session = _session(net, SIZES[which])
        for x in inputs:
            np.testing.assert_allclose(session(x), forward_numpy(net, x), rtol=0, atol=ATOL)


def test_channel_padding_changes_nothing(mtcnn_model):
    x = np.random.default_rng(3).uniform(-1, 1, (6, 3, 24, 24)).astype(np.float32)
    plain = _session(mtcnn_model.rnet, (24, 24), channel_block=1)(x)
    padded = _session(mtcnn_model.rnet, (24, 24), channel_block=16)(x)
    np.testing.assert_allclose(plain, padded, rtol=0, atol=1e-5)


def test_pool_size_rule():
    # OpenFace: round((n - k) / s) + 1, halves away from zero.
    assert pool_output_size(10, 2, 2) == 5
    assert pool_output_size(11, 2, 2) == 6  # 4.5 rounds up
    assert pool_output_size(22, 3, 2) == 11  # R-Net: 24 -> conv -> 22 -> 11
    assert pool_output_size(12, 3, 3) == 4  # 3.0
    assert pool_output_size(13, 3, 3) == 4  # 3.33 rounds down (ONNX ceil_mode would give 5)


def test_flattening_needs_a_fixed_size(mtcnn_model):
    with pytest.raises(ValueError, match="flattening needs a fixed input size"):
        build_onnx(mtcnn_model.rnet, None)


def test_export_writes_loadable_graphs(cpu_detector, mtcnn_model, tmp_path):
    import onnx

    written = cpu_detector.export_onnx(tmp_path / "onnx")
    assert sorted(p.name for p in written.values()) == ["ONet.onnx", "PNet.onnx", "RNet.onnx"]
    model = onnx.load(str(written["ONet"]))
    onnx.checker.check_model(model)
    assert model.graph.input[0].name == "image"
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 48, 48)).astype(np.float32)
    import onnxruntime as ort

    session = ort.InferenceSession(str(written["ONet"]), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(
        session.run(None, {"image": x})[0], forward_numpy(mtcnn_model.onet, x), rtol=0, atol=ATOL
    )
