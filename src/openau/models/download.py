"""Downloading OpenFace's model files, after the user accepts OpenFace's licence.

Each missing or corrupt file is fetched to ``<name>.partial`` beside its final
place, its size and SHA-256 are checked against the manifest, and only then is
it renamed into place, so a folder never holds a half-written or unverified
model file under its real name. An interrupted transfer resumes: the next
attempt (in the same call, or the next ``openau models download``) asks for the
rest with an HTTP ``Range`` header and appends to the partial file.

Only the standard library talks HTTP (``urllib``). The library never prints:
progress goes to an optional callback, failures raise
:class:`~openau.errors.ModelDownloadError` or
:class:`~openau.errors.ModelChecksumError` naming the file.
"""

from __future__ import annotations

import http.client
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

from openau import __version__
from openau.errors import LicenseNotAcceptedError, ModelChecksumError, ModelDownloadError
from openau.models.check import check_file
from openau.models.manifest import (
    OPENFACE_VERSION,
    Manifest,
    ManifestEntry,
    file_sha256,
    load_manifest,
)
from openau.models.store import ModelStore

__all__ = [
    "ENV_MODELS_URL",
    "LICENSE_URL",
    "LICENSE_SUMMARY",
    "DownloadProgress",
    "DownloadResult",
    "files_to_download",
    "download_models",
]

#: Environment variable replacing every download address with a mirror laid out
#: like a model folder: ``$OPENAU_MODELS_URL/model/...``, ``.../AU_predictors/...``.
ENV_MODELS_URL = "OPENAU_MODELS_URL"

LICENSE_URL = "https://github.com/TadasBaltrusaitis/OpenFace/blob/master/OpenFace-license.txt"
LICENSE_SUMMARY = (
    f"OpenFace {OPENFACE_VERSION}'s model files are owned by Carnegie Mellon University "
    "and licensed only for academic or non-profit organisation, non-commercial research "
    "use. Commercial use needs a separate licence from CMU. openau does not bundle or "
    "redistribute them: they are downloaded from OpenFace's own sources, and by "
    "downloading them you accept OpenFace's licence. "
    f"Full text: {LICENSE_URL}"
)

_CHUNK = 256 * 1024
_PARTIAL_SUFFIX = ".partial"
_USER_AGENT = f"openau/{__version__} (+model download)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report from :func:`download_models`.

    Attributes
    ----------
    path : str
        The file (installed-layout path).
    index, count : int
        This is file ``index`` (1-based) of ``count``.
    done : int
        Bytes of this file on disk so far (including a resumed part).
    total : int or None
        Expected bytes, when known.
    event : str
        ``"start"``, ``"data"``, ``"retry"`` (``message`` says why) or ``"done"``.
    message : str
    """

    path: str
    index: int
    count: int
    done: int
    total: int | None
    event: str
    message: str = ""


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_models` did."""

    store: ModelStore
    #: Files fetched and verified (installed-layout paths).
    downloaded: tuple[str, ...]
    #: Files fetched that the manifest has no checksum for (optional extras).
    unverified: tuple[str, ...]


ProgressCallback = Callable[[DownloadProgress], None]


def files_to_download(
    store: ModelStore, manifest: Manifest | None = None, *, include_optional: bool = False
) -> tuple[ManifestEntry, ...]:
    """The entries that are missing or corrupt in ``store`` (checked by SHA-256).

    Optional entries count only with ``include_optional``, and only when absent
    (one without a checksum cannot be found corrupt).
    """
    manifest = load_manifest() if manifest is None else manifest
    chosen = [e for e in manifest if e.required or include_optional]
    return tuple(e for e in chosen if not check_file(e, store.path(e.path)).state.usable)


