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
]
