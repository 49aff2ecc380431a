"""One input through the stages: threads joined by bounded queues, watched for stalls.

A video flows through three threads, each connected to the next by a bounded
queue (so memory stays flat however long the clip)::

    decode (PyAV) -> landmarks (tracker) -> au (analyser) -> caller

The threads pay off only when they can run on different cores. With one core
to spare (a pinned process, or a batch with a worker per core) the three
stages run one after the other in a single thread instead, which saves the
hand-offs and the interpreter-lock switches between them (see
:func:`openau.video.cores.pipelined`)::

    decode -> landmarks -> au (one thread) -> caller

Either way the caller's thread only collects results, so it can give up on a
stage that hangs. A run started in one thread can still move its landmark and AU
stages to threads of their own midway, when a core frees up (the other workers of a
batch are done): the end of a batch then does not leave a core idle.

The caller iterates a :class:`VideoRun` to receive :class:`FrameResult` s as
they leave the AU stage, then calls :meth:`VideoRun.finish` for the final
table: OpenFace's AU post-processing needs the whole video, so a video's AU
columns are final only at its end.

Nothing waits forever. Every queue operation has a timeout and re-checks
whether the run was halted; a :class:`~openau.video.watchdog.Watchdog` fails
the run with :class:`~openau.errors.StageTimeoutError` naming the input, the
stage and the frame when a stage spends longer than ``stall_timeout`` on one
frame. An exception in a stage halts the others and is raised in the caller's
thread, chained to the original (and its traceback).

Test hook: the environment variables ``OPENAU_TEST_STALL_STAGE`` (a stage
name) and ``OPENAU_TEST_STALL_FRAME`` (0-based frame, default 1) make that
stage stall on that frame until the run is halted.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from openau._rows import RowBuffer
from openau.errors import ExtractionError, InputError, OpenAUError, StageTimeoutError
from openau.output.columns import N_LANDMARKS, N_MODES
from openau.output.tables import ColumnTable, video_table
from openau.video.config import ExtractConfig
from openau.video.cores import pipelined
from openau.video.decode import Frame, VideoReader
from openau.video.sources import ImageSequenceReader, Input
from openau.video.stages import LandmarkResultLike, Stages
from openau.video.watchdog import Stall, Watchdog

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "STAGES",
    "FrameResult",
    "VideoOutput",
    "VideoRun",
    "STALL_STAGE_ENV",
    "STALL_FRAME_ENV",
    "WARMUP_TIMEOUT",
]

#: The per-video stages, in pipeline order; "postprocess" runs once at the end.
STAGES = ("decode", "landmarks", "au", "postprocess")
STALL_STAGE_ENV = "OPENAU_TEST_STALL_STAGE"
STALL_FRAME_ENV = "OPENAU_TEST_STALL_FRAME"

#: Seconds a stage may spend on its first frame in a process: numba compiles
#: the landmark and feature kernels then (about 80 s on a slow 2-core machine
#: with a cold cache) and ONNX Runtime creates its sessions.
WARMUP_TIMEOUT = 900.0

# How often a blocked wait wakes up to check for a halt (seconds). Bounds how
# quickly Ctrl-C and failures propagate through the threads.
_POLL = 0.05
# How long to wait for stage threads to notice a halt before giving up on them.
_JOIN_TIMEOUT = 0.5
# The post-processing of an interrupted run's frames must fit the 2-second
# Ctrl-C budget; past this the .partial file is written without AU columns.
_PARTIAL_FINISH_TIMEOUT = 1.0

_END = object()  # end of stream marker passed down the queues
# A one-thread run asks every this many frames whether a core has freed up.
_CORES_RECHECK_FRAMES = 16


@dataclass(frozen=True)
class FrameResult:
    """One frame after the per-frame stages.

    Attributes
    ----------
    index : int
        0-based frame index (OpenFace's ``frame`` column is ``index + 1``).
    timestamp : float
        Seconds, in the configured convention.
    landmarks : LandmarkResultLike
        The tracker's fit (landmarks, PDM parameters, confidence, success).
    features : object
        The AU stage's per-frame output (its AU columns are final only after
        the whole video: see :meth:`VideoRun.finish`).
    """

    index: int
    timestamp: float
    landmarks: LandmarkResultLike
    features: object


@dataclass
class VideoOutput:
    """A finished input: its table, what the user should be warned about, and seconds of work per stage.

    Attributes
    ----------
    columns : ColumnTable
        The table as numpy columns (what the writers take).
    frames : int
    warnings : list of str
    stage_seconds : dict of str to float
    """

    columns: ColumnTable
    frames: int
    warnings: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @functools.cached_property
    def table(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (built on first access)."""
        return self.columns.to_pandas()


