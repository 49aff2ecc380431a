"""Which files make up a CLNF landmark model (minimal reading of its description files).

``model/main_clnf_general.txt`` names the 68-point CLNF model, its hierarchical
part models (with the landmark index pairs that tie each part to the main
model) and the detection validator; each CLNF file names a PDM and one patch
expert file per scale. Paths are relative to the naming file's folder
(OpenFace's ``CLNF::Read`` and ``CLNF::Read_CLNF``).

This is kept private and minimal: the model store owns the full description
readers, and this module only extracts what landmark fitting needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openau.errors import ModelFileError
from openau.models._reader import TextReader

__all__ = ["CLNFFiles", "PartFiles", "MainFiles", "read_main_files"]


@dataclass(frozen=True)
class CLNFFiles:
    """The PDM and per-scale CCNF patch-expert files of one CLNF model."""

    pdm: Path
    patch_experts: tuple[Path, ...]


@dataclass(frozen=True, eq=False)
class PartFiles:
    """A hierarchical part: its name, model files and ``(main, part)`` index pairs."""

    name: str
    clnf: CLNFFiles
    mapping: np.ndarray


@dataclass(frozen=True, eq=False)
class MainFiles:
    """Everything a main landmark-model file names."""

    clnf: CLNFFiles
    parts: tuple[PartFiles, ...]
    validator: Path | None


def _fail(path: Path, line: int | None, problem: str) -> ModelFileError:
    return ModelFileError(path, "whole file" if line is None else f"line {line}", problem)


def _read_clnf(path: Path) -> CLNFFiles:
    reader = TextReader(path)
    pdm = None
    experts = []
    for number, words in reader.lines():
        keyword = words[0]
        # OpenFace takes the rest of the line as the location.
        location = path.parent / " ".join(words[1:])
        if keyword == "PDM":
            pdm = location
        elif keyword == "PatchesCCNF":
            experts.append(location)
        elif keyword in ("PatchesIntensity", "PatchesCEN"):
            raise _fail(path, number, f"{keyword} patch experts are not supported (CLNF uses CCNF)")
    if pdm is None or not experts:
        raise _fail(path, None, "a CLNF model file must name a PDM and PatchesCCNF files")
    return CLNFFiles(pdm=pdm, patch_experts=tuple(experts))


def _landmark_detector(path: Path) -> CLNFFiles:
    """The CLNF files a (part's) main file names on its ``LandmarkDetector`` line."""
    reader = TextReader(path)
    for _, words in reader.lines():
        if words[0] == "LandmarkDetector" and len(words) > 1:
            return _read_clnf(path.parent / words[1])
    raise _fail(path, None, "no LandmarkDetector line")


def read_main_files(path: Path) -> MainFiles:
    """Read a main landmark-model file such as ``model/main_clnf_general.txt``.

    Raises
    ------
    ModelFileError
        When a line is malformed or the model proper is not named.
    """
    reader = TextReader(path)
    clnf = None
    parts = []
    validator = None
    for number, words in reader.lines():
        keyword = words[0]
        if len(words) < 2:
            continue
        location = path.parent / words[1]
        if keyword == "LandmarkDetector":
            clnf = _read_clnf(location)
        elif keyword == "LandmarkDetector_part":
            if len(words) < 3 or (len(words) - 3) % 2:
                raise _fail(path, number, "a part needs a file, a name and pairs of landmark indices")
            try:
                pairs = np.array([int(w) for w in words[3:]], dtype=np.int64).reshape(-1, 2)
            except ValueError:
                raise _fail(path, number, "landmark indices must be integers") from None
            pairs.setflags(write=False)
            parts.append(PartFiles(name=words[2], clnf=_landmark_detector(location), mapping=pairs))
        elif keyword == "DetectionValidator":
            validator = location
    if clnf is None:
        raise _fail(path, None, "no LandmarkDetector line")
    return MainFiles(clnf=clnf, parts=tuple(parts), validator=validator)
