"""The watchdog reports a stage stuck on one item, never a stage that waits."""

from __future__ import annotations

import threading

from openau.video.watchdog import Stall, Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_busy_past_timeout_is_a_stall_and_idle_is_not():
    clock = Clock()
    watch = Watchdog(["decode", "au"], timeout=2.0, on_stall=lambda s: None, clock=clock)
    watch.busy("decode", 0)
    watch.idle("decode", 0)
    clock.now = 100.0  # waiting (idle) for ages is fine
    assert watch.check() is None
    watch.busy("au", 7)
    clock.now = 101.5
    assert watch.check() is None
    clock.now = 102.5
    assert watch.check() == Stall("au", 7, 2.5, 2.0)
    watch.busy("au", 8, timeout=10.0)  # e.g. a first frame that compiles kernels
    clock.now = 111.0
    assert watch.check() is None
    clock.now = 113.0
    assert watch.check() == Stall("au", 8, 10.5, 10.0)
    assert watch.last_frame("decode") == 0 and watch.last_frame("au") == -1


def test_thread_calls_on_stall_once():
    stalls = []
    done = threading.Event()

    def on_stall(stall):
        stalls.append(stall)
        done.set()

    watch = Watchdog(["landmarks"], timeout=0.1, on_stall=on_stall)
    watch.busy("landmarks", 3)
    watch.start()
    assert done.wait(2.0)
    watch.stop()
    assert len(stalls) == 1 and stalls[0].stage == "landmarks" and stalls[0].frame == 3
