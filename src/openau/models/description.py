"""Readers for OpenFace's landmark-model description files.

A CLNF landmark model is spread over several small text files that name the
files holding the numbers:

* the **main** file (``model/main_clnf_general.txt``, and each part's
  ``main_*.txt``) has one module per line::

      LandmarkDetector clnf_general.txt
      LandmarkDetector_part model_inner/main_clnf_inner.txt inner 17 0 18 1 ...
      FaceDetConversion haarAlign.txt
      DetectionValidator detection_validation/validator_cnn.txt

  ``LandmarkDetector_part`` lines attach a hierarchical part model (a
  sub-model refined after the 68-point fit); the integers after the part's name
  are pairs ``(index in the main model, index in the part model)``.
* the **CLNF** file (``clnf_general.txt``, ``model_inner/clnf_inner.txt``, ...)
  names the point distribution model, the triangulations (optional) and one
  patch-expert file per scale::

      PDM pdms/In-the-wild_aligned_PDM_68.txt
      Triangulations tris_68.txt
      PatchesCCNF patch_experts/ccnf_patches_0.25_general.txt

Every path is relative to the folder of the file that names it (OpenFace's
``CLNF::Read`` and ``CLNF::Read_CLNF``). OpenFace reads the location of a CLNF
module as the rest of the line, and of a main-file module as one word; paths
with spaces are therefore only meaningful in CLNF files, where we rejoin the
words with single spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from os import PathLike
from pathlib import Path

import numpy as np

from openau.errors import ModelFileError
from openau.models._reader import TextReader

__all__ = [
    "PatchExpertKind",
    "PatchExpertFile",
    "CLNFDescription",
    "PartDescription",
    "MainModelDescription",
    "read_main_description",
    "read_clnf_description",
    "read_face_detector_conversion",
    "clnf_model_files",
]

# Main-file keywords OpenFace 2.2 does not act on; accepted and skipped, as
# OpenFace does (``main_clnf_demos.txt`` has a misspelt ``DetectorConstaints``).
_IGNORED_MAIN_KEYWORDS = frozenset({"DetectorConstaints"})


def _error(reader: TextReader, line: int | None, problem: str) -> ModelFileError:
    """An error at a line of a line-oriented file (or about the whole file)."""
    return ModelFileError(reader.path, "whole file" if line is None else f"line {line}", problem)


class PatchExpertKind(StrEnum):
    """The kinds of patch experts a CLNF file can name (value: OpenFace's keyword)."""

    #: Continuous conditional neural field experts (text ``ccnf_patches_*``).
    CCNF = "PatchesCCNF"
    #: Linear SVR experts on pixel intensities (``svr_patches_*``; CLM models).
    SVR = "PatchesIntensity"
    #: Convolutional experts of CE-CLM (binary ``cen_patches_*.dat``).
    CEN = "PatchesCEN"


@dataclass(frozen=True)
class PatchExpertFile:
    """One patch-expert file named by a CLNF file (one per image scale)."""

    kind: PatchExpertKind
    path: Path


@dataclass(frozen=True)
class CLNFDescription:
    """What a CLNF file names (``clnf_general.txt``, ``clnf_inner.txt``, ...).

    Attributes
    ----------
    path : Path
        The description file itself.
    pdm : Path
        The point distribution model (``pdms/*.txt``).
    triangulations : Path or None
        Per-view triangulations (``tris_68.txt``); part models have none.
    patch_experts : tuple of PatchExpertFile
        In file order, which is OpenFace's order of scales (coarse to fine,
        e.g. 0.25, 0.35, 0.5).
    early_termination : Path or None
        CE-CLM's early-termination weights (CEN models only).
    """

    path: Path
    pdm: Path
    triangulations: Path | None
    patch_experts: tuple[PatchExpertFile, ...]
    early_termination: Path | None


@dataclass(frozen=True, eq=False)
class PartDescription:
    """A hierarchical part model named by a ``LandmarkDetector_part`` line.

    Attributes
    ----------
    name : str
        OpenFace's name for the part (``inner``, ``left_eye_28``,
        ``right_eye_28``); OpenFace chooses the part's fitting parameters
        (window sizes, regularisation) by this name.
    path : Path
        The part's own main file (e.g. ``model_inner/main_clnf_inner.txt``).
    mapping : (k, 2) int32 ndarray
        Row ``j`` is ``(landmark index in the main model, landmark index in the
        part model)``, both 0-based; read-only.
    """

    name: str
    path: Path
    mapping: np.ndarray


@dataclass(frozen=True)
class MainModelDescription:
    """What a main landmark-model file names (``main_clnf_general.txt``).

    Attributes
    ----------
    path : Path
        The description file itself.
    landmark_detector : Path
        The CLNF file of the model proper (``clnf_general.txt``).
    parts : tuple of PartDescription
        Hierarchical part models, in file order.
    face_detector_conversion : Path or None
        ``haarAlign.txt``, see :func:`read_face_detector_conversion`.
    validator : Path or None
        The landmark detection validator (``validator_cnn.txt``).
    """

    path: Path
    landmark_detector: Path
    parts: tuple[PartDescription, ...]
    face_detector_conversion: Path | None
    validator: Path | None


def read_main_description(path: str | PathLike[str]) -> MainModelDescription:
    """Read a main landmark-model file.

    Parameters
    ----------
    path : path-like
        E.g. ``model/main_clnf_general.txt`` or a part's
        ``model_inner/main_clnf_inner.txt``.

    Returns
    -------
    MainModelDescription
        Paths resolved against the file's folder (not checked for existence).

    Raises
    ------
    ModelFileError
        On an unknown keyword, a missing file name, a malformed part mapping,
        or when the ``LandmarkDetector`` line is missing or repeated.
    """
    reader = TextReader(path)
    root = reader.path.parent
    detector: Path | None = None
    parts: list[PartDescription] = []
    conversion: Path | None = None
    validator: Path | None = None
    for number, words in reader.lines():
        fail = partial(_error, reader, number)
        keyword = words[0]
        if keyword in _IGNORED_MAIN_KEYWORDS:
            continue
        if len(words) < 2:
            raise fail(f"{keyword} needs a file name")
        location = root / words[1]
        if keyword == "LandmarkDetector":
            if detector is not None:
                raise fail("a second LandmarkDetector line (only one is allowed)")
            _no_extra(words, 2, fail)
            detector = location
        elif keyword == "LandmarkDetector_part":
            parts.append(_part(words, location, fail))
        elif keyword == "FaceDetConversion":
            _no_extra(words, 2, fail)
            conversion = location
        elif keyword == "DetectionValidator":
            _no_extra(words, 2, fail)
            validator = location
        else:
            raise fail(
                f"unknown module {keyword!r} (expected LandmarkDetector, "
                "LandmarkDetector_part, FaceDetConversion or DetectionValidator)"
            )
    if detector is None:
        raise _error(reader, None, "no LandmarkDetector line")
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise _error(reader, None, f"part names repeat: {names}")
    return MainModelDescription(
        path=reader.path,
        landmark_detector=detector,
        parts=tuple(parts),
        face_detector_conversion=conversion,
        validator=validator,
    )


def _no_extra(words: list[str], expected: int, fail) -> None:
    if len(words) > expected:
        raise fail(f"unexpected {words[expected]!r} after the file name")


def _part(words: list[str], location: Path, fail) -> PartDescription:
    if len(words) < 3:
        raise fail("LandmarkDetector_part needs a file, a name and index pairs")
    name, numbers = words[2], words[3:]
    if not numbers or len(numbers) % 2:
        raise fail(f"part {name!r} needs pairs of indices, found {len(numbers)} numbers")
    try:
        values = [int(token) for token in numbers]
    except ValueError:
        bad = next(t for t in numbers if not t.lstrip("-").isdigit())
        raise fail(f"part {name!r}: expected an integer index, found {bad!r}") from None
    mapping = np.array(values, dtype=np.int32).reshape(-1, 2)
    if mapping.min() < 0:
        raise fail(f"part {name!r}: negative landmark index")
    for column, which in ((0, "main"), (1, "part")):
        # A set, not np.unique: that imports numpy.ma (about 15 ms of start-up).
        if len(set(mapping[:, column].tolist())) != len(mapping):
            raise fail(f"part {name!r}: a {which}-model index appears twice")
    mapping.setflags(write=False)
    return PartDescription(name=name, path=location, mapping=mapping)


def read_clnf_description(path: str | PathLike[str]) -> CLNFDescription:
    """Read a CLNF file (PDM, triangulations and patch-expert files).

    Parameters
    ----------
    path : path-like
        E.g. ``model/clnf_general.txt`` or ``model/model_eye/clnf_left_synth.txt``.

    Returns
    -------
    CLNFDescription
        Paths resolved against the file's folder (not checked for existence).

    Raises
    ------
    ModelFileError
        On an unknown keyword, a missing file name, a repeated single module,
        or when the PDM or every patch-expert file is missing.
    """
    reader = TextReader(path)
    root = reader.path.parent
    singles: dict[str, Path] = {}
    experts: list[PatchExpertFile] = []
    kinds = {kind.value: kind for kind in PatchExpertKind}
    for number, words in reader.lines():
        keyword = words[0]
        if len(words) < 2:
            raise _error(reader, number, f"{keyword} needs a file name")
        location = root / " ".join(words[1:])
        if keyword in kinds:
            experts.append(PatchExpertFile(kind=kinds[keyword], path=location))
        elif keyword in ("PDM", "Triangulations", "EarlyTermination"):
            if keyword in singles:
                raise _error(reader, number, f"a second {keyword} line")
            singles[keyword] = location
        else:
            raise _error(
                reader,
                number,
                f"unknown module {keyword!r} (expected PDM, Triangulations, "
                f"EarlyTermination or one of {', '.join(kinds)})",
            )
    if "PDM" not in singles:
        raise _error(reader, None, "no PDM line")
    if not experts:
        raise _error(reader, None, "no patch-expert line")
    return CLNFDescription(
        path=reader.path,
        pdm=singles["PDM"],
        triangulations=singles.get("Triangulations"),
        patch_experts=tuple(experts),
        early_termination=singles.get("EarlyTermination"),
    )


def read_face_detector_conversion(path: str | PathLike[str]) -> np.ndarray:
    """Read ``haarAlign.txt``, the face-detector-to-model box conversion.

    The file is one text matrix, ``(3, 4)`` float64: two identity rows and a
    third row ``(dx, dy, sx, sy)`` that turns an OpenCV Haar-cascade face box
    ``(x, y, w, h)`` into the box the landmark model expects:
    ``(x + dx w, y + dy h, sx w, sy h)``. It is a legacy of CLM-framework:
    OpenFace 2.2's ``CLNF::Read`` skips the ``FaceDetConversion`` line and
    hard-codes its own Haar correction (``0.0578, 0.2166, 0.8924, 0.8676``
    in ``DetectFaces``) and MTCNN correction, so openau's MTCNN pipeline does
    not use this matrix. It is read for completeness of the model store.

    Returns
    -------
    (3, 4) float64 ndarray
        Read-only.

    Raises
    ------
    ModelFileError
        When the file does not hold exactly one 3 x 4 matrix.
    """
    reader = TextReader(path)
    matrix = reader.matrix()
    if matrix.shape != (3, 4):
        raise reader.error(f"expected a 3 x 4 matrix, found {matrix.shape}", 0)
    if not reader.at_end():
        raise reader.error("unexpected data after the matrix")
    matrix = matrix.astype(np.float64)
    matrix.setflags(write=False)
    return matrix


def clnf_model_files(main_path: str | PathLike[str]) -> tuple[Path, ...]:
    """Every file a main landmark model needs, found by following its references.

    Parameters
    ----------
    main_path : path-like
        E.g. ``model/main_clnf_general.txt``.

    Returns
    -------
    tuple of Path
        The main file first, then what it names, depth-first, each file once.
        Referenced files are read (description files) but the data files they
        name (PDMs, patch experts, validator) are not opened.

    Raises
    ------
    ModelFileError
        When a description file is missing or malformed.
    """
    files: dict[Path, None] = {}

    def add(path: Path | None) -> None:
        if path is not None:
            files.setdefault(path, None)

    def visit_main(path: Path) -> None:
        main = read_main_description(path)
        add(main.path)
        clnf = read_clnf_description(main.landmark_detector)
        add(clnf.path)
        add(clnf.pdm)
        add(clnf.triangulations)
        for expert in clnf.patch_experts:
            add(expert.path)
        add(clnf.early_termination)
        for part in main.parts:
            visit_main(part.path)
        add(main.face_detector_conversion)
        add(main.validator)

    visit_main(Path(main_path))
    return tuple(files)
