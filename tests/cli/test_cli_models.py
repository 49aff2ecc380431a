"""``openau models check | download | link | unlink``: exit codes and messages."""

from __future__ import annotations

import io

import pytest

from openau.cli import main
from openau.models import locate_models

AU_FILE = "AU_predictors/svm_combined/AU_12_static.dat"


def _run(capsys, *argv):
    code = main(["models", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_shared_folder(capsys, models_dir):
    code, out, err = _run(capsys, "check", "--models", str(models_dir))
    assert code == 0, out + err
    assert f"Model folder: {models_dir} (from --models, installed layout)" in out
    assert "  au          62/62 verified" in out
    assert "All 89 required files are present and verified." in out
    assert err == ""


def test_check_altered_au_file_names_it_and_the_fix(capsys, models_copy):
    path = models_copy / AU_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    code, out, _ = _run(capsys, "check", "--models", str(models_copy))
    assert code == 1
    assert f"wrong checksum {AU_FILE} (SHA-256 " in out
    assert f"Fix: `openau models download --models {models_copy}`" in out
    assert "1 of 89 required files are missing or corrupt (1 wrong checksum)" in out
    # A size-only check cannot see a same-size alteration, and says so.
    code, out, _ = _run(capsys, "check", "--models", str(models_copy), "--quick")
    assert code == 0 and "run without --quick to verify their SHA-256" in out


def test_check_uses_the_environment(capsys, models_dir, user_dirs, monkeypatch):
    monkeypatch.setenv("OPENAU_MODELS", str(models_dir))
    code, out, _ = _run(capsys, "check", "--verbose")
    assert code == 0 and "(from OPENAU_MODELS" in out
    assert "  ok             model/main_clnf_general.txt" in out
    assert "  missing        model/patch_experts/cen_patches_0.25_of.dat" in out


def test_check_empty_user_folder(capsys, user_dirs):
    code, out, _ = _run(capsys, "check")
    assert code == 1
    assert "(from user data folder" in out and "does not exist" in out
    assert "... and 78 more (--verbose lists every file)" in out
    assert "Fix: `openau models download` fetches them" in out


def test_download_refused_writes_nothing(capsys, tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("OPENAU_MODELS_URL", model_server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # only YES counts
    target = tmp_path / "models"
    code, out, err = _run(capsys, "download", "--models", str(target))
    assert code == 1
    assert "Carnegie Mellon University" in err and "non-commercial" in err
    assert "OpenFace-license.txt" in err
    assert "Type YES to accept" in err
    assert err.rstrip().endswith(
        "openau: error: licence not accepted (answer YES or pass --accept-license); "
        "nothing was downloaded"
    )
    assert not target.exists() and model_server.requests == []


def test_download_with_prompt_fetches_only_what_is_missing(
    capsys, models_copy, model_server, monkeypatch
):
    monkeypatch.setenv("OPENAU_MODELS_URL", model_server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO("YES\n"))
    gone = ["model/haarAlign.txt", AU_FILE]
    for path in gone:
        (models_copy / path).unlink()
    code, out, err = _run(capsys, "download", "--models", str(models_copy))
    assert code == 0, out + err
    assert "2 files (0.1 MB) will be downloaded to" in err
    assert "[1/2] model/haarAlign.txt ..." in err and "[2/2] " + AU_FILE + ": done" in err
    assert sorted(p for p, _ in model_server.requests) == sorted(gone)
    assert "All 89 required files are present and verified." in out
    # Nothing left to do: no licence prompt, no request.
    code, out, _ = _run(capsys, "download", "--models", str(models_copy))
    assert code == 0 and "Nothing to download" in out


def test_download_accept_flag_and_optional_explanation(
    capsys, models_copy, model_server, monkeypatch
):
    monkeypatch.setenv("OPENAU_MODELS_URL", model_server.url)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # never read
    (models_copy / AU_FILE).write_bytes(b"corrupt")
    code, out, err = _run(
        capsys, "download", "--models", str(models_copy), "--accept-license", "--include-optional"
    )
    # The mirror has no CE-CLM files (404): the run fails naming the first one,
    # after explaining that they are unverifiable and can be fetched by hand.
    assert code == 1
    assert "5 files (0.1 MB + 4 files of unknown size)" in err
    assert "OpenFace publishes no checksum for them" in err
    assert "fetch them by hand with OpenFace's download_models script" in err
    assert "Licence accepted with --accept-license." in err
    assert "could not download model/patch_experts/cen_patches_0.25_of.dat" in err
    assert (model_server.requests[0][0]) == AU_FILE


def test_link_check_and_unlink(capsys, models_dir, user_dirs):
    config, _ = user_dirs
    code, out, _ = _run(capsys, "link", str(models_dir))
    assert code == 0 and f"Linked {models_dir} (remembered in {config})." in out
    store = locate_models()
    assert store.root == models_dir and store.source == "linked OpenFace installation"
    code, out, _ = _run(capsys, "check")
    assert code == 0 and "(from linked OpenFace installation" in out
    code, out, _ = _run(capsys, "unlink")
    assert code == 0 and "Forgot" in out and not config.exists()


def test_link_refuses_an_incomplete_installation(capsys, models_copy, user_dirs):
    config, _ = user_dirs
    (models_copy / "model/mtcnn_detector/RNet.dat").unlink()
    code, out, _ = _run(capsys, "link", str(models_copy))
    assert code == 1
    assert "missing        model/mtcnn_detector/RNet.dat" in out
    assert "Not linked: 1 required files are missing or corrupt" in out
    assert not config.exists()


def test_link_refuses_a_folder_that_is_not_openface(capsys, tmp_path, user_dirs):
    code, _, err = _run(capsys, "link", str(tmp_path))
    assert code == 1
    assert err.startswith("openau: error: ") and "not an OpenFace installation" in err
    assert err.count("\n") == 1
    code, _, err = _run(capsys, "link", str(tmp_path / "nope"))
    assert code == 1 and "does not exist" in err


def test_models_needs_an_action(capsys):
    with pytest.raises(SystemExit) as info:
        main(["models"])
    assert info.value.code == 2
    assert "check" in capsys.readouterr().err
