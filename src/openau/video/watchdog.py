"""Noticing a stage that makes no progress, so a run fails instead of hanging.

Each stage thread tells the :class:`Watchdog` when it starts work on a frame
(:meth:`Watchdog.busy`) and when it is done (:meth:`Watchdog.idle`). Waiting
for input or for room downstream is not work, so a slow consumer never counts
as a stall; a stage that spends longer than the timeout on one frame does.
A daemon thread checks a few times a second and calls ``on_stall`` once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Stall", "Watchdog"]


@dataclass(frozen=True)
class Stall:
    """A stage that has been working on one item for too long.

    Attributes
    ----------
    stage : str
    frame : int
        0-based index of the frame it is stuck on.
    seconds : float
        How long it has been working on it.
    timeout : float
        The limit it passed.
    """

    stage: str
    frame: int
    seconds: float
    timeout: float


class Watchdog:
    """Track per-stage progress and report the first stage stuck past ``timeout``.

    Parameters
    ----------
    stages : iterable of str
    timeout : float
        Seconds one item may take (unless :meth:`busy` gives another limit).
    on_stall : callable(Stall)
        Called once, from the watchdog thread.
    clock : callable returning float
        Monotonic seconds (tests may pass their own).
    """

    def __init__(
        self,
        stages: Iterable[str],
        timeout: float,
        on_stall: Callable[[Stall], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = float(timeout)
        self._on_stall = on_stall
        self._clock = clock
        self._lock = threading.Lock()
        self._busy: dict[str, tuple[int, float, float] | None] = {name: None for name in stages}
        self._last: dict[str, int] = {name: -1 for name in self._busy}
        self._spent: dict[str, float] = {name: 0.0 for name in self._busy}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stall: Stall | None = None

    def busy(self, stage: str, frame: int, timeout: float | None = None) -> None:
        """``stage`` starts working on ``frame``, which may take ``timeout`` seconds (default: the watchdog's)."""
        with self._lock:
            self._busy[stage] = (frame, self._clock(), self.timeout if timeout is None else float(timeout))

    def idle(self, stage: str, frame: int) -> None:
        """``stage`` finished ``frame`` and waits for the next one."""
        with self._lock:
            work = self._busy[stage]
            if work is not None:
                self._spent[stage] += self._clock() - work[1]
            self._busy[stage] = None
            self._last[stage] = frame

    def last_frame(self, stage: str) -> int:
        """The last frame ``stage`` finished (-1 before the first)."""
        with self._lock:
            return self._last[stage]

    def seconds(self) -> dict[str, float]:
        """Seconds each stage has spent working (not waiting), so far."""
        with self._lock:
            return dict(self._spent)

    def check(self) -> Stall | None:
        """The longest-stuck stage past the timeout, or None."""
        now = self._clock()
        worst: Stall | None = None
        with self._lock:
            for stage, work in self._busy.items():
                if work is None:
                    continue
                frame, since, limit = work
                seconds = now - since
                if seconds > limit and (worst is None or seconds > worst.seconds):
                    worst = Stall(stage, frame, seconds, limit)
        return worst

    def start(self) -> None:
        """Start the checking thread (a daemon: it never keeps a process alive)."""
        interval = min(0.25, self.timeout / 10.0)

        def watch() -> None:
            while not self._stop.wait(interval):
                stall = self.check()
                if stall is not None:
                    self.stall = stall
                    self._on_stall(stall)
                    return

        self._thread = threading.Thread(target=watch, name="openau-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the checking thread."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
