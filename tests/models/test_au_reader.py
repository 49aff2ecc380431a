"""AU model readers on OpenFace's real files and on malformed copies."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest

from openau.errors import ModelFileError
from openau.models import read_au_model, read_au_models, read_face_analyser

INTENSITY = (
    "AU01 AU02 AU04 AU05 AU06 AU07 AU09 AU10 AU12 AU14 AU15 AU17 AU20 AU23 AU25 AU26 AU45"
).split()
PRESENCE = INTENSITY[:-1] + ["AU28", "AU45"]
N_FEATURES = 4464 + 238  # HOG + geometry


def test_video_set_has_17_intensity_and_18_presence_models(models_dir):
    models = read_face_analyser(models_dir)
    aus = models.aus
    assert models.dynamic
    assert list(aus.intensity_names) == INTENSITY
    assert list(aus.presence_names) == PRESENCE
    assert all(m.n_features == N_FEATURES for m in aus.models)
    by_name = {m.au: m for m in aus.intensity}
    # AU_all_best.txt: AU01 intensity is the dynamic combined model, cutoff 0.55 ...
    assert by_name["AU01"].dynamic and by_name["AU01"].cutoff == pytest.approx(0.55)
    assert by_name["AU01"].source.endswith("AU_1_dynamic_intensity_comb.dat")
    # ... and AU04's is static (no running median, no cutoff).
    assert not by_name["AU04"].dynamic and by_name["AU04"].cutoff is None
    presence = {m.au: m for m in aus.presence}
    assert presence["AU12"].positive == 1.0 and presence["AU12"].negative == 0.0
    # Some of OpenFace's classifiers report 0 for a positive score.
    assert presence["AU01"].positive == 0.0 and presence["AU01"].negative == 1.0
    assert models.pdm.n_points == 68 and models.triangulation.shape == (111, 3)
    assert not by_name["AU01"].weights.flags.writeable


def test_image_set_is_all_static(models_dir):
    models = read_face_analyser(models_dir, dynamic=False)
    assert not models.dynamic
    assert len(models.aus.intensity) == 17 and len(models.aus.presence) == 18
    assert not any(m.dynamic for m in models.aus.models)


@pytest.fixture
def model_copy(models_dir, tmp_path):
    """A copy of one dynamic intensity model file (type, cutoff, means, weights, bias)."""
    source = models_dir / "AU_predictors/svr_combined/AU_1_dynamic_intensity_comb.dat"
    target = tmp_path / "model.dat"
    shutil.copy(source, target)
    return target


def test_reads_a_copy(model_copy):
    model = read_au_model(model_copy, "AU01")
    assert model.task == "intensity" and model.dynamic
    assert model.means.shape == model.weights.shape == (N_FEATURES,)
    assert np.all(np.isfinite(model.weights))


def test_truncated_file_names_the_byte(model_copy):
    data = model_copy.read_bytes()
    model_copy.write_bytes(data[:1000])
    with pytest.raises(ModelFileError, match=r"model\.dat, byte \d+: unexpected end of file"):
        read_au_model(model_copy, "AU01")


def test_unknown_model_type(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[:4] = struct.pack("<i", 3)
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="byte 0: unsupported AU model type 3"):
        read_au_model(model_copy, "AU01")


def test_trailing_bytes(model_copy):
    model_copy.write_bytes(model_copy.read_bytes() + b"\0" * 8)
    with pytest.raises(ModelFileError, match="8 unexpected bytes after the model"):
        read_au_model(model_copy, "AU01")


def test_mismatched_sizes(model_copy):
    data = bytearray(model_copy.read_bytes())
    # type (4) + cutoff (8) + means header (12) + means (4702 * 8); then the
    # weights header: make it claim 4701 rows.
    offset = 4 + 8 + 12 + N_FEATURES * 8
    data[offset : offset + 4] = struct.pack("<i", N_FEATURES - 1)
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=f"byte {offset}: support vector must be"):
        read_au_model(model_copy, "AU01")


def test_non_finite_bias(model_copy):
    data = bytearray(model_copy.read_bytes())
    data[-8:] = struct.pack("<d", float("nan"))
    model_copy.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="bias is not finite"):
        read_au_model(model_copy, "AU01")


def test_list_file_errors(model_copy, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("model.dat\n")
    with pytest.raises(ModelFileError, match=r"list\.txt, line 1: expected '<model file> <AU name>'"):
        read_au_models(listing)
    listing.write_text("model.dat AU01\nmodel.dat AU01\n")
    with pytest.raises(ModelFileError, match="line 2: second intensity model for AU01"):
        read_au_models(listing)
    listing.write_text("missing.dat AU01\n")
    with pytest.raises(ModelFileError, match=r"missing\.dat, opening"):
        read_au_models(listing)


def test_main_file_errors(tmp_path):
    main = tmp_path / "main_dynamic_svms.txt"
    main.write_text("AUPredictor list.txt\nPDM pdm.txt\n")
    with pytest.raises(ModelFileError, match="missing Triangulation"):
        read_face_analyser(main)
    main.write_text("Predictor list.txt\n")
    with pytest.raises(ModelFileError, match="line 1: expected 'AUPredictor"):
        read_face_analyser(main)