def download_models(
    store: ModelStore,
    *,
    license_accepted: bool,
    manifest: Manifest | None = None,
    include_optional: bool = False,
    base_url: str | None = None,
    progress: ProgressCallback | None = None,
    attempts: int = 3,
    timeout: float = 30.0,
    retry_delay: float = 1.0,
) -> DownloadResult:
    """Fetch every missing or corrupt model file into ``store``.

    Parameters
    ----------
    store : ModelStore
        The destination (created when absent), e.g. ``locate_models(folder)``.
    license_accepted : bool
        Must be True: the user has read :data:`LICENSE_SUMMARY` and accepted
        OpenFace's licence. Nothing is fetched or written otherwise.
    manifest : Manifest, optional
        Which files to consider; defaults to the shipped manifest. Pass
        ``load_manifest().subset([...])`` to fetch a few files.
    include_optional : bool
        Also fetch optional extras (CE-CLM patch experts, unverifiable).
    base_url : str, optional
        A mirror laid out like a model folder, replacing the manifest's
        addresses; defaults to ``$OPENAU_MODELS_URL`` when set.
    progress : callable, optional
        Called with a :class:`DownloadProgress` as bytes arrive.
    attempts : int
        Tries per address before giving up; each retry resumes the partial file.
    timeout : float
        Seconds without data before a connection counts as failed.
    retry_delay : float
        Seconds before the first retry, doubling after each.

    Returns
    -------
    DownloadResult

    Raises
    ------
    LicenseNotAcceptedError
        When ``license_accepted`` is False.
    ModelDownloadError
        When a file cannot be fetched from any address (the partial file is
        kept for the next run to resume) or cannot be written.
    ModelChecksumError
        When a fetched file's size or SHA-256 is wrong; nothing is left behind.
    """
    if not license_accepted:
        raise LicenseNotAcceptedError(
            "OpenFace's model licence was not accepted, so nothing was downloaded; read "
            f"{LICENSE_URL} and run `openau models download --accept-license` to accept it"
        )
    base_url = base_url or os.environ.get(ENV_MODELS_URL) or None
    todo = files_to_download(store, manifest, include_optional=include_optional)
    downloaded: list[str] = []
    unverified: list[str] = []
    for index, entry in enumerate(todo, start=1):
        urls = [f"{base_url.rstrip('/')}/{quote(entry.path)}"] if base_url else list(entry.urls)
        if not urls:
            raise ModelDownloadError(
                f"{entry.path} has no download address; fetch it by hand from OpenFace "
                f"and put it at {store.path(entry.path)}"
            )
        job = _Job(entry, store.path(entry.path), index, len(todo), progress)
        _fetch_verified(job, urls, _Policy(attempts, timeout, retry_delay))
        (downloaded if entry.verifiable else unverified).append(entry.path)
    return DownloadResult(store, tuple(downloaded), tuple(unverified))


@dataclass(frozen=True)
class _Policy:
    """How hard to try: attempts per address, socket timeout, first retry delay."""

    attempts: int
    timeout: float
    delay: float


@dataclass(frozen=True)
class _Job:
    """One file to fetch and where its progress goes."""

    entry: ManifestEntry
    destination: Path
    index: int
    count: int
    progress: ProgressCallback | None

    @property
    def partial(self) -> Path:
        return self.destination.with_name(self.destination.name + _PARTIAL_SUFFIX)

    def notify(self, event: str, done: int, message: str = "", total: int | None = None) -> None:
        if self.progress is not None:
            total = self.entry.size if total is None else total
            self.progress(
                DownloadProgress(
                    self.entry.path, self.index, self.count, done, total, event, message
                )
            )


