"""Shared fixtures: where the OpenFace models, test media and reference outputs are.

``OPENAU_MODELS`` names the model folder (CI: ``../shared/openface-models``).
The media and OpenFace reference outputs come from ``OPENAU_SHARED`` (default:
the ``shared`` folder beside the repository). On a user's machine a gold test
skips when these are absent; with ``OPENAU_REQUIRE_MODELS=1`` (as in CI) a
missing folder fails the test instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _required() -> bool:
    return os.environ.get("OPENAU_REQUIRE_MODELS", "") not in ("", "0")


def _need(path: Path | None, what: str) -> Path:
    if path is not None and path.is_dir():
        return path
    message = f"{what} not found at {path} (set OPENAU_MODELS / OPENAU_SHARED)"
    if _required():
        pytest.fail(message + "; OPENAU_REQUIRE_MODELS=1 forbids skipping")
    pytest.skip(message)


def shared_dir() -> Path:
    """The read-only folder of models, media and reference outputs."""
    return Path(os.environ.get("OPENAU_SHARED", ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """OpenFace 2.2's model folder (``model/`` and ``AU_predictors/`` inside)."""
    env = os.environ.get("OPENAU_MODELS")
    path = Path(env).resolve() if env else shared_dir() / "openface-models"
    return _need(path, "OpenFace model folder")


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """Test clips and images."""
    return _need(shared_dir() / "media", "test media folder")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """OpenFace 2.2's own outputs for the test media."""
    return _need(shared_dir() / "reference", "OpenFace reference folder")


# -- model store: a local HTTP mirror and isolated per-user folders ------------


@pytest.fixture
def model_server(models_dir):
    """A mirror of the model folder on 127.0.0.1, started and stopped per test."""
    from model_server import serve  # tests/ is on sys.path beside this conftest

    with serve(models_dir) as server:
        yield server


@pytest.fixture
def user_dirs(monkeypatch, tmp_path):
    """``(config_file, user_models_dir)`` inside tmp_path; OPENAU_MODELS unset."""
    from model_server import isolate_user_dirs

    return isolate_user_dirs(monkeypatch, tmp_path)


@pytest.fixture
def models_copy(models_dir, tmp_path):
    """A writable copy of the required model files (installed layout)."""
    import shutil

    from openau.models import load_manifest

    root = tmp_path / "models-copy"
    for entry in load_manifest().required:
        target = root / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(models_dir / entry.path, target)
    return root