@dataclass(frozen=True)
class _Decoded:
    frame: Frame
    timestamp: float


def _stall_hook() -> tuple[str, int] | None:
    stage = os.environ.get(STALL_STAGE_ENV)
    if not stage:
        return None
    return stage, int(os.environ.get(STALL_FRAME_ENV, "1"))


class _Records:
    """The small per-frame values kept for the table (images are not kept), in compact blocks."""

    def __init__(self) -> None:
        # Full blocks go to temporary files: memory stays flat over long videos.
        self.timestamp = RowBuffer((), np.float64, spill=True)
        self.confidence = RowBuffer((), np.float64, spill=True)
        self.success = RowBuffer((), bool, spill=True)
        self.landmarks = RowBuffer((N_LANDMARKS, 2), np.float32, spill=True)
        self.params_global = RowBuffer((6,), np.float32, spill=True)
        self.params_local = RowBuffer((N_MODES,), np.float32, spill=True)

    def __len__(self) -> int:
        return len(self.timestamp)

    def add(self, result: FrameResult) -> None:
        fit = result.landmarks
        self.confidence.append(float(fit.confidence))
        self.success.append(bool(fit.success))
        self.landmarks.append(np.asarray(fit.landmarks, np.float32).reshape(N_LANDMARKS, 2))
        self.params_global.append(np.asarray(fit.params_global, np.float32).reshape(6))
        self.params_local.append(np.asarray(fit.params_local, np.float32).reshape(N_MODES))
        self.timestamp.append(float(result.timestamp))  # last: it counts the rows


