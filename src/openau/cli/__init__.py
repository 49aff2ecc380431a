"""The ``openau`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``,
which adds its parser and sets ``handler`` to a function
``handler(args) -> int`` returning the exit code. Sub-command modules keep
their heavy imports inside the handler so that start-up stays fast.

This is the only place where openau prints errors: an :class:`OpenAUError`
becomes one line on stderr and exit code 1; Ctrl-C becomes exit code 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from openau import __version__
from openau.errors import OpenAUError

__all__ = ["main", "build_parser"]

# Modules under openau.cli that contribute a sub-command, in help order.
_SUBCOMMANDS: tuple[str, ...] = ("models", "detect", "run_extract")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="openau",
        description="Facial Action Units with OpenFace 2.2's numbers.",
    )
    parser.add_argument("--version", action="version", version=f"openau {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(f"openau.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except OpenAUError as exc:
        print(f"openau: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("openau: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
