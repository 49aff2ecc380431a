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


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    """openau's per-user cache folder, redirected to a fresh folder for the session."""
    folder = tmp_path_factory.mktemp("openau-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAU_CACHE_DIR", str(folder))
        yield folder


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

# --- OpenFace reference clips (AU stage gold tests) ----------------------------

#: Reference folder name -> media file.
REFERENCE_CLIPS = {
    "single_face": "single_face.mp4",
    "video01": "video01.mp4",
    "of_default": "of_default.wmv",
    "face_noface": "face_noface.mov",
    "no_face": "no_face.mp4",
    "of_multi_face": "of_multi_face.avi",
}
_HOG_HEADER = 16  # three int32 (cols, rows, channels) and a float32 valid flag


class ReferenceClip:
    """OpenFace's outputs for one clip, read lazily (see ../shared/reference/README.md).

    Attributes
    ----------
    name : str
    video : Path
    table : pandas.DataFrame
        ``openface_precise.csv`` (full-precision values).
    landmarks : (n, 68, 2) float32 ndarray
        OpenFace's 2-D landmarks, exact float32.
    hog : (n, 4464) float32 ndarray
    hog_valid : (n,) float32 ndarray
    au_success : (n,) bool ndarray
        Frames the AU stage treated as tracked: those with a non-zero HOG.
        (The CSV's ``success`` differs on a frame where tracking restarts.)
    """

    def __init__(self, name: str, media: Path, reference: Path) -> None:
        import numpy as np
        import pandas as pd

        self.name = name
        self.video = media / REFERENCE_CLIPS[name]
        self.folder = reference / name
        self.table = pd.read_csv(self.folder / "openface_precise.csv")
        xs = self.table[[f"x_{i}" for i in range(68)]].to_numpy(np.float64)
        ys = self.table[[f"y_{i}" for i in range(68)]].to_numpy(np.float64)
        self.landmarks = np.ascontiguousarray(np.stack([xs, ys], axis=2).astype(np.float32))
        raw = (self.folder / "openface.hog").read_bytes()
        record = _HOG_HEADER + 4464 * 4
        records = np.frombuffer(raw, np.uint8).reshape(-1, record)
        self.hog_valid = records[:, 12:16].copy().view("<f4")[:, 0]
        self.hog = records[:, _HOG_HEADER:].copy().view("<f4")
        self.au_success = np.any(self.hog != 0, axis=1)

    def __len__(self) -> int:
        return len(self.table)

    def columns(self, names):
        """Columns of the precise CSV as float64."""
        return self.table[list(names)].to_numpy(float)

    def aligned(self, index: int):
        """OpenFace's aligned face of frame ``index`` (0-based), BGR uint8."""
        import cv2

        return cv2.imread(str(self.folder / "aligned" / f"frame_det_00_{index + 1:06d}.png"))

    def frames(self):
        """Decoded frames (BGR uint8), as OpenFace saw them, one at a time."""
        from openau.video.decode import VideoReader

        with VideoReader(self.video) as reader:
            for frame in reader:
                yield frame.image


@pytest.fixture(scope="session")
def reference_clip(media_dir, reference_dir):
    """Factory: ``reference_clip("single_face")`` -> :class:`ReferenceClip` (cached)."""
    cache: dict[str, ReferenceClip] = {}

    def load(name: str) -> ReferenceClip:
        if name not in cache:
            cache[name] = ReferenceClip(name, media_dir, reference_dir)
        return cache[name]

    return load