class VideoRun:
    """A video or image sequence running through the stages.

    Iterate it for :class:`FrameResult` s, then call :meth:`finish` for the
    table. Use it as a context manager (or call :meth:`close`) so the threads
    stop when the caller stops early.

    Parameters
    ----------
    source : Input
        A ``"video"`` or ``"sequence"`` input.
    stages : Stages
        The worker's stages; the tracker is reset and a new analyser made.
    config : ExtractConfig
    stop : threading.Event or multiprocessing.Event, optional
        Set by someone else to interrupt the run (a worker's parent on
        Ctrl-C); iteration then raises :class:`KeyboardInterrupt`.
    cores : int or callable returning int, optional
        Cores the run may use, deciding whether the stages get a thread each
        when ``config.pipeline`` is None (see :func:`pipelined`). A callable
        (a batch worker's share, which grows as the other workers finish)
        is asked again during a one-thread run, which then moves its
        landmark and AU stages to threads of their own once it has two cores.

    Raises
    ------
    InputNotFoundError, InputError
        At construction: the input cannot be opened.
    """

    def __init__(
        self,
        source: Input,
        stages: Stages,
        config: ExtractConfig,
        stop=None,
        cores: int | Callable[[], int] | None = None,
    ) -> None:
        self.source = source
        self.path = source.path
        self._config = config
        self._stages = stages
        self._stop = stop
        if source.kind == "sequence":
            self._reader = ImageSequenceReader(source.path)
        else:
            self._reader = VideoReader(source.path, colour=config.colour)
        self.info = self._reader.info
        self._halt = threading.Event()
        self._failure: BaseException | None = None
        self._failure_lock = threading.Lock()
        self._records = _Records()
        self._done_iterating = False
        self._stall = _stall_hook()
        self._watch = Watchdog(STAGES, config.stall_timeout, self._on_stall)
        size = config.queue_size
        self._decoded: queue.Queue = queue.Queue(maxsize=size)
        self._tracked: queue.Queue = queue.Queue(maxsize=size)
        self._analysed: queue.Queue = queue.Queue(maxsize=size)
        try:
            stages.tracker.reset()
            self._analyser = stages.new_analyser()
        except BaseException:
            self._reader.close()
            raise
        self._helper: threading.Thread | None = None  # the thread of _watched, once started
        share = cores() if callable(cores) else cores
        self.pipelined = pipelined(config, share)
        # Asked during a one-thread run whether the AU stage may have a thread.
        self._cores_later = cores if callable(cores) and config.pipeline is None and not self.pipelined else None
        if self.pipelined:
            self._queues = (self._decoded, self._tracked, self._analysed)
            self._threads = [
                threading.Thread(target=self._decode, args=(self._decoded, ()), name="openau-decode", daemon=True),
                *self._stage_threads(),
            ]
        else:
            self._queues = (self._analysed,)
            after = (("landmarks", self._track), ("au", self._analyse))
            self._threads = [
                threading.Thread(target=self._decode, args=(self._analysed, after), name="openau-stages", daemon=True)
            ]
        self._au_thread = self._threads[-1]  # the thread that calls the analyser
        self._started = False

    # -- life cycle ---------------------------------------------------------

    def __enter__(self) -> VideoRun:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._watch.start()
            for thread in self._threads:
                thread.start()

    def close(self) -> None:
        """Halt the stages and release the input (safe to call twice)."""
        self._halt.set()
        self._watch.stop()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=_JOIN_TIMEOUT)
        if not any(t.is_alive() for t in self._threads[:1]):
            self._reader.close()

    @property
    def frames_done(self) -> int:
        """Frames that have left the last per-frame stage."""
        return len(self._records)

    # -- failures -----------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        with self._failure_lock:
            if self._failure is None:
                self._failure = exc
        self._halt.set()

    def _on_stall(self, stall: Stall) -> None:
        last = self._watch.last_frame(stall.stage)
        done = f"frame {last + 1}" if last >= 0 else "none"
        self._fail(
            StageTimeoutError(
                f"{self.path}: stage '{stall.stage}' made no progress for {stall.seconds:.0f} s "
                f"on frame {stall.frame + 1} (last frame it finished: {done}); "
                f"the run was stopped instead of hanging (stall timeout {stall.timeout:g} s)"
            )
        )

    def _stage_error(self, stage: str, frame: int | None, exc: BaseException) -> BaseException:
        if isinstance(exc, OpenAUError):
            return exc
        where = f" on frame {frame + 1}" if frame is not None else ""
        error = ExtractionError(f"{self.path}: stage '{stage}' failed{where}: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return error

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            self._halt.set()
            raise KeyboardInterrupt

    # -- queues -------------------------------------------------------------

    def _put(self, q: queue.Queue, item) -> bool:
        while not self._halt.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _get(self, q: queue.Queue):
        while not self._halt.is_set():
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                continue
        return None

    def _busy(self, stage: str, index: int) -> None:
        warm = stage in self._stages.warmed
        self._watch.busy(stage, index, None if warm else max(self._watch.timeout, WARMUP_TIMEOUT))

    def _idle(self, stage: str, index: int) -> None:
        self._watch.idle(stage, index)
        self._stages.warmed.add(stage)

    def _maybe_stall(self, stage: str, index: int) -> None:
        if self._stall is not None and self._stall == (stage, index):
            self._halt.wait(3600.0)  # a stuck stage, until the watchdog halts the run

    # -- stage threads --------------------------------------------------------

    def _timestamp(self, frame: Frame, first_pts: float | None) -> float:
        if self._config.timestamps == "openface":
            # FeatureExtraction: (frame - 1) / fps; image sequences have no rate and write 0.
            return 0.0 if self.source.kind == "sequence" else frame.index / self.info.fps
        if frame.pts is not None and first_pts is not None:
            return frame.pts - first_pts
        return frame.index / self.info.fps

    def _stage_threads(self) -> list[threading.Thread]:
        """The landmark and AU stages' threads (not started), connected by the queues."""
        return [
            threading.Thread(
                target=self._stage_loop,
                args=("landmarks", self._decoded, self._tracked, self._track),
                name="openau-landmarks",
                daemon=True,
            ),
            threading.Thread(
                target=self._stage_loop,
                args=("au", self._tracked, self._analysed, self._analyse),
                name="openau-au",
                daemon=True,
            ),
        ]

    def _split_stages(self) -> None:
        """Give the landmark and AU stages threads of their own (called by the decoding thread between two frames)."""
        threads = self._stage_threads()
        self._threads.extend(threads)
        self._queues = (self._decoded, self._tracked, self._analysed)
        self._au_thread = threads[-1]
        self.pipelined = True
        for thread in threads:
            thread.start()

    def _decode(self, outbox: queue.Queue, after: tuple[tuple[str, Callable], ...]) -> None:
        """Decode frames into ``outbox``, first passing each through the stages ``after`` (name, work)."""
        index = 0
        stage = "decode"
        try:
            frames = iter(self._reader)
            first_pts: float | None = None
            while not self._halt.is_set():
                if (
                    self._cores_later is not None
                    and index % _CORES_RECHECK_FRAMES == 0
                    and index > 0
                    and self._cores_later() >= 2
                ):
                    # Frames so far left in order through ``outbox``; the
                    # next ones reach it through the new threads, after them.
                    # This thread decodes only from now on: FFmpeg releases the
                    # interpreter lock, so decoding overlaps the other stages best.
                    self._cores_later = None
                    self._split_stages()
                    outbox, after = self._decoded, ()
                stage = "decode"
                self._busy(stage, index)
                self._maybe_stall(stage, index)
                frame = next(frames, None)
                if frame is None:
                    break
                if index == 0:
                    first_pts = frame.pts
                item = _Decoded(frame, self._timestamp(frame, first_pts))
                self._idle(stage, index)
                for stage, work in after:
                    self._busy(stage, index)
                    self._maybe_stall(stage, index)
                    item = work(item)
                    self._idle(stage, index)
                if not self._put(outbox, item):
                    return
                index += 1
            self._watch.idle("decode", index - 1)
            self._put(outbox, _END)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the caller
            self._fail(self._stage_error(stage, index, exc))

    def _track(self, item: _Decoded):
        return item, self._stages.tracker.track(item.frame.image)

    def _analyse(self, item) -> FrameResult:
        decoded, fit = item
        judge = self._stages.au_success
        success = bool(judge(fit)) if judge is not None else bool(fit.success)
        landmarks = np.asarray(fit.landmarks, np.float32) if success else None
        features = self._analyser.add_frame(decoded.frame.image, landmarks, success)
        return FrameResult(decoded.frame.index, decoded.timestamp, fit, features)

    def _stage_loop(self, stage: str, inbox: queue.Queue, outbox: queue.Queue, work: Callable) -> None:
        index: int | None = None
        try:
            while True:
                item = self._get(inbox)
                if item is None:
                    return
                if item is _END:
                    self._put(outbox, _END)
                    return
                index = item.frame.index if isinstance(item, _Decoded) else item[0].frame.index
                self._busy(stage, index)
                self._maybe_stall(stage, index)
                result = work(item)
                self._idle(stage, index)
                if not self._put(outbox, result):
                    return
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the caller
            self._fail(self._stage_error(stage, index, exc))

    # -- caller side ------------------------------------------------------------

    def __iter__(self) -> Iterator[FrameResult]:
        """Yield each frame as it leaves the AU stage, in order (single pass)."""
        self._start()
        while True:
            self._raise_failure()
            self._check_stop()
            try:
                item = self._analysed.get(timeout=_POLL)
            except queue.Empty:
                if self._halt.is_set():
                    self._raise_failure()
                    raise ExtractionError(f"{self.path}: the run was halted") from None
                continue
            if item is _END:
                self._done_iterating = True
                return
            self._records.add(item)
            yield item

    def _watched(self, stage: str, function: Callable, timeout: float | None = None):
        """Run ``function()`` in a helper thread, watched like a stage; return its value."""
        box: dict[str, object] = {}
        frame = len(self._records)

        def call() -> None:
            try:
                box["value"] = function()
            except BaseException as exc:  # noqa: BLE001
                box["error"] = exc

        thread = threading.Thread(target=call, name=f"openau-{stage}", daemon=True)
        self._helper = thread
        self._busy(stage, frame)
        thread.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while thread.is_alive():
            thread.join(timeout=_POLL)
            self._raise_failure()
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{stage} took longer than {timeout:g} s")
        self._idle(stage, frame)
        if "error" in box:
            raise self._stage_error(stage, None, box["error"])  # type: ignore[arg-type]
        return box["value"]

    def _postprocess(self, analyser_done: bool, count: int):
        """AU table and geometry for the first ``count`` frames (AU None if unavailable)."""
        records = self._records
        params_global = records.params_global.array(count)
        params_local = records.params_local.array(count)
        landmarks = records.landmarks.array(count)
        pose, landmarks_3d = self._stages.geometry(
            params_global, params_local, landmarks, self.info.width, self.info.height
        )
        au = self._analyser.finish() if analyser_done else None
        return pose, landmarks_3d, au

    def _table(self, count: int, pose, landmarks_3d, au) -> ColumnTable:
        records = self._records
        intensity = presence = None
        names: dict = {}
        if au is not None and len(au.intensity) >= count:
            intensity = np.asarray(au.intensity, np.float64)[:count]
            presence = np.asarray(au.presence, np.float64)[:count]
            names = {"intensity_names": tuple(au.intensity_names), "presence_names": tuple(au.presence_names)}
        return video_table(
            frame=np.arange(1, count + 1),
            timestamp=records.timestamp.array(count),
            confidence=records.confidence.array(count),
            success=records.success.array(count),
            pose=pose,
            landmarks_2d=records.landmarks.array(count),
            landmarks_3d=landmarks_3d,
            params_global=records.params_global.array(count),
            params_local=records.params_local.array(count),
            intensity=intensity,
            presence=presence,
            **names,
        )

    def finish(self) -> VideoOutput:
        """Post-process the whole video and return its final table.

        Runs the iteration to the end first if the caller has not.

        Raises
        ------
        InputError
            No frame of the input could be decoded.
        ExtractionError, StageTimeoutError
            A stage failed or stalled.
        """
        if not self._done_iterating:
            for _ in self:
                pass
        count = len(self._records)
        if count == 0:
            detail = f" ({self._reader.error})" if self._reader.error else ""
            raise InputError(f"{self.path}: no frame could be decoded{detail}; check that the file is a complete video")
        pose, landmarks_3d, au = self._watched("postprocess", lambda: self._postprocess(True, count))
        if au is None or len(au.intensity) != count:
            rows = "none" if au is None else len(au.intensity)
            raise ExtractionError(f"{self.path}: stage 'postprocess' gave {rows} AU rows for {count} frames")
        table = self._table(count, pose, landmarks_3d, au)
        self.close()
        warnings = []
        if self._reader.truncated:
            warnings.append(
                f"{self.path}: truncated or damaged ({self._reader.error}); wrote the {count} frames that decode"
            )
        if not table["success"].any():
            warnings.append(f"{self.path}: no face found in any of the {count} frames; every row has success=0")
        return VideoOutput(columns=table, frames=count, warnings=warnings, stage_seconds=self._watch.seconds())

    def partial(self) -> ColumnTable | None:
        """The frames done so far, after an interruption or failure; None if none.

        Halts the run. AU columns are post-processed over these frames only,
        and left out when the AU stage cannot be finished promptly (it is
        stuck, or failed).
        """
        self.close()
        while True:  # frames that left the AU stage but were not collected yet
            try:
                item = self._analysed.get_nowait()
            except queue.Empty:
                break
            if item is not _END:
                self._records.add(item)
        count = len(self._records)
        if count == 0:
            return None
        # The analyser may be finished only if no thread is still inside it
        # (a post-processing interrupted by Ctrl-C gets a moment to end; its
        # result is cached by the analyser).
        if self._helper is not None:
            self._helper.join(timeout=_PARTIAL_FINISH_TIMEOUT / 2)
        stuck = self._watch.stall.stage if self._watch.stall is not None else None
        helper_busy = self._helper is not None and self._helper.is_alive()
        analyser_done = not self._au_thread.is_alive() and not helper_busy and stuck not in ("au", "postprocess")
        self._failure = None  # the partial table is built whatever stopped the run
        self._halt.clear()
        try:
            pose, landmarks_3d, au = self._watched(
                "postprocess", lambda: self._postprocess(analyser_done, count), _PARTIAL_FINISH_TIMEOUT
            )
        except Exception:  # noqa: BLE001 - fall back to the table without AU columns
            try:
                pose, landmarks_3d, au = self._watched(
                    "postprocess", lambda: self._postprocess(False, count), _PARTIAL_FINISH_TIMEOUT
                )
            except Exception:  # noqa: BLE001 - no partial table rather than a second error
                return None
        finally:
            self._halt.set()
        return self._table(count, pose, landmarks_3d, au)
