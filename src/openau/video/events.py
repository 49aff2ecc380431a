"""Progress events: how the engine tells its caller what is happening.

The library never prints. The engine and the worker pool report through a
callback ``on_event(event)`` taking these small frozen dataclasses; the CLI
turns them into progress bars or log lines, a library user may ignore them.
They are picklable, so worker processes send them to the parent unchanged.

Every event names its input by ``job``, the 0-based position of the input in
the batch, and ``input``, the input path as the user gave it (expanded).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Event",
    "EventCallback",
    "InputStarted",
    "FramesDone",
    "InputFinished",
    "InputFailed",
    "InputSkipped",
    "InputWarning",
]


@dataclass(frozen=True)
class InputStarted:
    """An input was opened and its frames start flowing.

    ``frames`` is the count the container lists (None when unknown); decoding
    may yield fewer.
    """

    job: int
    input: Path
    frames: int | None


@dataclass(frozen=True)
class FramesDone:
    """``done`` frames of an input have been through every per-frame stage.

    Sent at most a few times a second per input, so a fast clip does not flood
    the channel from a worker.
    """

    job: int
    input: Path
    done: int
    total: int | None


@dataclass(frozen=True)
class InputFinished:
    """An input is complete; ``output`` is the file written, None when the table was returned."""

    job: int
    input: Path
    output: Path | None
    frames: int
    seconds: float


@dataclass(frozen=True)
class InputFailed:
    """An input could not be completed.

    ``message`` is one line naming the input (and the stage and frame when a
    stage failed); ``traceback`` holds the stage's traceback for unexpected
    errors (None for expected ones such as an unreadable file); ``partial`` is
    the ``.partial`` file holding the frames done, if one was written;
    ``interrupted`` tells a stop on request (Ctrl-C) from a failure.
    """

    job: int
    input: Path
    message: str
    traceback: str | None = None
    partial: Path | None = None
    interrupted: bool = False


@dataclass(frozen=True)
class InputSkipped:
    """``--resume``: the input's complete output already exists."""

    job: int
    input: Path
    output: Path


@dataclass(frozen=True)
class InputWarning:
    """Something the user should know that did not stop the input (no face, truncated file)."""

    job: int
    input: Path
    message: str


Event = InputStarted | FramesDone | InputFinished | InputFailed | InputSkipped | InputWarning
EventCallback = Callable[[Event], None]
