"""Where outputs go, and whether one is complete: the path rules of :mod:`openau.output.writers`.

Kept apart from the writers so that planning a batch (the parent process of
its workers) needs neither numpy nor the formatting code.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FORMAT_SUFFIX", "PARTIAL_SUFFIX", "output_path", "partial_path", "is_complete"]

FORMAT_SUFFIX = {"csv": ".csv", "parquet": ".parquet"}
PARTIAL_SUFFIX = ".partial"


def output_path(folder: Path, stem: str, output_format: str) -> Path:
    """Where the table of an input with output stem ``stem`` goes in ``folder``."""
    return Path(folder) / f"{stem}{FORMAT_SUFFIX[output_format]}"


def partial_path(path: Path) -> Path:
    """The ``.partial`` file beside an output file (``clip.csv`` -> ``clip.csv.partial``)."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def is_complete(path: Path) -> bool:
    """Whether a complete output exists at ``path``.

    Outputs appear only by an atomic rename of a finished file, so existence
    (and a non-empty file) means complete.
    """
    return path.is_file() and path.stat().st_size > 0
