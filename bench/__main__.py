"""Dispatch ``python -m bench NAME [ARGS]`` to ``bench/NAME.py``'s ``main(argv)``.

Each benchmark prints its figures (frames per second, milliseconds per stage,
peak memory) and returns an exit code. Run from the repository root.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def _available() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = _available()
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in names:
        print("usage: python -m bench {" + ",".join(names) + "} [ARGS]", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(f"bench.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