def _fetch_verified(job: _Job, urls: list[str], policy: _Policy) -> None:
    """Fetch one file from the first address that works, verify it, move it into place."""
    entry, partial = job.entry, job.partial
    try:
        job.destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelDownloadError(f"cannot create {job.destination.parent}: {exc.strerror}") from exc
    errors: list[str] = []
    for url in urls:
        # A resumed file that fails verification may hold bytes of an older
        # attempt: one fresh, complete download decides.
        for fresh in (False, True):
            if fresh:
                partial.unlink(missing_ok=True)
            job.notify("start", _size(partial))
            try:
                resumed = _transfer(job, url, policy)
            except ModelDownloadError as exc:
                errors.append(str(exc))
                break
            problem = _verify(entry, partial)
            if problem is None:
                os.replace(partial, job.destination)
                job.notify("done", _size(job.destination))
                return
            partial.unlink(missing_ok=True)
            if fresh or not resumed:
                raise ModelChecksumError(
                    f"{entry.path}: the downloaded file {problem} (from {url}); nothing was "
                    f"kept. The server may hold another version than OpenFace "
                    f"{OPENFACE_VERSION}: try again later or fetch the file by hand"
                )
    raise ModelDownloadError(
        f"could not download {entry.path}: {'; '.join(errors)}; the partial file is kept "
        "and the next `openau models download` resumes it"
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _verify(entry: ManifestEntry, partial: Path) -> str | None:
    """None when the fetched file is right, else what is wrong with it."""
    if not entry.verifiable:
        # No checksum to compare with: at least refuse an HTML error page.
        with open(partial, "rb") as handle:
            head = handle.read(64).lstrip().lower()
        if head.startswith((b"<!doctype", b"<html")):
            return "is a web page, not a model file"
        return None
    size = _size(partial)
    if size != entry.size:
        return f"has {size} bytes, expected {entry.size}"
    digest = file_sha256(partial)
    if digest != entry.sha256:
        return f"has SHA-256 {digest}, expected {entry.sha256}"
    return None


def _transfer(job: _Job, url: str, policy: _Policy) -> bool:
    """Bring the partial file to the full content of ``url``; True if it resumed."""
    partial, size = job.partial, job.entry.size
    last_error = "no attempt made"
    resumed = False
    attempts = max(1, policy.attempts)
    for attempt in range(1, attempts + 1):
        offset = _size(partial)
        if size is not None and offset >= size:
            if offset == size:
                return True
            partial.unlink()
            offset = 0
        headers = {"User-Agent": _USER_AGENT}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            with urlopen(Request(url, headers=headers), timeout=policy.timeout) as response:
                if offset and not _continues_at(response, offset):
                    offset = 0  # the server sent the whole file
                resumed = resumed or offset > 0
                length = response.headers.get("Content-Length")
                total = offset + int(length) if length is not None else size
                done = _copy(response, job, offset, total)
            if length is not None and done != total:
                raise ConnectionError(f"connection closed after {done} of {total} bytes")
            return resumed
        except HTTPError as exc:
            if exc.code == 416:  # range not satisfiable: the partial file is stale
                partial.unlink(missing_ok=True)
            elif 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise ModelDownloadError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
            last_error = f"HTTP {exc.code} {exc.reason}"
        except ModelDownloadError:
            raise
        except (URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            last_error = f"{type(exc).__name__}: {reason}"
        if attempt < attempts:
            job.notify("retry", _size(partial), f"{last_error}; retrying")
            time.sleep(policy.delay * 2 ** (attempt - 1))
    raise ModelDownloadError(f"{url}: {last_error} (after {attempts} attempts)")


def _continues_at(response, offset: int) -> bool:
    """True when a response is the part of the file starting at ``offset``."""
    if response.status != 206:
        return False
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return match is not None and int(match.group(1)) == offset


def _copy(response, job: _Job, offset: int, total: int | None) -> int:
    """Append (at ``offset``) or write the response body; returns bytes on disk.

    Network errors propagate as they are (the caller retries); a local write
    error becomes :class:`ModelDownloadError` (retrying would not help).
    """
    done = offset
    try:
        out = open(job.partial, "r+b" if offset else "wb")
    except OSError as exc:
        raise ModelDownloadError(f"cannot write {job.partial}: {exc.strerror}") from exc
    with out:
        out.seek(offset)
        out.truncate()
        job.notify("data", done, total=total)
        while chunk := response.read(_CHUNK):
            try:
                out.write(chunk)
            except OSError as exc:
                raise ModelDownloadError(f"cannot write {job.partial}: {exc.strerror}") from exc
            done += len(chunk)
            job.notify("data", done, total=total)
    return done
