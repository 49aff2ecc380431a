"""Spreading a batch over worker processes (spawn), with no hang and no lost work.

Each worker is a fresh interpreter (the ``spawn`` start method on every
system, so no lock or accelerator context is inherited half-initialised). It
receives the picklable :class:`ExtractConfig`, loads its own stages once and
takes inputs from a shared task queue until it meets its end marker. Workers
send progress events, heartbeats and one :class:`Outcome` per input back over
a bounded queue; the parent re-emits the events in its own thread.

Nothing waits forever:

- inside a worker, the engine's watchdog fails an input whose stage stalls;
- the parent fails an input whose worker dies (crash, out of memory) or falls
  silent (no heartbeat for ``stall_timeout`` plus a grace period: a stage
  holding the interpreter lock forever), stops that worker and starts a
  replacement for the inputs still waiting;
- Ctrl-C in the parent sets a shared stop event: each worker writes the
  ``.partial`` file of its input and reports; a worker that has not within
  the interrupt budget is terminated. Workers ignore SIGINT themselves, so
  the parent alone decides.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from openau.errors import ExtractionError, OpenAUError
from openau.video.batch import Outcome, process_input, release_freed_memory
from openau.video.config import ExtractConfig
from openau.video.cores import run_cores, worker_count
from openau.video.events import EventCallback, FramesDone, InputFailed
from openau.video.sources import Input

__all__ = ["run_pool", "worker_threads", "limit_threads", "numeric_threads", "THREAD_ENV_VARS"]

#: Environment variables that cap the threads of the numeric libraries.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)

_HEARTBEAT = 1.0  # seconds between a worker's "alive" messages
_SILENCE_GRACE = 15.0  # beyond stall_timeout before a silent worker is stopped
_SETUP_TIMEOUT = 600.0  # loading models (and JIT compiling) in a fresh worker
_INTERRUPT_BUDGET = 1.5  # seconds the workers get to write .partial files after Ctrl-C
_POLL = 0.1
_MESSAGE_QUEUE_SIZE = 256
_SEND_TIMEOUT = 30.0


def worker_threads(config: ExtractConfig, workers: int) -> int:
    """Threads per worker for the numeric libraries: ``config.threads``, by default 1.

    A worker's parallelism is its stage threads, and a batch's is its worker
    processes. openau's matrices are small: a second OpenBLAS thread mostly
    spins waiting for work, burning the core the other stages need (video01
    on 2 cores: 8 s of CPU instead of 4.6, and 3-4 times the wall time when
    another process is busy).
    """
    return config.threads if config.threads is not None else 1


def limit_threads(threads: int, blas: bool = True) -> None:
    """Cap the threads of the numeric libraries in this process.

    OpenCV can be capped at any time. numba reads ``NUMBA_NUM_THREADS`` when
    it loads: it is set for a numba not loaded yet (importing numba here would
    only move its import, ~0.3 s, earlier), and capped directly otherwise.
    BLAS reads its environment variable when numpy loads, so it is capped
    through ``threadpoolctl`` (spawned workers get the environment variables
    instead, see :func:`_child_start`).
    """
    import cv2

    cv2.setNumThreads(threads)
    if "numba" in sys.modules:
        with contextlib.suppress(ValueError):
            import numba

            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    else:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
    if blas:
        with contextlib.suppress(ImportError):
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)


@contextlib.contextmanager
def numeric_threads(threads: int) -> Iterator[None]:
    """:func:`limit_threads` for a block, restoring OpenCV's and BLAS's thread counts after it.

    For runs inside the caller's process (``jobs=1``, :class:`openau.Extractor`),
    which may use numpy for its own work afterwards.
    """
    import cv2

    before = cv2.getNumThreads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    blas = threadpool_limits(threads) if threadpool_limits is not None else contextlib.nullcontext()
    try:
        with blas:
            limit_threads(threads, blas=False)
            yield
    finally:
        cv2.setNumThreads(before)


@contextlib.contextmanager
def _child_start(threads: int) -> Iterator[None]:
    """Environment and signal mask a spawned worker should inherit.

    The thread caps must be in the environment before the child imports
    numpy (OpenBLAS reads them at load time); variables the user set win.
    SIGINT is blocked while the child starts, so a Ctrl-C typed then reaches
    only the parent (the child ignores SIGINT once running).
    """
    saved = {name: os.environ.get(name) for name in THREAD_ENV_VARS}
    for name in THREAD_ENV_VARS:
        os.environ.setdefault(name, str(threads))
    blocking = hasattr(signal, "pthread_sigmask")
    if blocking:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Sender:
    """A worker's side of the message queue: every put has a timeout."""

    def __init__(self, messages, worker: int) -> None:
        self._messages = messages
        self.worker = worker
        self._lock = threading.Lock()

    def __call__(self, kind: str, *payload) -> None:
        deadline = time.monotonic() + _SEND_TIMEOUT
        message = (kind, self.worker, *payload)
        with self._lock:
            while time.monotonic() < deadline:
                try:
                    self._messages.put(message, timeout=_POLL)
                    return
                except queue.Full:
                    continue


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an :class:`ExtractionError` with its message."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
        if type(copy) is type(exc) and str(copy) == str(exc):
            return exc
    except Exception:  # noqa: BLE001 - any pickling problem means: send a plain copy
        pass
    return ExtractionError(str(exc))


