"""A batch of inputs: one outcome per input, files written as each one completes.

:func:`run_batch` takes the jobs of :func:`~openau.video.sources.expand_inputs`
and their output paths (:func:`plan_outputs`), skips inputs whose complete
output exists when resuming, and runs the rest in this process (one input, or
``jobs=1``) or in spawned worker processes (:mod:`openau.video.pool`). A bad input (missing,
unreadable, not a video) becomes a failed :class:`Outcome` and the others
carry on; an interrupted input leaves a ``.partial`` file.
"""

from __future__ import annotations

import functools
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openau.errors import ExtractionError, InputError, OpenAUError, OutputError
from openau.output.paths import FORMAT_SUFFIX, is_complete, output_path
from openau.video.config import ExtractConfig
from openau.video.cores import worker_count
from openau.video.events import (
    EventCallback,
    FramesDone,
    InputFailed,
    InputFinished,
    InputSkipped,
    InputStarted,
    InputWarning,
)
from openau.video.sources import Input, output_stems

if TYPE_CHECKING:
    import pandas as pd

    from openau.video.engine import VideoRun
    from openau.video.stages import Stages

# The stages, the engine and the table writers (numpy, OpenCV, ONNX Runtime...)
# are imported where an input runs: a batch's parent process plans the outputs
# and starts its workers without them.

__all__ = ["Outcome", "plan_outputs", "process_input", "run_batch", "PROGRESS_INTERVAL"]

#: Seconds between two progress events of one input.
PROGRESS_INTERVAL = 0.25


@dataclass(frozen=True)
class Outcome:
    """What happened to one input of a batch.

    Attributes
    ----------
    job : int
        Position in the batch.
    input : Path
    output : Path or None
        The file written (or found, when skipped); None when the table is returned instead.
    table : pandas.DataFrame or None
        The table, when no output file was asked for.
    frames : int
        Frames processed (1 for an image).
    warnings : tuple of str
    error : str or None
        One line naming the input and what went wrong; None on success.
    traceback : str or None
        The traceback of an unexpected error.
    partial : Path or None
        The ``.partial`` file written for a failed or interrupted input.
    skipped : bool
        ``resume``: the complete output already existed.
    interrupted : bool
        Stopped by Ctrl-C (or the parent's stop signal).
    """

    job: int
    input: Path
    output: Path | None = None
    table: pd.DataFrame | None = None
    frames: int = 0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    traceback: str | None = None
    partial: Path | None = None
    skipped: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        """The input completed (or was skipped because it already had)."""
        return self.error is None and not self.interrupted


def plan_outputs(jobs: Sequence[Input], output: Path, output_format: str) -> list[Path]:
    """Output file per job: ``output`` itself for one input given as a file name, else ``output/<stem>.<ext>``.

    ``output`` counts as a file name when it ends in ``.csv`` or ``.parquet``
    and is not an existing folder.

    Raises
    ------
    InputError
        A file name was given for several inputs, or its extension contradicts the format.
    """
    output = Path(output)
    suffixes = set(FORMAT_SUFFIX.values())
    if output.suffix.lower() in suffixes and not output.is_dir():
        if len(jobs) != 1:
            raise InputError(
                f"{output}: one output file for {len(jobs)} inputs; give a folder with -o to get one file per input"
            )
        if output.suffix.lower() != FORMAT_SUFFIX[output_format]:
            raise InputError(f"{output}: the file name says {output.suffix} but the format is {output_format}")
        return [output]
    return [output_path(output, stem, output_format) for stem in output_stems(jobs)]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _failure_message(source: Input, exc: BaseException) -> str:
    message = _one_line(exc)
    if not isinstance(exc, OpenAUError):
        message = f"{type(exc).__name__}: {message}"
    return message if str(source.path) in message else f"{source.path}: {message}"


def _format_traceback(exc: BaseException) -> str | None:
    """The traceback of an unexpected error (a bug in a stage); None for expected ones."""
    unexpected = not isinstance(exc, OpenAUError) or (
        isinstance(exc, ExtractionError) and exc.__cause__ is not None and not isinstance(exc.__cause__, OpenAUError)
    )
    return "".join(traceback.format_exception(exc)) if unexpected else None


def _write_partial(run: VideoRun | None, output: Path | None, config: ExtractConfig) -> Path | None:
    if run is None or output is None:
        return None
    try:
        table = run.partial()
        if table is None:
            return None
        from openau.output.writers import write_partial

        return write_partial(table, output, config.output_format)
    except Exception:  # noqa: BLE001 - the original failure is what gets reported
        return None


