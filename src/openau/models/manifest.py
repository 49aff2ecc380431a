"""The list of OpenFace 2.2 model files openau needs, with sizes and checksums.

The manifest ships with the package as ``manifest.json`` beside this module.
Each entry names a file by its path in OpenFace's installed layout
(``model/...`` or ``AU_predictors/...``), the part of the pipeline that uses it,
whether it is required, its size in bytes and SHA-256, and where to download it.

Required files are the closure of OpenFace 2.2's entry points as
``FeatureExtraction`` uses them: the CLNF landmark model
``model/main_clnf_general.txt`` and every file it names (recursively), the MTCNN
face detector ``model/mtcnn_detector/MTCNN_detector.txt`` and its networks, and
the AU models ``AU_predictors/main_dynamic_svms.txt`` / ``main_static_svms.txt``
with the predictor files their lists name. They download from the raw files of
the ``OpenFace_2.2.0`` tag of OpenFace's GitHub repository.

Optional files are CE-CLM's convolutional patch experts
``model/patch_experts/cen_patches_*_of.dat`` (60-154 MB each), which openau does
not use. OpenFace keeps them outside its repository (its ``download_models``
scripts fetch them from Dropbox, with OneDrive as a fallback) and publishes no
checksum for them, so their size and SHA-256 are ``null``: they can be
downloaded but not verified.

Regenerating the manifest (after a change of OpenFace version) is a call,
not a script: ``write_manifest(build_manifest(folder), path)`` with ``folder`` a
verified copy of OpenFace's files; ``tests/models/test_manifest.py`` checks the
shipped file against that computation and against the folder's ``SHA256SUMS``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path, PurePosixPath

from openau.models._reader import TextReader
from openau.models.description import clnf_model_files

__all__ = [
    "OPENFACE_VERSION",
    "UPSTREAM_REPOSITORY",
    "UPSTREAM_TAG",
    "UPSTREAM_FOLDERS",
    "ManifestEntry",
    "Manifest",
    "load_manifest",
    "upstream_url",
    "file_sha256",
    "pipeline_files",
    "build_manifest",
    "write_manifest",
]

OPENFACE_VERSION = "2.2.0"
UPSTREAM_REPOSITORY = "TadasBaltrusaitis/OpenFace"
UPSTREAM_TAG = f"OpenFace_{OPENFACE_VERSION}"
#: Where each top-level folder of the installed layout sits in OpenFace's source tree.
UPSTREAM_FOLDERS = {
    "model": "lib/local/LandmarkDetector/model",
    "AU_predictors": "lib/local/FaceAnalyser/AU_predictors",
}
_RAW_BASE = f"https://raw.githubusercontent.com/{UPSTREAM_REPOSITORY}/{UPSTREAM_TAG}"

# OpenFace 2.2's entry points, as its FeatureExtraction loads them.
MAIN_LANDMARK_MODEL = "model/main_clnf_general.txt"
MTCNN_MODEL = "model/mtcnn_detector/MTCNN_detector.txt"
AU_MODELS = ("AU_predictors/main_dynamic_svms.txt", "AU_predictors/main_static_svms.txt")

#: CE-CLM patch experts: (file name, Dropbox address, OneDrive address), from
#: OpenFace's download_models.sh / download_models.ps1.
_CEN_PATCHES = (
    (
        "cen_patches_0.25_of.dat",
        "https://www.dropbox.com/s/7na5qsjzz8yfoer/cen_patches_0.25_of.dat?dl=1",
        "https://onedrive.live.com/download?cid=2E2ADA578BFF6E6E"
        "&resid=2E2ADA578BFF6E6E%2153072&authkey=AKqoZtcN0PSIZH4",
    ),
    (
        "cen_patches_0.35_of.dat",
        "https://www.dropbox.com/s/k7bj804cyiu474t/cen_patches_0.35_of.dat?dl=1",
        "https://onedrive.live.com/download?cid=2E2ADA578BFF6E6E"
        "&resid=2E2ADA578BFF6E6E%2153079&authkey=ANpDR1n3ckL_0gs",
    ),
    (
        "cen_patches_0.50_of.dat",
        "https://www.dropbox.com/s/ixt4vkbmxgab1iu/cen_patches_0.50_of.dat?dl=1",
        "https://onedrive.live.com/download?cid=2E2ADA578BFF6E6E"
        "&resid=2E2ADA578BFF6E6E%2153074&authkey=AGi-e30AfRc_zvs",
    ),
    (
        "cen_patches_1.00_of.dat",
        "https://www.dropbox.com/s/2t5t1sdpshzfhpj/cen_patches_1.00_of.dat?dl=1",
        "https://onedrive.live.com/download?cid=2E2ADA578BFF6E6E"
        "&resid=2E2ADA578BFF6E6E%2153070&authkey=AD6KjtYipphwBPc",
    ),
)
_CEN_NOTE = (
    "CE-CLM patch expert, not used by openau; hosted by OpenFace outside its "
    "repository with no published checksum, so it cannot be verified"
)


@dataclass(frozen=True)
class ManifestEntry:
    """One model file.

    Attributes
    ----------
    path : str
        POSIX path in OpenFace's installed layout, e.g. ``"model/tris_68.txt"``.
    group : str
        The part of the pipeline that reads it: ``"landmarks"``, ``"detector"``,
        ``"au"`` or ``"ce-clm"``.
    required : bool
        False for optional extras.
    size : int or None
        Bytes; None when unknown.
    sha256 : str or None
        Lower-case hex digest; None when unknown (the file cannot be verified).
    urls : tuple of str
        Download addresses, first choice first.
    note : str
        Why the entry is special, or ``""``.
    """

    path: str
    group: str
    required: bool
    size: int | None
    sha256: str | None
    urls: tuple[str, ...]
    note: str = ""

    @property
    def verifiable(self) -> bool:
        """True when the size and checksum are known."""
        return self.size is not None and self.sha256 is not None


@dataclass(frozen=True)
class Manifest:
    """The files of one OpenFace version (immutable, iterable over entries)."""

    openface_version: str
    entries: tuple[ManifestEntry, ...]

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def required(self) -> tuple[ManifestEntry, ...]:
        """The entries every run needs."""
        return tuple(e for e in self.entries if e.required)

    @property
    def optional(self) -> tuple[ManifestEntry, ...]:
        """The optional extras."""
        return tuple(e for e in self.entries if not e.required)

    def get(self, path: str) -> ManifestEntry:
        """The entry for ``path``; KeyError naming it when absent."""
        for entry in self.entries:
            if entry.path == path:
                return entry
        raise KeyError(f"{path!r} is not in the OpenFace {self.openface_version} manifest")

    def subset(self, paths: Iterable[str]) -> Manifest:
        """A manifest of only ``paths`` (in manifest order), e.g. for a quick download."""
        wanted = set(paths)
        unknown = wanted - {e.path for e in self.entries}
        if unknown:
            raise KeyError(f"not in the manifest: {sorted(unknown)}")
        return Manifest(self.openface_version, tuple(e for e in self.entries if e.path in wanted))


@cache
def load_manifest() -> Manifest:
    """The manifest shipped with openau (read once, then shared)."""
    text = resources.files("openau.models").joinpath("manifest.json").read_text("utf-8")
    return _parse(json.loads(text))


def _parse(document: dict) -> Manifest:
    entries = tuple(
        ManifestEntry(
            path=item["path"],
            group=item["group"],
            required=bool(item["required"]),
            size=item["size"],
            sha256=item["sha256"],
            urls=tuple(item["urls"]),
            note=item.get("note", ""),
        )
        for item in document["files"]
    )
    return Manifest(document["openface_version"], entries)


def upstream_url(path: str) -> str:
    """Address of ``path`` (installed layout) among the raw files of OpenFace's release tag."""
    top, _, rest = path.partition("/")
    if top not in UPSTREAM_FOLDERS or not rest:
        raise ValueError(f"{path!r} is not under {' or '.join(UPSTREAM_FOLDERS)}")
    return f"{_RAW_BASE}/{UPSTREAM_FOLDERS[top]}/{rest}"


