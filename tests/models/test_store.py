"""Finding the model folder: resolution order, layouts, the remembered link, errors."""

from __future__ import annotations

import pickle
import shutil

import pytest

from openau.errors import ModelsNotFoundError, OpenAUError
from openau.models import ModelStore, locate_models, resolve_models
from openau.models.store import read_link, remove_link, save_link

MAIN = "model/main_clnf_general.txt"


@pytest.fixture
def four_folders(tmp_path, user_dirs, models_dir):
    """Explicit, env and linked folders, and the user folder, all complete."""
    _, user = user_dirs
    folders = {}
    for name in ("explicit", "env", "link"):
        folders[name] = tmp_path / name
        folders[name].symlink_to(models_dir, target_is_directory=True)
    user.parent.mkdir(parents=True, exist_ok=True)
    user.symlink_to(models_dir, target_is_directory=True)
    folders["user"] = user
    return folders


def test_resolution_order(four_folders, monkeypatch):
    f = four_folders
    monkeypatch.setenv("OPENAU_MODELS", str(f["env"]))
    save_link(f["link"])

    store = resolve_models(f["explicit"])
    assert (store.root, store.source) == (f["explicit"].resolve(), "--models")
    store = resolve_models()
    assert (store.root, store.source) == (f["env"].resolve(), "OPENAU_MODELS")
    monkeypatch.setenv("OPENAU_MODELS", "")  # empty counts as unset
    store = resolve_models()
    assert (store.root, store.source) == (f["link"].resolve(), "linked OpenFace installation")
    assert remove_link()
    store = resolve_models()
    assert (store.root, store.source) == (f["user"].resolve(), "user data folder")
    assert store.path(MAIN).is_file()


def test_a_configured_but_incomplete_folder_is_an_error_not_a_fallthrough(
    four_folders, monkeypatch, tmp_path
):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("OPENAU_MODELS", str(empty))
    with pytest.raises(ModelsNotFoundError) as info:
        resolve_models()
    message = str(info.value)
    assert f"{empty} (from OPENAU_MODELS) holds none of them" in message
    assert "openau models download" in message and "--models DIR" in message
    assert "\n" not in message


def test_partial_folder_names_the_first_missing_file(models_copy):
    (models_copy / "AU_predictors/AU_all_best.txt").unlink()
    with pytest.raises(ModelsNotFoundError, match=r"lacks 1 of 89 .*AU_predictors/AU_all_best"):
        resolve_models(models_copy)


def test_nothing_configured_says_where_it_looked(user_dirs):
    _, user = user_dirs
    with pytest.raises(ModelsNotFoundError) as info:
        resolve_models()
    message = str(info.value)
    for part in (
        "no --models given",
        "OPENAU_MODELS not set",
        "no OpenFace installation linked",
        str(user),
        "does not exist",
        "openau models download",
    ):
        assert part in message
    assert isinstance(info.value, OpenAUError) and isinstance(info.value, FileNotFoundError)
    # locate_models does not require the files: it is where a download would go.
    assert locate_models().root == user.resolve()


def test_source_tree_layout(tmp_path, models_dir, user_dirs):
    tree = tmp_path / "OpenFace"
    (tree / "lib/local/LandmarkDetector").mkdir(parents=True)
    (tree / "lib/local/FaceAnalyser").mkdir(parents=True)
    (tree / "lib/local/LandmarkDetector/model").symlink_to(models_dir / "model")
    (tree / "lib/local/FaceAnalyser/AU_predictors").symlink_to(models_dir / "AU_predictors")
    store = resolve_models(tree)
    assert store.layout == "source tree"
    assert store.path(MAIN) == tree / "lib/local/LandmarkDetector/model/main_clnf_general.txt"
    assert store.path("AU_predictors/AU_all_best.txt") == (
        tree / "lib/local/FaceAnalyser/AU_predictors/AU_all_best.txt"
    )


def test_path_mapping_and_pickling(models_dir):
    store = ModelStore.at(models_dir)
    assert store.layout == "installed"
    assert store.path("AU_predictors/svm_combined/AU_1_dynamic.dat") == (
        models_dir / "AU_predictors/svm_combined/AU_1_dynamic.dat"
    )
    for bad in ("model", "classifiers/x.xml", "model/../../etc/passwd", ""):
        with pytest.raises(ValueError, match="is not a path under model or AU_predictors"):
            store.path(bad)
    assert pickle.loads(pickle.dumps(store)) == store


def test_link_round_trip_and_bad_config(user_dirs, models_dir):
    config, _ = user_dirs
    assert read_link() is None and not remove_link()
    assert save_link(models_dir) == config
    assert read_link() == models_dir.resolve()
    config.write_text("{not json")
    with pytest.raises(ModelsNotFoundError, match=r"config\.json is not a valid openau config"):
        locate_models()


def test_linked_folder_that_vanished(user_dirs, tmp_path, models_dir):
    gone = tmp_path / "OpenFace"
    shutil.copytree(models_dir / "model/model_inner", gone / "model/model_inner")
    save_link(gone)
    shutil.rmtree(gone)
    with pytest.raises(ModelsNotFoundError, match="from linked OpenFace installation"):
        resolve_models()