def process_input(
    job: int,
    source: Input,
    output: Path | None,
    stages: Stages,
    config: ExtractConfig,
    emit: EventCallback,
    stop=None,
    cores: int | Callable[[], int] | None = None,
) -> Outcome:
    """Run one input and write its output; every failure becomes a failed :class:`Outcome`.

    Parameters
    ----------
    job : int
    source : Input
    output : Path or None
        Where to write the table; None returns it in the outcome.
    stages : Stages
    config : ExtractConfig
    emit : callable(Event)
    stop : event, optional
        Set to interrupt (Ctrl-C in a worker's parent).
    cores : int or callable returning int, optional
        Cores this input may use (a batch worker's share, which grows as
        other workers finish; default: :func:`~openau.video.cores.run_cores`), deciding whether
        its stages get a thread each.

    Returns
    -------
    Outcome
        ``interrupted`` is set when ``stop`` was set or Ctrl-C arrived; the
        caller then stops the batch.
    """
    from openau.output.writers import write_table
    from openau.video.engine import VideoRun
    from openau.video.images import analyse_image_file

    started = time.monotonic()
    run: VideoRun | None = None
    try:
        if source.kind == "image":
            emit(InputStarted(job, source.path, 1))
            result = analyse_image_file(source.path, stages)
        else:
            run = VideoRun(source, stages, config, stop=stop, cores=cores)
            total = run.info.frame_count
            emit(InputStarted(job, source.path, total))
            last = 0.0
            with run:
                for frame in run:
                    now = time.monotonic()
                    if now - last >= PROGRESS_INTERVAL:
                        last = now
                        emit(FramesDone(job, source.path, frame.index + 1, total))
                result = run.finish()
            emit(FramesDone(job, source.path, result.frames, result.frames))
        written = None
        if output is not None:
            try:
                written = write_table(result.columns, output, config.output_format, image=source.kind == "image")
            except OSError as exc:
                raise OutputError(f"{source.path}: cannot write {output}: {exc.strerror or exc}") from None
        for message in result.warnings:
            emit(InputWarning(job, source.path, message))
        seconds = time.monotonic() - started
        emit(InputFinished(job, source.path, written, result.frames, seconds))
        return Outcome(
            job=job,
            input=source.path,
            output=written,
            table=None if output is not None else result.table,
            frames=result.frames,
            warnings=tuple(result.warnings),
        )
    except KeyboardInterrupt:
        partial = _write_partial(run, output, config)
        message = f"{source.path}: interrupted"
        emit(InputFailed(job, source.path, message, None, partial, interrupted=True))
        frames = run.frames_done if run is not None else 0
        return Outcome(job=job, input=source.path, frames=frames, error=message, partial=partial, interrupted=True)
    except Exception as exc:  # noqa: BLE001 - a bad input must not stop the batch
        partial = _write_partial(run, output, config)
        message = _failure_message(source, exc)
        trace = _format_traceback(exc)
        emit(InputFailed(job, source.path, message, trace, partial))
        frames = run.frames_done if run is not None else 0
        return Outcome(job=job, input=source.path, frames=frames, error=message, traceback=trace, partial=partial)


def release_freed_memory() -> None:
    """Give the memory a finished input freed back to the system (glibc only).

    Each input's stage threads allocate in their own malloc arenas, and glibc
    keeps what is freed there for reuse, so a process running input after
    input grew by about 15 MB per video (measured over 10 videos) until every
    arena was filled. ``malloc_trim`` returns the free pages of every arena.
    Other C libraries do without it.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return path.stat().st_size
    except OSError:
        return 0


def _ignore(event) -> None:
    return None


def run_batch(
    jobs: Sequence[Input],
    outputs: Sequence[Path | None],
    config: ExtractConfig,
    *,
    resume: bool = False,
    on_event: EventCallback | None = None,
    stages: Stages | None = None,
) -> list[Outcome]:
    """Run every input; return one :class:`Outcome` per input, in input order.

    Parameters
    ----------
    jobs : sequence of Input
    outputs : sequence of Path or None
        One per job; None returns that job's table in its outcome.
    config : ExtractConfig
        ``config.jobs`` (default: every available core) > 1 spreads several
        inputs over as many spawned worker processes.
    resume : bool
        Skip inputs whose complete output file exists.
    on_event : callable(Event), optional
        Progress events, called in this process's main thread.
    stages : Stages, optional
        Already loaded stages for in-process runs (built from ``config`` otherwise).

    Raises
    ------
    KeyboardInterrupt
        After Ctrl-C, once the inputs in progress have written their ``.partial`` files.
    OpenAUError
        The stages cannot be loaded (e.g. the models are missing).
    """
    if len(outputs) != len(jobs):
        raise ValueError(f"{len(outputs)} outputs for {len(jobs)} inputs")
    emit = on_event or _ignore
    outcomes: dict[int, Outcome] = {}
    pending: list[tuple[int, Input, Path | None]] = []
    for job, (source, output) in enumerate(zip(jobs, outputs, strict=True)):
        if resume and output is not None and is_complete(output):
            emit(InputSkipped(job, source.path, output))
            outcomes[job] = Outcome(job=job, input=source.path, output=output, skipped=True)
        else:
            pending.append((job, source, output))
    if pending and worker_count(config) > 1 and len(pending) > 1:
        from openau.video.pool import run_pool

        # Longest first (file size standing in for frames), so one long input
        # does not run alone at the end while the other workers idle.
        pending.sort(key=lambda item: -_size(item[1].path))
        for outcome in run_pool(pending, config, emit):
            outcomes[outcome.job] = outcome
    elif pending:
        from openau.video.pool import numeric_threads, worker_threads
        from openau.video.stages import build_stages

        with numeric_threads(worker_threads(config, 1)):
            stages = stages if stages is not None else build_stages(config)
            for job, source, output in pending:
                outcome = process_input(job, source, output, stages, config, emit)
                release_freed_memory()
                outcomes[job] = outcome
                if outcome.interrupted:
                    raise KeyboardInterrupt
    return [outcomes[job] for job in sorted(outcomes)]
