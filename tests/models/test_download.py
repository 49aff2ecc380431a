"""The downloader against a local HTTP mirror of the model folder (127.0.0.1 only)."""

from __future__ import annotations

import socket

import pytest

from openau.errors import LicenseNotAcceptedError, ModelChecksumError, ModelDownloadError
from openau.models import Manifest, ModelStore, check_models, load_manifest
from openau.models.download import download_models, files_to_download
from openau.models.manifest import ManifestEntry, file_sha256

# A small subset spanning both folders, a binary and a 2.4 MB file (many chunks).
SUBSET = (
    "model/main_clnf_general.txt",
    "model/patch_experts/ccnf_patches_0.25_general.txt",
    "model/mtcnn_detector/PNet.dat",
    "AU_predictors/svm_combined/AU_1_dynamic.dat",
)
BIG = "model/patch_experts/ccnf_patches_0.25_general.txt"


def _download(store, server, paths=SUBSET, **kwargs):
    kwargs.setdefault("retry_delay", 0)
    return download_models(
        store,
        license_accepted=True,
        manifest=load_manifest().subset(paths),
        base_url=server.url,
        **kwargs,
    )


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_download_a_subset(tmp_path, model_server, models_dir):
    store = ModelStore.at(tmp_path / "models")
    events = []
    result = _download(store, model_server, progress=events.append)
    assert result.downloaded == tuple(sorted(SUBSET, key=list(SUBSET).index))
    assert _files(store.root) == sorted(SUBSET)
    for path in SUBSET:
        assert (store.root / path).read_bytes() == (models_dir / path).read_bytes()
    assert check_models(store, load_manifest().subset(SUBSET)).ok
    # Progress: a start and a done per file; data events reach the full size.
    assert [e.event for e in events if e.event != "data"] == ["start", "done"] * len(SUBSET)
    big = [e for e in events if e.path == BIG and e.event == "data"]
    assert len(big) > 5 and big[-1].done == big[-1].total == 2429528
    assert {e.count for e in events} == {len(SUBSET)}
    # A second run has nothing to do and sends no request.
    before = len(model_server.requests)
    assert _download(store, model_server).downloaded == ()
    assert len(model_server.requests) == before


def test_nothing_is_written_without_consent(tmp_path, model_server):
    store = ModelStore.at(tmp_path / "models")
    with pytest.raises(LicenseNotAcceptedError, match="licence was not accepted"):
        download_models(store, license_accepted=False, base_url=model_server.url)
    assert not store.root.exists() and model_server.requests == []


def test_corrupt_download_leaves_nothing_and_names_the_file(tmp_path, model_server):
    path = "AU_predictors/svm_combined/AU_1_dynamic.dat"
    model_server.corrupt.add(path)
    store = ModelStore.at(tmp_path / "models")
    with pytest.raises(ModelChecksumError, match=f"{path}: the downloaded file has SHA-256"):
        _download(store, model_server, paths=[path])
    assert _files(store.root) == []
    assert model_server.count(path) == 1, "a fresh download is not retried"


def test_interrupted_transfer_resumes_with_a_range_request(tmp_path, model_server, models_dir):
    model_server.drop_first.add(BIG)
    store = ModelStore.at(tmp_path / "models")
    events = []
    _download(store, model_server, paths=[BIG], progress=events.append)
    assert model_server.count(BIG) == 2
    assert model_server.ranged_requests(BIG) == [f"bytes={2429528 // 2}-"]
    assert file_sha256(store.root / BIG) == load_manifest().get(BIG).sha256
    assert [e.event for e in events if e.event not in ("data",)] == ["start", "retry", "done"]
    assert _files(store.root) == [BIG]


def test_interrupted_run_resumes_on_the_next_run(tmp_path, model_server):
    model_server.drop_first.add(BIG)
    store = ModelStore.at(tmp_path / "models")
    with pytest.raises(ModelDownloadError, match=f"could not download {BIG}.*resumes it"):
        _download(store, model_server, paths=[BIG], attempts=1)
    partial = store.root / (BIG + ".partial")
    assert partial.stat().st_size == 2429528 // 2 and not (store.root / BIG).exists()
    _download(store, model_server, paths=[BIG], attempts=1)
    assert model_server.ranged_requests(BIG) == [f"bytes={2429528 // 2}-"]
    assert _files(store.root) == [BIG]


def test_server_ignoring_range_restarts_cleanly(tmp_path, model_server):
    model_server.drop_first.add(BIG)
    model_server.ranges = False
    store = ModelStore.at(tmp_path / "models")
    _download(store, model_server, paths=[BIG])
    assert check_models(store, load_manifest().subset([BIG])).ok


def test_stale_partial_that_fails_verification_is_refetched_whole(tmp_path, model_server):
    store = ModelStore.at(tmp_path / "models")
    partial = store.root / (BIG + ".partial")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\0" * 1000)  # wrong bytes from some earlier attempt
    _download(store, model_server, paths=[BIG])
    assert model_server.ranged_requests(BIG) == ["bytes=1000-"]
    assert model_server.count(BIG) == 2
    assert _files(store.root) == [BIG]
    assert check_models(store, load_manifest().subset([BIG])).ok


def test_corrupt_local_file_is_replaced(models_copy, model_server):
    path = "AU_predictors/AU_all_best.txt"
    (models_copy / path).write_text("garbage")
    store = ModelStore.at(models_copy)
    assert [e.path for e in files_to_download(store)] == [path]
    result = download_models(store, license_accepted=True, base_url=model_server.url)
    assert result.downloaded == (path,)
    assert model_server.requests == [(path, None)]
    assert check_models(store).ok


def test_http_error_names_the_file(tmp_path, model_server):
    path = "model/mtcnn_detector/PNet.dat"
    model_server.missing.add(path)
    with pytest.raises(ModelDownloadError, match=f"could not download {path}: .*HTTP 404"):
        _download(ModelStore.at(tmp_path / "m"), model_server, paths=[path])


def test_unreachable_server(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ModelDownloadError, match="after 2 attempts"):
        download_models(
            ModelStore.at(tmp_path / "m"),
            license_accepted=True,
            manifest=load_manifest().subset(["model/haarAlign.txt"]),
            base_url=f"http://127.0.0.1:{port}",
            attempts=2,
            retry_delay=0,
        )


def test_base_url_from_environment(tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("OPENAU_MODELS_URL", model_server.url + "/")
    store = ModelStore.at(tmp_path / "m")
    download_models(
        store, license_accepted=True, manifest=load_manifest().subset(["model/haarAlign.txt"])
    )
    assert model_server.requests == [("model/haarAlign.txt", None)]


def test_unverifiable_optional_file(tmp_path, model_server, models_dir):
    # Stand-in for a CE-CLM file: no size, no checksum, served from the mirror.
    entry = ManifestEntry("model/tris_68.txt", "ce-clm", False, None, None, ("unused",))
    manifest = Manifest("2.2.0", (entry,))
    store = ModelStore.at(tmp_path / "m")
    kwargs = dict(license_accepted=True, manifest=manifest, base_url=model_server.url)
    assert download_models(store, **kwargs).unverified == ()  # optional: skipped by default
    result = download_models(store, include_optional=True, **kwargs)
    assert result.unverified == ("model/tris_68.txt",) and result.downloaded == ()
    assert (store.root / entry.path).read_bytes() == (models_dir / entry.path).read_bytes()

    (store.root / entry.path).unlink()
    model_server.html.add(entry.path)
    with pytest.raises(ModelChecksumError, match="tris_68.txt: the downloaded file is a web page"):
        download_models(store, include_optional=True, **kwargs)
    assert _files(store.root) == []
