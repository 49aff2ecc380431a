"""How many cores a run may use, and so how it runs: the meaning of ``jobs``.

Light on purpose (no numpy): a batch's parent process decides with it how
many workers to start before it loads anything else.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openau.video.config import ExtractConfig

__all__ = ["available_cores", "run_cores", "worker_count", "pipelined"]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the system reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_cores(config: ExtractConfig) -> int:
    """Cores a run may use: ``config.jobs`` (all available when None), at most those available."""
    available = available_cores()
    return available if config.jobs is None else max(1, min(int(config.jobs), available))


def worker_count(config: ExtractConfig) -> int:
    """Worker processes a batch may start: ``config.jobs``, or one per available core when None."""
    return available_cores() if config.jobs is None else int(config.jobs)


def pipelined(config: ExtractConfig, cores: int | None = None) -> bool:
    """Whether a run gives each stage its own thread: ``config.pipeline``, else whether it has two cores.

    Parameters
    ----------
    config : ExtractConfig
    cores : int, optional
        Cores the run may use (a batch worker's share); default :func:`run_cores`.
    """
    if config.pipeline is not None:
        return config.pipeline
    return (run_cores(config) if cores is None else cores) >= 2
