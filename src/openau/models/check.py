"""Verifying a model folder against the manifest: present, missing or corrupt.

Every check reads the files afresh (nothing is cached, so corruption cannot hide
behind a stale result). Hashing the ~18 MB openau needs takes a fraction of a
second; it runs on a few threads because ``hashlib`` releases the GIL.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from openau.models.manifest import Manifest, ManifestEntry, file_sha256, load_manifest
from openau.models.store import ModelStore

__all__ = ["FileState", "FileStatus", "CheckReport", "check_models", "check_file"]

# Hashing threads: enough to overlap reading and hashing, few enough for 2 cores.
_HASH_WORKERS = min(4, os.cpu_count() or 1)


class FileState(StrEnum):
    """What a check found for one file."""

    #: Present with the expected size and SHA-256.
    OK = "ok"
    #: Present with the expected size; SHA-256 not computed (quick check).
    SIZE_OK = "size ok"
    #: Present, but the manifest has no size or checksum to compare with.
    UNVERIFIED = "unverified"
    #: Absent (or not a regular file).
    MISSING = "missing"
    #: Present with the wrong size.
    WRONG_SIZE = "wrong size"
    #: Present with the right size but the wrong SHA-256.
    WRONG_CHECKSUM = "wrong checksum"

    @property
    def usable(self) -> bool:
        """True when the file may be used (verified as far as was asked)."""
        return self in (FileState.OK, FileState.SIZE_OK, FileState.UNVERIFIED)


@dataclass(frozen=True)
class FileStatus:
    """The result of checking one manifest entry.

    Attributes
    ----------
    entry : ManifestEntry
    path : Path
        Where the file was looked for.
    state : FileState
    detail : str
        Expected vs found, for the wrong-size and wrong-checksum states.
    """

    entry: ManifestEntry
    path: Path
    state: FileState
    detail: str = ""


@dataclass(frozen=True)
class CheckReport:
    """Every entry's status for one model folder."""

    store: ModelStore
    statuses: tuple[FileStatus, ...]
    quick: bool

    @property
    def ok(self) -> bool:
        """True when every required file is present and verified."""
        return all(s.state.usable for s in self.statuses if s.entry.required)

    @property
    def problems(self) -> tuple[FileStatus, ...]:
        """Required files that are missing or corrupt."""
        return tuple(s for s in self.statuses if s.entry.required and not s.state.usable)

    def count(self, *, required: bool, usable: bool) -> int:
        """How many required (or optional) entries are usable (or not)."""
        return sum(
            1 for s in self.statuses if s.entry.required == required and s.state.usable == usable
        )


def check_file(entry: ManifestEntry, path: Path, *, quick: bool = False) -> FileStatus:
    """Check one file against its manifest entry.

    Parameters
    ----------
    entry : ManifestEntry
    path : Path
        Where the file should be.
    quick : bool
        Compare sizes only, skipping the SHA-256.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return FileStatus(entry, path, FileState.MISSING)
    if not path.is_file():
        return FileStatus(entry, path, FileState.MISSING)
    if not entry.verifiable:
        return FileStatus(entry, path, FileState.UNVERIFIED)
    if size != entry.size:
        detail = f"{size} bytes, expected {entry.size}"
        return FileStatus(entry, path, FileState.WRONG_SIZE, detail)
    if quick:
        return FileStatus(entry, path, FileState.SIZE_OK)
    try:
        digest = file_sha256(path)
    except OSError as exc:
        return FileStatus(entry, path, FileState.MISSING, f"unreadable: {exc.strerror}")
    if digest != entry.sha256:
        detail = f"SHA-256 {digest[:12]}..., expected {entry.sha256[:12]}..."
        return FileStatus(entry, path, FileState.WRONG_CHECKSUM, detail)
    return FileStatus(entry, path, FileState.OK)


def check_models(
    store: ModelStore, manifest: Manifest | None = None, *, quick: bool = False
) -> CheckReport:
    """Check every manifest entry in a model folder.

    Parameters
    ----------
    store : ModelStore
        From :func:`~openau.models.store.locate_models` or ``ModelStore.at(folder)``.
    manifest : Manifest, optional
        Defaults to the shipped manifest (required and optional files).
    quick : bool
        Compare sizes only (no SHA-256): catches truncated and missing files,
        not altered bytes.

    Returns
    -------
    CheckReport
        In manifest order; ``report.ok`` when every required file is verified.
    """
    manifest = load_manifest() if manifest is None else manifest
    entries = list(manifest)
    with ThreadPoolExecutor(max_workers=_HASH_WORKERS) as pool:
        statuses = tuple(
            pool.map(lambda e: check_file(e, store.path(e.path), quick=quick), entries)
        )
    return CheckReport(store=store, statuses=statuses, quick=quick)
