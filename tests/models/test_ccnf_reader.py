"""CCNF patch-expert reader on OpenFace's real files and on malformed copies."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from openau.errors import ModelFileError
from openau.models.ccnf import read_ccnf_patch_experts

GENERAL = "model/patch_experts/ccnf_patches_0.25_general.txt"
EYE = "model/model_eye/patch_experts/left_ccnf_patches_1.00_synth_lid_.txt"


def test_general_scale_layout(models_dir):
    experts = read_ccnf_patch_experts(models_dir / GENERAL)
    assert experts.scale == 0.25
    assert experts.n_points == 68 and len(experts.views) == 7
    # View centres are yaw angles 0, -20, -45, -70, 70, 45, 20 degrees, in radians.
    np.testing.assert_allclose(
        np.rad2deg(experts.view_centres[:, 1]), [0, -20, -45, -70, 70, 45, 20], atol=1e-9
    )
    assert experts.sigma_windows == (7, 9, 11, 15)
    assert experts.components_for(9).shape == (3, 81, 81)
    assert experts.components_for(9).dtype == np.float32
    assert experts.components_for(5) is None
    frontal, profile = experts.views[0], experts.views[3]
    assert frontal.visible.sum() == 68 and profile.visible.sum() == 35
    assert frontal.weights.shape == (68, 7, 11, 11) and frontal.weights.dtype == np.float32
    assert frontal.patch_shape == (11, 11)
    assert frontal.betas.shape == (68, 3)
    assert np.all(frontal.alphas > 0) and np.all(frontal.confidences > 0)
    # Invisible landmarks have empty (zero) experts.
    assert not np.any(profile.weights[~profile.visible])
    assert not frontal.weights.flags.writeable


def test_record_by_record_reading_gives_the_same_experts(models_dir, monkeypatch):
    # A whole view is read in a few structured reads; the record-by-record
    # path (taken for irregular files, to name the bad offset) must agree.
    from openau.models import ccnf

    fast = read_ccnf_patch_experts(models_dir / EYE)
    monkeypatch.setattr(ccnf, "_read_view_fast", lambda *args: None)
    slow = read_ccnf_patch_experts(models_dir / EYE)
    for a, b in zip(fast.views, slow.views, strict=True):
        for name in ("weights", "norm_weights", "biases", "alphas", "betas", "confidences"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_first_expert_known_values(models_dir):
    # Landmark 0 of the frontal view: first neuron's norm weight, bias and
    # alpha as written in the file (cross-checked with a byte dump).
    view = read_ccnf_patch_experts(models_dir / GENERAL).views[0]
    assert view.norm_weights[0, 0] == pytest.approx(28.984707104560254)
    assert view.biases[0, 0] == pytest.approx(-10.343199672760921)
    assert view.alphas[0, 0] == pytest.approx(5.930141895828995)
    assert view.confidences[0] == pytest.approx(0.23381420743325737)


def test_eye_experts_have_no_edge_potentials(models_dir):
    experts = read_ccnf_patch_experts(models_dir / EYE)
    assert experts.n_points == 28 and len(experts.views) == 1
    assert experts.components_for(3).shape == (0, 9, 9)
    assert experts.views[0].betas.shape == (28, 0)


def _copy(models_dir, tmp_path, data: bytes):
    path = tmp_path / "ccnf.txt"
    path.write_bytes(data)
    return path


def test_truncated_file(models_dir, tmp_path):
    data = (models_dir / GENERAL).read_bytes()
    path = _copy(models_dir, tmp_path, data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=r"ccnf\.txt, byte \d+: unexpected end of file"):
        read_ccnf_patch_experts(path)


def test_trailing_bytes(models_dir, tmp_path):
    data = (models_dir / GENERAL).read_bytes()
    path = _copy(models_dir, tmp_path, data + b"\0" * 4)
    with pytest.raises(ModelFileError, match=rf"byte {len(data)}: 4 unexpected bytes"):
        read_ccnf_patch_experts(path)


def test_bad_expert_marker(models_dir, tmp_path):
    data = bytearray((models_dir / EYE).read_bytes())
    # The first expert starts right after the header: find its marker (5)
    # followed by width 11, height 11.
    offset = bytes(data).index(struct.pack("<3i", 5, 11, 11))
    data[offset : offset + 4] = struct.pack("<i", 9)
    path = _copy(models_dir, tmp_path, bytes(data))
    with pytest.raises(ModelFileError, match=rf"byte {offset}: expected patch expert marker 5"):
        read_ccnf_patch_experts(path)


def test_depth_neuron_rejected(models_dir, tmp_path):
    data = bytearray((models_dir / EYE).read_bytes())
    offset = bytes(data).index(struct.pack("<3i", 5, 11, 11)) + 16  # first neuron
    assert struct.unpack_from("<2i", data, offset) == (2, 0)
    data[offset + 4 : offset + 8] = struct.pack("<i", 3)
    path = _copy(models_dir, tmp_path, bytes(data))
    with pytest.raises(ModelFileError, match=rf"byte {offset + 4}: unsupported neuron type 3"):
        read_ccnf_patch_experts(path)


def test_bad_neuron_deep_in_a_view(models_dir, tmp_path):
    # Views are read whole when regular; an irregular record further in must
    # still be reported at its own offset.
    data = bytearray((models_dir / GENERAL).read_bytes())
    header = struct.pack("<4i", 5, 11, 11, 7)
    offset = -1
    for _ in range(5):
        offset = bytes(data).index(header, offset + 1)
    neuron = offset + 16 + 3 * (8 + 24 + 12 + 121 * 4)  # the fourth neuron
    assert struct.unpack_from("<2i", data, neuron) == (2, 0)
    data[neuron + 4 : neuron + 8] = struct.pack("<i", 3)
    path = _copy(models_dir, tmp_path, bytes(data))
    with pytest.raises(ModelFileError, match=rf"byte {neuron + 4}: unsupported neuron type 3"):
        read_ccnf_patch_experts(path)


def test_negative_scale(models_dir, tmp_path):
    data = bytearray((models_dir / EYE).read_bytes())
    data[:8] = struct.pack("<d", -1.0)
    path = _copy(models_dir, tmp_path, bytes(data))
    with pytest.raises(ModelFileError, match="byte 0: patch scale must be positive"):
        read_ccnf_patch_experts(path)