def file_sha256(path: str | PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in large blocks (hashlib releases the GIL)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# -- regeneration -------------------------------------------------------------


def _listed_files(path: Path, column: int) -> list[Path]:
    """Files named in one column of a list file (MTCNN or AU model lists)."""
    return [path.parent / words[column] for _, words in TextReader(path).lines()]


def pipeline_files(root: str | PathLike[str]) -> dict[str, str]:
    """Every file OpenFace 2.2's pipeline reads, found by following references.

    Parameters
    ----------
    root : path-like
        A folder in the installed layout (``model/``, ``AU_predictors/``).

    Returns
    -------
    dict of str to str
        Installed-layout path to group (``"landmarks"``, ``"detector"``, ``"au"``),
        in discovery order.

    Notes
    -----
    MTCNN's list names a network per line as ``name file``; the AU model files
    name their parts as ``keyword file`` and the predictor lists as ``file AU``.
    Only the file names are taken here; the models are read by their readers.
    """
    root = Path(root)
    found: dict[str, str] = {}

    def add(path: Path, group: str) -> None:
        found.setdefault(path.relative_to(root).as_posix(), group)

    for path in clnf_model_files(root / MAIN_LANDMARK_MODEL):
        add(path, "landmarks")
    add(root / MTCNN_MODEL, "detector")
    for path in _listed_files(root / MTCNN_MODEL, 1):
        add(path, "detector")
    for main in AU_MODELS:
        add(root / main, "au")
        for _, words in TextReader(root / main).lines():
            path = root / main.rpartition("/")[0] / words[1]
            add(path, "au")
            if words[0] == "AUPredictor":
                for predictor in _listed_files(path, 0):
                    add(predictor, "au")
    return found


def build_manifest(root: str | PathLike[str]) -> dict:
    """The manifest document for the files in ``root`` (sizes and checksums measured).

    Parameters
    ----------
    root : path-like
        A verified copy of OpenFace's files in the installed layout.

    Returns
    -------
    dict
        JSON-ready; :func:`write_manifest` stores it.
    """
    root = Path(root)
    files = []
    for path, group in pipeline_files(root).items():
        files.append(
            {
                "path": path,
                "group": group,
                "required": True,
                "size": (root / path).stat().st_size,
                "sha256": file_sha256(root / path),
                "urls": [upstream_url(path)],
            }
        )
    for name, *urls in _CEN_PATCHES:
        files.append(
            {
                "path": str(PurePosixPath("model/patch_experts", name)),
                "group": "ce-clm",
                "required": False,
                "size": None,
                "sha256": None,
                "urls": urls,
                "note": _CEN_NOTE,
            }
        )
    return {
        "openface_version": OPENFACE_VERSION,
        "upstream": {
            "repository": f"https://github.com/{UPSTREAM_REPOSITORY}",
            "tag": UPSTREAM_TAG,
            "folders": UPSTREAM_FOLDERS,
        },
        "files": files,
    }


def write_manifest(document: dict, path: str | PathLike[str]) -> None:
    """Write a manifest document as stable, diff-friendly JSON (one line per file)."""
    head = {key: value for key, value in document.items() if key != "files"}
    lines = json.dumps(head, indent=1).splitlines()[:-1]
    lines[-1] += ","
    lines.append(' "files": [')
    rows = [json.dumps(item) for item in document["files"]]
    lines.extend(f"  {row}," for row in rows[:-1])
    lines.extend(f"  {row}" for row in rows[-1:])
    lines += [" ]", "}"]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
