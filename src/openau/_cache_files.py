"""Files in openau's per-user cache folder: where it is, and how entries are written and read.

Several stages keep derived data there so that later processes start faster
(MTCNN and validator ONNX graphs, CCNF covariances, compiled kernels). The
folder is ``$OPENAU_CACHE_DIR`` when set, else
``platformdirs.user_cache_dir("openau")`` (``~/.cache/openau`` on Linux); each
kind of entry has its own subfolder. Entries are named by a hash of what
they are computed from, so they never go stale; they are written under a
temporary name and renamed, so a concurrent reader (another worker process)
sees a whole file or none; and a cache that cannot be written (read-only or
full disk) only costs the recomputation. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["CACHE_ENV", "cache_root", "read_checked", "write_atomic", "write_checked"]

#: Environment variable naming the cache folder.
CACHE_ENV = "OPENAU_CACHE_DIR"

_DIGEST_SIZE = hashlib.sha256().digest_size


def cache_root() -> Path:
    """The cache folder (it may not exist yet)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("openau", appauthor=False))


def write_atomic(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` (its folder created) atomically; False when it could not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def write_checked(path: Path, payload: bytes) -> bool:
    """:func:`write_atomic` of the payload behind its SHA-256, for :func:`read_checked`."""
    return write_atomic(path, hashlib.sha256(payload).digest() + payload)


def read_checked(path: Path) -> bytes | None:
    """The payload :func:`write_checked` stored; None when absent, unreadable or damaged."""
    try:
        content = path.read_bytes()
    except OSError:
        return None
    digest, payload = content[:_DIGEST_SIZE], content[_DIGEST_SIZE:]
    if not payload or hashlib.sha256(payload).digest() != digest:
        return None
    return payload
