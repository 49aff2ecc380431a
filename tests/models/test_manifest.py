"""The shipped manifest: complete, matching OpenFace's files and their published checksums.

Regeneration is ``write_manifest(build_manifest(folder), path)``; the first test
fails when the shipped file and that computation disagree.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from openau.models import load_manifest
from openau.models.manifest import build_manifest, pipeline_files, upstream_url

RAW = "https://raw.githubusercontent.com/TadasBaltrusaitis/OpenFace/OpenFace_2.2.0/lib/local"


def _shipped() -> dict:
    text = resources.files("openau.models").joinpath("manifest.json").read_text("utf-8")
    return json.loads(text)


def test_shipped_manifest_is_what_build_manifest_computes(models_dir):
    assert _shipped() == build_manifest(models_dir)


def test_checksums_match_the_published_sums(models_dir):
    published = {}
    for line in (models_dir / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        published[path.lstrip("*")] = digest
    manifest = load_manifest()
    for entry in manifest.required:
        assert entry.sha256 == published[entry.path], entry.path
        assert entry.size == (models_dir / entry.path).stat().st_size, entry.path


def test_required_files_cover_the_pipeline(models_dir):
    paths = {e.path for e in load_manifest().required}
    assert set(pipeline_files(models_dir)) == paths
    expected = {
        "model/main_clnf_general.txt",
        "model/clnf_general.txt",
        "model/pdms/In-the-wild_aligned_PDM_68.txt",
        "model/tris_68.txt",
        "model/patch_experts/ccnf_patches_0.25_general.txt",
        "model/patch_experts/ccnf_patches_0.35_general.txt",
        "model/patch_experts/ccnf_patches_0.5_general.txt",
        "model/model_inner/patch_experts/ccnf_patches_1.00_inner.txt",
        "model/model_eye/pdms/pdm_28_eye_3D_closed.txt",
        "model/haarAlign.txt",
        "model/detection_validation/validator_cnn.txt",
        "model/mtcnn_detector/MTCNN_detector.txt",
        "model/mtcnn_detector/PNet.dat",
        "model/mtcnn_detector/RNet.dat",
        "model/mtcnn_detector/ONet.dat",
        "AU_predictors/main_dynamic_svms.txt",
        "AU_predictors/main_static_svms.txt",
        "AU_predictors/AU_all_best.txt",
        "AU_predictors/AU_all_static.txt",
        "AU_predictors/In-the-wild_aligned_PDM_68.txt",
        "AU_predictors/tris_68_full.txt",
        "AU_predictors/svr_combined/AU_1_dynamic_intensity_comb.dat",
        "AU_predictors/svm_combined/AU_45_static.dat",
    }
    assert expected <= paths
    # 18 presence + 17 intensity predictors, dynamic and static sets overlapping.
    assert sum(p.endswith(".dat") and "combined" in p for p in paths) == 56
    assert not any("disfa" in p.lower() for p in paths)


def test_addresses_and_optional_entries():
    manifest = load_manifest()
    for entry in manifest.required:
        assert entry.verifiable
        assert entry.urls == (upstream_url(entry.path),)
    assert upstream_url("model/tris_68.txt") == f"{RAW}/LandmarkDetector/model/tris_68.txt"
    assert upstream_url("AU_predictors/AU_all_best.txt") == (
        f"{RAW}/FaceAnalyser/AU_predictors/AU_all_best.txt"
    )
    optional = manifest.optional
    assert [e.path.rsplit("/", 1)[1] for e in optional] == [
        f"cen_patches_{s}_of.dat" for s in ("0.25", "0.35", "0.50", "1.00")
    ]
    for entry in optional:
        assert entry.size is None and entry.sha256 is None and not entry.verifiable
        assert entry.urls[0].startswith("https://www.dropbox.com/") and entry.note


def test_subset_and_lookup():
    manifest = load_manifest()
    subset = manifest.subset(["AU_predictors/AU_all_best.txt", "model/tris_68.txt"])
    assert [e.path for e in subset] == ["model/tris_68.txt", "AU_predictors/AU_all_best.txt"]
    with pytest.raises(KeyError, match="nope"):
        manifest.subset(["model/nope.txt"])
    with pytest.raises(KeyError, match="not in the OpenFace 2.2.0 manifest"):
        manifest.get("model/nope.txt")
    with pytest.raises(ValueError, match="not under model or AU_predictors"):
        upstream_url("classifiers/haar.xml")
