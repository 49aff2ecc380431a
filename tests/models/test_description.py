"""Landmark-model description readers on OpenFace's real files and on malformed copies."""

from __future__ import annotations

import numpy as np
import pytest

from openau.errors import ModelFileError
from openau.models import (
    PatchExpertKind,
    clnf_model_files,
    read_clnf_description,
    read_face_detector_conversion,
    read_main_description,
)

MAIN = "model/main_clnf_general.txt"


def test_main_clnf_general(models_dir):
    main = read_main_description(models_dir / MAIN)
    model = models_dir / "model"
    assert main.landmark_detector == model / "clnf_general.txt"
    assert [p.name for p in main.parts] == ["inner", "left_eye_28", "right_eye_28"]
    inner, left, right = main.parts
    assert inner.path == model / "model_inner/main_clnf_inner.txt"
    # The inner face is the 51 points after the 17 jaw points, in order.
    assert inner.mapping.shape == (51, 2) and inner.mapping.dtype == np.int32
    np.testing.assert_array_equal(inner.mapping, np.c_[np.arange(17, 68), np.arange(51)])
    # Each eye maps its 6 eyelid corners onto every second point of the 28-point eye model.
    assert left.mapping.shape == right.mapping.shape == (6, 2)
    np.testing.assert_array_equal(left.mapping, np.c_[np.arange(36, 42), np.arange(8, 20, 2)])
    np.testing.assert_array_equal(right.mapping[:, 0], np.arange(42, 48))
    assert left.path.name == "main_clnf_synth_left.txt"
    assert main.face_detector_conversion == model / "haarAlign.txt"
    assert main.validator == model / "detection_validation/validator_cnn.txt"
    assert not inner.mapping.flags.writeable


def test_clnf_general(models_dir):
    clnf = read_clnf_description(models_dir / "model/clnf_general.txt")
    model = models_dir / "model"
    assert clnf.pdm == model / "pdms/In-the-wild_aligned_PDM_68.txt"
    assert clnf.triangulations == model / "tris_68.txt"
    assert [e.kind for e in clnf.patch_experts] == [PatchExpertKind.CCNF] * 3
    assert [e.path.name for e in clnf.patch_experts] == [
        "ccnf_patches_0.25_general.txt",
        "ccnf_patches_0.35_general.txt",
        "ccnf_patches_0.5_general.txt",
    ]
    assert clnf.early_termination is None


def test_part_models(models_dir):
    inner_main = read_main_description(models_dir / "model/model_inner/main_clnf_inner.txt")
    assert inner_main.parts == () and inner_main.validator is None
    inner = read_clnf_description(inner_main.landmark_detector)
    assert inner.pdm.name == "pdm_51_inner.txt" and inner.triangulations is None
    assert len(inner.patch_experts) == 1
    left = read_clnf_description(models_dir / "model/model_eye/clnf_left_synth.txt")
    assert left.pdm == models_dir / "model/model_eye/pdms/pdm_28_l_eye_3D_closed.txt"
    assert [e.path.name for e in left.patch_experts] == [
        "left_ccnf_patches_1.00_synth_lid_.txt",
        "left_ccnf_patches_1.50_synth_lid_.txt",
    ]


def test_other_model_kinds(models_dir):
    cen = read_clnf_description(models_dir / "model/cen_general.txt")
    assert {e.kind for e in cen.patch_experts} == {PatchExpertKind.CEN}
    assert cen.early_termination.name == "early_term_cen_of.txt"
    clm = read_clnf_description(models_dir / "model/clm_general.txt")
    assert {e.kind for e in clm.patch_experts} == {PatchExpertKind.SVR}
    # main_clnf_demos.txt carries OpenFace's misspelt, unused DetectorConstaints line.
    demos = read_main_description(models_dir / "model/main_clnf_demos.txt")
    assert [p.name for p in demos.parts] == ["left_eye_28", "right_eye_28"]


def test_face_detector_conversion(models_dir):
    matrix = read_face_detector_conversion(models_dir / "model/haarAlign.txt")
    assert matrix.shape == (3, 4) and matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix[:2], np.eye(2, 4))
    np.testing.assert_allclose(matrix[2], [0.055858, 0.229781, 0.871248, 0.892778])


def test_every_file_of_the_landmark_model(models_dir):
    files = clnf_model_files(models_dir / MAIN)
    assert files[0] == models_dir / MAIN
    assert len(files) == len(set(files)) == 23
    assert all(f.is_file() for f in files)
    names = {f.name for f in files}
    assert {"validator_cnn.txt", "haarAlign.txt", "pdm_51_inner.txt", "tris_68.txt"} <= names


# -- malformed copies ----------------------------------------------------------


def _edit(models_dir, tmp_path, relpath, edit, name=None):
    lines = (models_dir / relpath).read_text().splitlines()
    edit(lines)
    path = tmp_path / (name or relpath.rsplit("/", 1)[-1])
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: ls.__setitem__(2, ls[2] + " 99"), "line 3: part 'left_eye_28' needs pairs"),
        (lambda ls: ls.__setitem__(2, ls[2].replace("37 10", "37 x")), "line 3: .*found 'x'"),
        (lambda ls: ls.__setitem__(2, ls[2].replace("37 10", "36 10")), "line 3: .*appears twice"),
        (lambda ls: ls.__setitem__(1, "LandmarkDetector_part"), "line 2: .*needs a file name"),
        (lambda ls: ls.__setitem__(3, "FaceDetConverson haarAlign.txt"), "line 4: unknown module"),
        (lambda ls: ls.__setitem__(0, "# commented out"), "whole file: no LandmarkDetector line"),
        (
            lambda ls: ls.append("LandmarkDetector clnf_wild.txt"),
            "line 7: a second LandmarkDetector",
        ),
        (lambda ls: ls.__setitem__(5, ls[5] + " extra"), "line 6: unexpected 'extra'"),
    ],
)
def test_malformed_main_file(models_dir, tmp_path, edit, message):
    bad = _edit(models_dir, tmp_path, MAIN, edit, name="main.txt")
    with pytest.raises(ModelFileError, match=r"main\.txt, " + message):
        read_main_description(bad)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ls: ls.__setitem__(0, "PDN pdms/x.txt"), "line 1: unknown module 'PDN'"),
        (lambda ls: ls.__setitem__(1, "Triangulations"), "line 2: Triangulations needs a file"),
        (lambda ls: ls.append("PDM pdms/other.txt"), "line 6: a second PDM line"),
        (lambda ls: ls.pop(0), "whole file: no PDM line"),
        (lambda ls: ls.__delitem__(slice(2, None)), "whole file: no patch-expert line"),
    ],
)
def test_malformed_clnf_file(models_dir, tmp_path, edit, message):
    bad = _edit(models_dir, tmp_path, "model/clnf_general.txt", edit, name="clnf.txt")
    with pytest.raises(ModelFileError, match=r"clnf\.txt, " + message):
        read_clnf_description(bad)


def test_malformed_conversion(tmp_path):
    bad = tmp_path / "haarAlign.txt"
    bad.write_text("2\n4\n6\n1 0 0 0\n0 1 0 0\n")
    with pytest.raises(ModelFileError, match=r"haarAlign\.txt, line 1: expected a 3 x 4"):
        read_face_detector_conversion(bad)


def test_missing_referenced_file_names_it(models_dir, tmp_path):
    main = tmp_path / "main.txt"
    main.write_text((models_dir / MAIN).read_text())
    with pytest.raises(ModelFileError, match=r"clnf_general\.txt, opening"):
        clnf_model_files(main)