def _cores_share(config: ExtractConfig, active) -> int:
    """Cores a worker may use now: the run's (``config.jobs``), shared among the workers still taking inputs."""
    return max(1, run_cores(config) // max(1, active.value))


def _worker_main(worker: int, config: ExtractConfig, tasks, messages, stop, active) -> None:
    """Entry point of a worker process.

    ``active`` counts the workers that have not yet met their end marker: a
    worker running beside as many others as there are cores runs its stages
    in one thread; once the others are done, the last ones give stages
    threads of their own (midway through a video, see
    :class:`~openau.video.engine.VideoRun`) and use the freed cores.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    send = _Sender(messages, worker)
    beating = threading.Event()

    parent = mp.parent_process()

    def heartbeat() -> None:
        while not beating.wait(_HEARTBEAT):
            if parent is not None and not parent.is_alive():
                stop.set()  # an orphan: stop like after Ctrl-C, leaving .partial files
                return
            send("alive")

    threading.Thread(target=heartbeat, name="openau-heartbeat", daemon=True).start()
    try:
        try:
            from openau.video.stages import build_stages

            limit_threads(worker_threads(config, 1))
            stages = build_stages(config)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            send("setup_failed", _portable(exc), "".join(traceback.format_exception(exc)))
            return
        send("ready")
        while True:
            try:
                task = tasks.get(timeout=_POLL)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            if task is None or stop.is_set():
                with active.get_lock():
                    active.value -= 1
                return
            job, source, output = task
            send("started", job)
            outcome = process_input(
                job, source, output, stages, config, emit=lambda event: send("event", event), stop=stop,
                cores=lambda: _cores_share(config, active),
            )  # fmt: skip
            send("done", job, outcome)
            release_freed_memory()
            if outcome.interrupted:
                return
    finally:
        beating.set()
        messages.close()
        if parent is not None and not parent.is_alive():
            messages.cancel_join_thread()  # nobody reads: flushing would block forever
        else:
            messages.join_thread()  # flush what was sent before the process ends
        # The process ends now: its final garbage collections would walk numba's
        # objects (~0.25 s of CPU) to free memory the system takes back anyway.
        gc.freeze()


class _Worker:
    def __init__(self, index: int, process) -> None:
        self.index = index
        self.process = process
        self.ready = False
        self.job: int | None = None
        self.frames = 0
        self.last_seen = time.monotonic()


class _Pool:
    def __init__(self, pending: Sequence[tuple[int, Input, Path | None]], config: ExtractConfig, emit) -> None:
        self.pending = {job: (source, output) for job, source, output in pending}
        self.count = min(worker_count(config), len(pending))
        self.threads = worker_threads(config, self.count)
        self.config = dataclasses.replace(config, threads=self.threads)
        self.emit = emit
        self.context = mp.get_context("spawn")
        self.tasks = self.context.Queue(maxsize=len(pending) + self.count)
        self.messages = self.context.Queue(maxsize=_MESSAGE_QUEUE_SIZE)
        self.stop = self.context.Event()
        self.active = self.context.Value("i", self.count)  # workers still taking inputs
        self.workers: dict[int, _Worker] = {}
        self.started: set[int] = set()
        self.outcomes: dict[int, Outcome] = {}
        self.next_index = 0
        self.setup_error: tuple[BaseException, str] | None = None
        # The task queue is sized to hold every input and end marker at once,
        # so these puts never block.
        for item in pending:
            self.tasks.put(item, timeout=_SEND_TIMEOUT)
        for _ in range(self.count):
            self.tasks.put(None, timeout=_SEND_TIMEOUT)

    # -- workers ------------------------------------------------------------

    def start_worker(self) -> None:
        index = self.next_index
        self.next_index += 1
        process = self.context.Process(
            target=_worker_main,
            args=(index, self.config, self.tasks, self.messages, self.stop, self.active),
            name=f"openau-worker-{index}",
            daemon=True,
        )
        with _child_start(self.threads):
            process.start()
        self.workers[index] = _Worker(index, process)

    def fail_job(self, worker: _Worker, message: str) -> None:
        job = worker.job
        worker.job = None
        if job is None or job in self.outcomes:
            return
        source, _ = self.pending[job]
        text = f"{source.path}: {message} (last frame done: {worker.frames})"
        self.emit(InputFailed(job, source.path, text))
        self.outcomes[job] = Outcome(job=job, input=source.path, frames=worker.frames, error=text)

    # -- messages -------------------------------------------------------------

    def handle(self, message) -> None:
        kind, index, *payload = message
        worker = self.workers.get(index)
        if worker is None:
            return
        worker.last_seen = time.monotonic()
        if kind == "ready":
            worker.ready = True
        elif kind == "setup_failed":
            self.setup_error = (payload[0], payload[1])
        elif kind == "started":
            worker.job, worker.frames = payload[0], 0
            self.started.add(payload[0])
        elif kind == "event":
            event = payload[0]
            if isinstance(event, FramesDone):
                worker.frames = event.done
            self.emit(event)
        elif kind == "done":
            job, outcome = payload
            self.outcomes[job] = outcome
            worker.job = None

    def drain(self, timeout: float) -> bool:
        try:
            message = self.messages.get(timeout=timeout)
        except queue.Empty:
            return False
        self.handle(message)
        return True

    def check_health(self) -> None:
        now = time.monotonic()
        silence = self.config.stall_timeout + _SILENCE_GRACE
        for worker in list(self.workers.values()):
            if not worker.process.is_alive():
                while self.drain(0.0):  # its last messages may still be queued
                    pass
                code = worker.process.exitcode
                del self.workers[worker.index]
                if not worker.ready and self.setup_error is None:
                    # Dying before loading the stages would repeat in every replacement.
                    self.setup_error = (
                        ExtractionError(
                            f"a worker process could not start (exit code {code}); when a script calls "
                            "openau.extract_many with jobs > 1, put the call under "
                            "`if __name__ == \"__main__\":` (worker processes are started with spawn)"
                        ),
                        "",
                    )
                    continue
                self.fail_job(worker, f"worker process died (exit code {code})")
                if code != 0 and self.setup_error is None and len(self.started) < len(self.pending):
                    self.start_worker()
                continue
            limit = silence if worker.ready else max(_SETUP_TIMEOUT, silence)
            if now - worker.last_seen > limit:
                worker.process.kill()
                worker.process.join(timeout=1.0)
                self.fail_job(
                    worker,
                    f"worker made no progress for {now - worker.last_seen:.0f} s and was stopped instead of hanging",
                )
                del self.workers[worker.index]
                if len(self.started) < len(self.pending):
                    self.start_worker()

    # -- life cycle -------------------------------------------------------------

    def run(self) -> list[Outcome]:
        for _ in range(self.count):
            self.start_worker()
        while len(self.outcomes) < len(self.pending):
            if self.setup_error is not None:
                exc, trace = self.setup_error
                if isinstance(exc, OpenAUError):
                    raise exc
                raise ExtractionError(f"a worker could not load the stages: {exc}\n{trace}")
            if not self.drain(_POLL):
                self.check_health()
            if not self.workers and len(self.outcomes) < len(self.pending):
                raise ExtractionError("every worker process ended before the batch was done")
        return [self.outcomes[job] for job in sorted(self.outcomes)]

    def interrupt(self) -> None:
        """Ctrl-C: let the workers write their .partial files, within the budget."""
        self.stop.set()
        deadline = time.monotonic() + _INTERRUPT_BUDGET
        with contextlib.suppress(KeyboardInterrupt):
            while time.monotonic() < deadline and any(w.job is not None for w in self.workers.values()):
                self.drain(_POLL)

    def close(self) -> None:
        self.stop.set()
        for worker in self.workers.values():
            worker.process.join(timeout=0.2)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=1.0)
        for q in (self.tasks, self.messages):
            q.cancel_join_thread()
            q.close()


def run_pool(
    pending: Sequence[tuple[int, Input, Path | None]], config: ExtractConfig, emit: EventCallback
) -> list[Outcome]:
    """Run ``(job, input, output)`` items on spawned workers (``config.jobs``, at most one per item); one outcome each.

    Raises
    ------
    KeyboardInterrupt
        After Ctrl-C, once the workers wrote their ``.partial`` files (or ran out of time).
    OpenAUError
        A worker could not load the stages (the same error would hit every input).
    """
    pool = _Pool(pending, config, emit)
    try:
        return pool.run()
    except KeyboardInterrupt:
        pool.interrupt()
        raise
    finally:
        pool.close()
