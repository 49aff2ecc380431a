"""The exceptions openau raises.

Every error derives from :class:`OpenAUError`, so a caller (and the CLI) can catch
one type. Each subclass also derives from the builtin that fits it, so code that
already catches ``FileNotFoundError`` or ``ValueError`` keeps working.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "OpenAUError",
    "ModelFileError",
    "ModelsNotFoundError",
    "ModelChecksumError",
    "ModelDownloadError",
    "LicenseNotAcceptedError",
    "InputError",
    "InputNotFoundError",
    "ExtractionError",
    "StageTimeoutError",
    "OutputError",
    "OpenAUWarning",
    "DeviceFallbackWarning",
]


class OpenAUError(Exception):
    """Base class of every error openau raises on purpose."""


class ModelFileError(OpenAUError, ValueError):
    """An OpenFace model file could not be parsed.

    Parameters
    ----------
    path : path-like
        The file being read.
    where : str
        Where the problem is, e.g. ``"line 12"`` or ``"byte 4096"``.
    problem : str
        What was wrong, e.g. ``"expected a number, found 'abc'"``.
    """

    def __init__(self, path: str | PathLike[str], where: str, problem: str) -> None:
        self.path = str(path)
        self.where = where
        self.problem = problem
        super().__init__(f"{self.path}, {where}: {problem}")


class ModelsNotFoundError(OpenAUError, FileNotFoundError):
    """The OpenFace model files are missing, incomplete or in the wrong folder."""


class ModelChecksumError(OpenAUError, ValueError):
    """A model file's size or SHA-256 differs from OpenFace 2.2's (corrupt or wrong version)."""


class ModelDownloadError(OpenAUError, ConnectionError):
    """A model file could not be downloaded (network, server or disk problem)."""


class LicenseNotAcceptedError(OpenAUError, PermissionError):
    """OpenFace's model licence was not accepted, so nothing was downloaded."""


class InputError(OpenAUError, ValueError):
    """An input (video, image, landmark table) cannot be used."""


class InputNotFoundError(OpenAUError, FileNotFoundError):
    """An input path does not exist."""


class ExtractionError(OpenAUError, RuntimeError):
    """Extraction of one input failed: a stage raised, or a worker died.

    The message names the input, the stage and the frame; ``__cause__`` is the
    stage's own exception (with its traceback) when the stage raised.
    """


class StageTimeoutError(ExtractionError, TimeoutError):
    """A pipeline stage made no progress within the stall timeout (the run would have hung)."""


class OutputError(OpenAUError, OSError):
    """An output file could not be written (folder missing or not writable, disk full)."""


class OpenAUWarning(UserWarning):
    """Base class of every warning openau issues."""


class DeviceFallbackWarning(OpenAUWarning, RuntimeWarning):
    """A requested accelerator is not installed or failed to start; the CPU is used instead."""
