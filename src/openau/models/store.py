"""Where OpenFace's model files are: finding the model folder and linking an installation.

openau looks for the model folder in this order, and takes the first one that
is *configured* (it does not fall through to the next when a configured folder
is incomplete, so a typo in ``--models`` is an error rather than a surprise):

1. an explicit folder (``--models DIR`` or the ``explicit`` argument);
2. the environment variable ``OPENAU_MODELS``;
3. an OpenFace installation remembered by ``openau models link DIR`` (stored in
   ``config.json`` in the per-user config folder);
4. the per-user data folder (``platformdirs.user_data_dir("openau")``), where
   ``openau models download`` puts the files by default.

A folder may be in OpenFace's installed layout (``model/`` and
``AU_predictors/`` side by side, as beside OpenFace's executables and in
``/work/shared/openface-models``) or be an OpenFace source tree
(``lib/local/LandmarkDetector/model`` and ``lib/local/FaceAnalyser/AU_predictors``).
Other stages name files by their installed-layout path and let
:meth:`ModelStore.path` map it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath

import platformdirs

from openau.errors import ModelsNotFoundError
from openau.models.manifest import UPSTREAM_FOLDERS, Manifest, load_manifest

__all__ = [
    "ENV_MODELS",
    "ModelStore",
    "locate_models",
    "resolve_models",
    "user_models_dir",
    "user_config_file",
    "read_link",
    "save_link",
    "remove_link",
]

#: Environment variable naming the model folder.
ENV_MODELS = "OPENAU_MODELS"

# The ways a folder can hold OpenFace's files: name, then the folder standing in
# for each top-level folder of the installed layout.
_INSTALLED = "installed"
_SOURCE_TREE = "source tree"
_LAYOUTS: dict[str, dict[str, str]] = {
    _INSTALLED: {top: top for top in UPSTREAM_FOLDERS},
    _SOURCE_TREE: dict(UPSTREAM_FOLDERS),
}

# Where a folder came from, as messages name it.
SOURCE_EXPLICIT = "--models"
SOURCE_ENV = ENV_MODELS
SOURCE_LINK = "linked OpenFace installation"
SOURCE_USER = "user data folder"

_FIX = "run `openau models download` (after accepting OpenFace's licence) or pass --models DIR"


def user_models_dir() -> Path:
    """The per-user folder ``openau models download`` fills by default."""
    return Path(platformdirs.user_data_dir("openau", appauthor=False))


def user_config_file() -> Path:
    """The per-user file remembering a linked OpenFace installation."""
    return Path(platformdirs.user_config_dir("openau", appauthor=False)) / "config.json"


@dataclass(frozen=True)
class ModelStore:
    """A model folder, its layout and where it was found (picklable).

    Attributes
    ----------
    root : Path
        The folder, absolute.
    layout : str
        ``"installed"`` or ``"source tree"``.
    source : str
        How it was chosen: ``"--models"``, ``"OPENAU_MODELS"``,
        ``"linked OpenFace installation"`` or ``"user data folder"``.
    """

    root: Path
    layout: str = _INSTALLED
    source: str = SOURCE_EXPLICIT

    @classmethod
    def at(cls, folder: str | PathLike[str], source: str = SOURCE_EXPLICIT) -> ModelStore:
        """The store at ``folder``, its layout detected (installed when neither is there yet)."""
        root = Path(folder).expanduser().resolve()
        layout = _INSTALLED
        for name, folders in _LAYOUTS.items():
            if (root / folders["model"]).is_dir():
                layout = name
                break
        return cls(root=root, layout=layout, source=source)

    def path(self, relpath: str) -> Path:
        """The file at an installed-layout path, e.g. ``"model/main_clnf_general.txt"``.

        The file is not checked for existence: readers report a missing file.

        Raises
        ------
        ValueError
            When ``relpath`` is not under ``model/`` or ``AU_predictors/``.
        """
        parts = PurePosixPath(relpath).parts
        folders = _LAYOUTS[self.layout]
        if len(parts) < 2 or parts[0] not in folders or ".." in parts:
            raise ValueError(f"{relpath!r} is not a path under {' or '.join(folders)}")
        return self.root.joinpath(folders[parts[0]], *parts[1:])

    def missing(self, manifest: Manifest | None = None) -> tuple[str, ...]:
        """Required files that do not exist (a quick check: sizes and checksums unchecked)."""
        manifest = load_manifest() if manifest is None else manifest
        return tuple(e.path for e in manifest.required if not self.path(e.path).is_file())

    def describe(self) -> str:
        """``<root> (<source>)``, for messages."""
        return f"{self.root} ({self.source})"


# -- the remembered OpenFace installation --------------------------------------


def read_link() -> Path | None:
    """The linked OpenFace installation, or None when none is linked.

    Raises
    ------
    ModelsNotFoundError
        When the config file exists but cannot be read.
    """
    config = user_config_file()
    try:
        text = config.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelsNotFoundError(f"cannot read {config}: {exc.strerror}") from exc
    try:
        folder = json.loads(text).get("openface")
    except (ValueError, AttributeError):
        folder = ""
    if not isinstance(folder, str) or not folder:
        raise ModelsNotFoundError(
            f"{config} is not a valid openau config file; delete it or run "
            "`openau models link OPENFACE_DIR` again"
        )
    return Path(folder)


def save_link(folder: str | PathLike[str]) -> Path:
    """Remember ``folder`` as the OpenFace installation to use; returns the config file.

    The caller checks the folder first (``openau models link`` runs a full check).
    """
    config = user_config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"openface": str(Path(folder).expanduser().resolve())}, indent=1)
    temporary = config.with_name(config.name + ".tmp")
    temporary.write_text(payload + "\n", encoding="utf-8")
    os.replace(temporary, config)
    return config


def remove_link() -> bool:
    """Forget the linked installation; True when one was linked."""
    try:
        user_config_file().unlink()
    except FileNotFoundError:
        return False
    return True


# -- resolution ----------------------------------------------------------------


def locate_models(explicit: str | PathLike[str] | None = None) -> ModelStore:
    """The model folder openau would use, whether or not the files are there yet.

    Parameters
    ----------
    explicit : path-like, optional
        A folder chosen by the caller (``--models DIR``); wins over everything.

    Returns
    -------
    ModelStore
        From the first configured source: ``explicit``, ``OPENAU_MODELS``, the
        linked installation, else the per-user data folder.
    """
    if explicit is not None and str(explicit) != "":
        return ModelStore.at(explicit, SOURCE_EXPLICIT)
    env = os.environ.get(ENV_MODELS, "")
    if env:
        return ModelStore.at(env, SOURCE_ENV)
    link = read_link()
    if link is not None:
        return ModelStore.at(link, SOURCE_LINK)
    return ModelStore.at(user_models_dir(), SOURCE_USER)


def resolve_models(explicit: str | PathLike[str] | None = None) -> ModelStore:
    """The model folder to read from, with every required file present.

    Parameters
    ----------
    explicit : path-like, optional
        A folder chosen by the caller (``--models DIR``); wins over everything.

    Returns
    -------
    ModelStore
        Use ``store.path("model/main_clnf_general.txt")`` to name a file.

    Raises
    ------
    ModelsNotFoundError
        When required files are missing, naming the folder, how it was chosen,
        the sources that were looked at and how to fix it. Only existence is
        checked here; ``openau models check`` verifies sizes and checksums.
    """
    store = locate_models(explicit)
    missing = store.missing()
    if not missing:
        return store
    total = len(load_manifest().required)
    if not store.root.is_dir():
        state = "does not exist"
    elif len(missing) == total:
        state = "holds none of them"
    else:
        state = f"lacks {len(missing)} of {total} required files (first: {missing[0]})"
    if store.source == SOURCE_USER:
        looked = (
            f"no --models given, {ENV_MODELS} not set, no OpenFace installation linked, "
            f"and the user data folder {store.root}"
        )
    else:
        looked = f"{store.root} (from {store.source})"
    raise ModelsNotFoundError(f"OpenFace 2.2 model files not found: {looked} {state}; {_FIX}")
