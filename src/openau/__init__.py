"""openau: facial Action Units with the numbers OpenFace 2.2 gives.

Heavy modules are imported lazily so that ``openau --help`` and
``import openau`` stay fast.
"""

from __future__ import annotations

from openau.errors import (
    InputError,
    InputNotFoundError,
    ModelFileError,
    ModelsNotFoundError,
    OpenAUError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "__version__",
    "OpenAUError",
    "ModelFileError",
    "ModelsNotFoundError",
    "InputError",
    "InputNotFoundError",
    "ExtractConfig",
    "Extractor",
    "extract_many",
]

# Names served by openau.api, imported on first access (pandas, PyAV, the stages).
_API = frozenset({"ExtractConfig", "Extractor", "extract_many"})


def __getattr__(name: str):
    if name in _API:
        from openau import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)
