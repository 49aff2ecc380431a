"""``openau models``: check, download and link OpenFace's model files.

* ``openau models check [--models DIR] [--quick] [--verbose]`` lists what is
  present, missing or corrupt and how to fix it; exit 0 only when every
  required file is present and verified.
* ``openau models download [--models DIR] [--accept-license] [--include-optional]``
  fetches what is missing or corrupt, after the user accepts OpenFace's licence.
* ``openau models link OPENFACE_DIR`` checks an OpenFace installation and
  remembers it; ``openau models unlink`` forgets it.

Reports go to stdout; the licence, prompts and progress go to stderr.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import Counter

__all__ = ["register"]

_MB = 1e6
# Problem lines shown without --verbose.
_MAX_LISTED = 12


def register(subparsers) -> None:
    """Add ``models`` and its actions to the top-level parser."""
    parser = subparsers.add_parser(
        "models",
        help="check, download or link OpenFace 2.2's model files",
        description="Check, download or link OpenFace 2.2's model files.",
    )
    actions = parser.add_subparsers(dest="models_action", required=True)

    check = actions.add_parser("check", help="verify the model files (size and SHA-256)")
    _add_models_option(check)
    check.add_argument(
        "--quick", action="store_true", help="compare sizes only (skip SHA-256; faster)"
    )
    check.add_argument("--verbose", "-v", action="store_true", help="list every file")
    check.set_defaults(handler=_check)

    download = actions.add_parser(
        "download", help="download missing or corrupt model files (asks you to accept the licence)"
    )
    _add_models_option(download)
    download.add_argument(
        "--accept-license",
        action="store_true",
        help="accept OpenFace's licence (academic/non-profit non-commercial research) "
        "without the prompt",
    )
    download.add_argument(
        "--include-optional",
        action="store_true",
        help="also download the optional CE-CLM patch experts (~430 MB, unverifiable)",
    )
    download.set_defaults(handler=_download)

    link = actions.add_parser("link", help="use an existing OpenFace 2.2 installation's models")
    link.add_argument("openface_dir", metavar="OPENFACE_DIR", help="OpenFace installation folder")
    link.set_defaults(handler=_link)

    unlink = actions.add_parser("unlink", help="forget the linked OpenFace installation")
    unlink.set_defaults(handler=_unlink)


def _add_models_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        metavar="DIR",
        help="model folder (default: $OPENAU_MODELS, the linked OpenFace installation, "
        "or the per-user data folder)",
    )


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _fix_command(store) -> str:
    from openau.models.store import SOURCE_EXPLICIT

    command = "openau models download"
    if store.source == SOURCE_EXPLICIT:
        command += f" --models {shlex.quote(str(store.root))}"
    return command


def _print_report(report, verbose: bool) -> None:
    store = report.store
    print(f"Model folder: {store.root} (from {store.source}, {store.layout} layout)")
    verified = "size checked" if report.quick else "verified"
    groups: dict[str, list] = {}
    for status in report.statuses:
        groups.setdefault(status.entry.group, []).append(status)
    for group, statuses in groups.items():
        good = sum(s.state.usable for s in statuses)
        if statuses[0].entry.required:
            print(f"  {group:<10} {good:>3}/{len(statuses)} {verified}")
        else:
            print(
                f"  {group:<10} {good:>3}/{len(statuses)} present (optional, not used by "
                "openau; `openau models download --include-optional`)"
            )
    if not store.root.is_dir():
        print(f"  the folder {store.root} does not exist")
    shown = [s for s in report.statuses if verbose or (s.entry.required and not s.state.usable)]
    if not verbose and len(shown) > _MAX_LISTED:
        hidden = len(shown) - _MAX_LISTED + 1
        shown = shown[: _MAX_LISTED - 1]
    else:
        hidden = 0
    for status in shown:
        detail = f" ({status.detail})" if status.detail else ""
        print(f"  {status.state.value:<14} {status.entry.path}{detail}")
    if hidden:
        print(f"  ... and {hidden} more (--verbose lists every file)")


def _summary(report) -> str:
    required = sum(1 for s in report.statuses if s.entry.required)
    if report.ok and report.quick:
        return (
            f"All {required} required files are present with the right sizes "
            "(run without --quick to verify their SHA-256)."
        )
    if report.ok:
        return f"All {required} required files are present and verified."
    problems = Counter(s.state.value for s in report.problems)
    listing = ", ".join(f"{n} {state}" for state, n in problems.items())
    return (
        f"{len(report.problems)} of {required} required files are missing or corrupt "
        f"({listing}). Fix: `{_fix_command(report.store)}` fetches them after you accept "
        "OpenFace's licence, or pass --models DIR to use a complete folder."
    )


def _check(args) -> int:
    from openau.models.check import check_models
    from openau.models.store import locate_models

    report = check_models(locate_models(args.models), quick=args.quick)
    _print_report(report, args.verbose)
    print(_summary(report))
    return 0 if report.ok else 1


def _ask_consent(accepted: bool) -> bool:
    from openau.models.download import LICENSE_SUMMARY

    _err(LICENSE_SUMMARY)
    if accepted:
        _err("Licence accepted with --accept-license.")
        return True
    sys.stderr.write("Type YES to accept OpenFace's licence and download: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip() == "YES"


def _download(args) -> int:
    from openau.errors import LicenseNotAcceptedError
    from openau.models.check import check_models
    from openau.models.download import download_models, files_to_download
    from openau.models.store import locate_models

    store = locate_models(args.models)
    todo = files_to_download(store, include_optional=args.include_optional)
    if not todo:
        print(f"Nothing to download: every file is present and verified in {store.root}.")
        return 0
    known = sum(e.size or 0 for e in todo)
    unknown = [e for e in todo if e.size is None]
    size = f"{known / _MB:.1f} MB" + (f" + {len(unknown)} files of unknown size" if unknown else "")
    _err(f"{len(todo)} files ({size}) will be downloaded to {store.root}.")
    if unknown:
        _err(
            "The optional CE-CLM patch experts come from OpenFace's Dropbox/OneDrive copies; "
            "OpenFace publishes no checksum for them, so openau cannot verify them. If the "
            "download fails, fetch them by hand with OpenFace's download_models script and "
            f"put them in {store.path('model/patch_experts')}."
        )
    if not _ask_consent(args.accept_license):
        raise LicenseNotAcceptedError(
            "licence not accepted (answer YES or pass --accept-license); nothing was downloaded"
        )
    with _Progress() as progress:
        result = download_models(
            store,
            license_accepted=True,
            include_optional=args.include_optional,
            progress=progress,
        )
    for path in result.unverified:
        _err(f"downloaded {path} (not verifiable: no published checksum)")
    report = check_models(store)
    print(f"Downloaded {len(result.downloaded) + len(result.unverified)} files to {store.root}.")
    print(_summary(report))
    return 0 if report.ok else 1


def _link(args) -> int:
    import os

    from openau.errors import ModelsNotFoundError
    from openau.models.check import check_models
    from openau.models.store import ENV_MODELS, SOURCE_LINK, ModelStore, save_link

    store = ModelStore.at(args.openface_dir, SOURCE_LINK)
    if not store.root.is_dir():
        raise ModelsNotFoundError(f"{store.root} does not exist; pass an OpenFace 2.2 folder")
    if not store.path("model/main_clnf_general.txt").parent.is_dir():
        raise ModelsNotFoundError(
            f"{store.root} holds neither model/ nor lib/local/LandmarkDetector/model: it is "
            "not an OpenFace installation (pass the folder holding OpenFace's executables "
            "or its source tree)"
        )
    report = check_models(store)
    _print_report(report, verbose=False)
    if not report.ok:
        print(
            f"Not linked: {len(report.problems)} required files are missing or corrupt in "
            f"{store.root}. Use an OpenFace {_openface_version()} installation, or "
            "`openau models download` to fetch the files instead."
        )
        return 1
    config = save_link(store.root)
    print(f"Linked {store.root} (remembered in {config}).")
    if os.environ.get(ENV_MODELS):
        _err(f"note: {ENV_MODELS} is set and takes precedence over the link.")
    return 0


def _openface_version() -> str:
    from openau.models.manifest import OPENFACE_VERSION

    return OPENFACE_VERSION


def _unlink(args) -> int:
    from openau.models.store import remove_link

    print("Forgot the linked OpenFace installation." if remove_link() else "Nothing was linked.")
    return 0


class _Progress:
    """Download progress on stderr: a rich bar on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self._rich = None
        self._task = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

            self._rich = Progress(
                *Progress.get_default_columns(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> _Progress:
        if self._rich is not None:
            self._rich.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.__exit__(*exc)

    def __call__(self, event) -> None:
        label = f"[{event.index}/{event.count}] {event.path}"
        if self._rich is None:
            if event.event == "start":
                resumed = f", resuming at {event.done} bytes" if event.done else ""
                _err(f"{label}{resumed} ...")
            elif event.event == "retry":
                _err(f"{label}: {event.message}")
            elif event.event == "done":
                _err(f"{label}: done")
            return
        if event.event == "start":
            if self._task is not None:
                self._rich.remove_task(self._task)
            self._task = self._rich.add_task(label, total=event.total, completed=event.done)
        elif event.event == "retry":
            self._rich.console.print(f"{label}: {event.message}")
        elif self._task is not None:
            self._rich.update(self._task, completed=event.done, total=event.total)
