"""Package attributes imported from their submodules on first use (PEP 562).

A package that re-exports its submodules' names would otherwise import every
submodule, and what they import, whenever any one of them is needed; each
process would pay for modules it never uses.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_names(
    package: str, where: Mapping[str, str], names: Iterable[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for names found in its submodules.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    where : mapping of str to str
        Each name to the submodule (relative to ``package``) that defines it.
    names : iterable of str
        The package's public names (its ``__all__``), for ``dir()``.

    Returns
    -------
    __getattr__, __dir__
        Assign both at the package's top level. A name is imported on first
        access and kept in the package's namespace, so later lookups are plain
        attribute reads.
    """
    namespace = sys.modules[package].__dict__
    public = list(names)

    def __getattr__(name: str):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(public))

    return __getattr__, __dir__
