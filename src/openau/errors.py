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
    "InputError",
    "InputNotFoundError",
    "ExtractionError",
    "StageTimeoutError",
    "OpenAUWarning",
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


class InputError(OpenAUError, ValueError):
    """An input (video, image, landmark table) cannot be used."""


class InputNotFoundError(OpenAUError, FileNotFoundError):
    """An input path does not exist."""


class ExtractionError(OpenAUError, RuntimeError):
    """Extraction of one input failed: a stage raised, or a worker died.

    The message names the input, the stage and the last frame reached; when the
    failure happened in a worker process, ``__cause__`` carries the worker's
    traceback as text.
    """


class StageTimeoutError(ExtractionError, TimeoutError):
    """A pipeline stage made no progress within the stall timeout (the run would have hung)."""


class OpenAUWarning(UserWarning):
    """A problem that did not stop extraction (no face found, a truncated clip)."""
