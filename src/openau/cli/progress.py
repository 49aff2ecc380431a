"""Showing extraction progress on stderr: rich bars on a terminal, plain lines otherwise.

A reporter is the ``on_event`` callback of a batch. Both kinds print warnings
and errors always (one line each, ``openau: warning: ...`` /
``openau: error: ...``); ``quiet`` silences only progress and information.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from openau.video.events import (
    Event,
    FramesDone,
    InputFailed,
    InputFinished,
    InputSkipped,
    InputStarted,
    InputWarning,
)

__all__ = ["Reporter", "PlainReporter", "RichReporter", "make_reporter"]

#: Seconds between two plain progress lines of one input (the environment
#: variable ``OPENAU_PROGRESS_INTERVAL`` overrides it; tests use 0 to see frames flow).
PLAIN_PROGRESS_INTERVAL = 10.0


class Reporter:
    """Counts outcomes and prints warnings and errors; subclasses add progress."""

    def __init__(self, total: int, quiet: bool, stream: TextIO) -> None:
        self.total = total
        self.quiet = quiet
        self.stream = stream
        self.finished = 0
        self.failed = 0
        self.skipped = 0
        self.warned = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, InputFinished):
            self.finished += 1
        elif isinstance(event, InputFailed) and event.interrupted:
            self.failed += 1
            kept = f"; frames done so far are in {event.partial}" if event.partial is not None else ""
            self.line(f"openau: {event.message}{kept}")
        elif isinstance(event, InputFailed):
            self.failed += 1
            self.error(event.message, event.traceback)
            if event.partial is not None:
                self.line(f"openau: {event.input}: frames done so far are in {event.partial}")
        elif isinstance(event, InputSkipped):
            self.skipped += 1
        elif isinstance(event, InputWarning):
            self.warned += 1
            self.warning(event.message)
        self.show(event)

    def show(self, event: Event) -> None:
        """Display progress for ``event`` (nothing in the base class)."""

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def info(self, text: str) -> None:
        if not self.quiet:
            self.line(f"openau: {text}")

    def warning(self, text: str) -> None:
        self.line(f"openau: warning: {text}")

    def error(self, text: str, trace: str | None = None) -> None:
        self.line(f"openau: error: {text}")
        if trace:
            self.line(trace.rstrip())

    def close(self) -> None:
        """Stop displaying progress."""

    def summary(self) -> None:
        parts = [f"{self.finished} done"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped (output exists)")
        if self.failed:
            parts.append(f"{self.failed} failed")
        self.info(f"{self.total} input{'s' if self.total != 1 else ''}: " + ", ".join(parts))


def _rate(frames: int, seconds: float) -> str:
    return f"{frames / seconds:.1f} frames/s" if seconds > 0 else "-"


class PlainReporter(Reporter):
    """Log lines: one when an input starts, every few seconds, and when it ends."""

    def __init__(self, total: int, quiet: bool, stream: TextIO) -> None:
        super().__init__(total, quiet, stream)
        self._started: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self.interval = float(os.environ.get("OPENAU_PROGRESS_INTERVAL", PLAIN_PROGRESS_INTERVAL))

    def show(self, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, InputStarted):
            self._started[event.job] = self._last[event.job] = now
            count = f" ({event.frames} frames)" if event.frames and event.frames > 1 else ""
            self.info(f"{event.input}: started{count}")
        elif isinstance(event, FramesDone):
            if now - self._last.get(event.job, now) >= self.interval:
                self._last[event.job] = now
                of = f"/{event.total}" if event.total else ""
                seconds = now - self._started.get(event.job, now)
                self.info(f"{event.input}: {event.done}{of} frames ({_rate(event.done, seconds)})")
        elif isinstance(event, InputFinished):
            where = f" -> {event.output}" if event.output else ""
            self.info(
                f"{event.input}: {event.frames} frame{'s' if event.frames != 1 else ''} in {event.seconds:.1f} s "
                f"({_rate(event.frames, event.seconds)}){where}"
            )
        elif isinstance(event, InputSkipped):
            self.info(f"{event.input}: skipped, {event.output} exists (--resume)")


class RichReporter(Reporter):
    """Progress bars: one per input in progress (frames/s, ETA) and one overall."""

    def __init__(self, total: int, quiet: bool, stream: TextIO) -> None:
        super().__init__(total, quiet, stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=stream, stderr=stream is sys.stderr)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.overall = self.progress.add_task("all inputs", total=total, rate="")
        self._tasks: dict[int, int] = {}
        self._started: dict[int, float] = {}
        self.progress.start()

    def line(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def show(self, event: Event) -> None:
        now = time.monotonic()
        if isinstance(event, InputStarted):
            self._started[event.job] = now
            self._tasks[event.job] = self.progress.add_task(event.input.name, total=event.frames, rate="")
        elif isinstance(event, FramesDone) and event.job in self._tasks:
            seconds = now - self._started[event.job]
            self.progress.update(
                self._tasks[event.job], completed=event.done, total=event.total, rate=_rate(event.done, seconds)
            )
        elif isinstance(event, InputFinished | InputFailed | InputSkipped):
            task = self._tasks.pop(event.job, None)
            if task is not None:
                self.progress.remove_task(task)
            self.progress.advance(self.overall)
            if isinstance(event, InputFinished):
                where = f" -> {event.output}" if event.output else ""
                self.info(f"{event.input}: {event.frames} frames ({_rate(event.frames, event.seconds)}){where}")

    def close(self) -> None:
        self.progress.stop()


def make_reporter(total: int, quiet: bool, stream: TextIO | None = None) -> Reporter:
    """Rich bars when ``stream`` (stderr by default) is a terminal and not quiet, else plain lines."""
    stream = stream if stream is not None else sys.stderr
    if not quiet and stream.isatty():
        return RichReporter(total, quiet, stream)
    return PlainReporter(total, quiet, stream)
