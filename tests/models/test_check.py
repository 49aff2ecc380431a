"""Verifying a model folder: every state a file can be in."""

from __future__ import annotations

from openau.models import FileState, ModelStore, check_models, load_manifest

AU_FILE = "AU_predictors/svr_combined/AU_12_static_intensity_comb.dat"


def _states(report) -> dict[str, FileState]:
    return {s.entry.path: s.state for s in report.statuses}


def test_shared_folder_is_complete(models_dir):
    report = check_models(ModelStore.at(models_dir))
    assert report.ok and report.problems == ()
    states = _states(report)
    assert all(states[e.path] is FileState.OK for e in load_manifest().required)
    # The CE-CLM extras are absent here, and optional.
    assert all(states[e.path] is FileState.MISSING for e in load_manifest().optional)
    assert report.count(required=True, usable=True) == 89


def test_same_size_alteration_is_caught_by_sha256_only(models_copy):
    path = models_copy / AU_FILE
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    report = check_models(ModelStore.at(models_copy))
    assert not report.ok
    [problem] = report.problems
    assert problem.entry.path == AU_FILE and problem.state is FileState.WRONG_CHECKSUM
    assert "expected" in problem.detail and problem.path == path
    assert check_models(ModelStore.at(models_copy), quick=True).ok


def test_truncated_and_missing_files(models_copy):
    (models_copy / "model/mtcnn_detector/ONet.dat").unlink()
    truncated = models_copy / "model/patch_experts/ccnf_patches_0.5_general.txt"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    for quick in (False, True):
        report = check_models(ModelStore.at(models_copy), quick=quick)
        states = {s.entry.path: s.state for s in report.problems}
        assert states == {
            "model/mtcnn_detector/ONet.dat": FileState.MISSING,
            "model/patch_experts/ccnf_patches_0.5_general.txt": FileState.WRONG_SIZE,
        }


def test_optional_file_present_is_unverified_and_a_folder_is_not_a_file(models_copy):
    optional = load_manifest().optional[0]
    (models_copy / optional.path).write_bytes(b"\x01\x02")
    (models_copy / "model/haarAlign.txt").unlink()
    (models_copy / "model/haarAlign.txt").mkdir()
    states = _states(check_models(ModelStore.at(models_copy)))
    assert states[optional.path] is FileState.UNVERIFIED
    assert states["model/haarAlign.txt"] is FileState.MISSING
