"""What the benchmarks and reports share: folders, thread caps, memory, the machine, reference clips.

Nothing here imports numpy at module level: :func:`cap_threads` must be able
to set the numeric libraries' thread variables before they load.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

# The worker pool's module loads no numpy (a batch's parent process stays
# light), so its list of thread variables can be taken here, ahead of numpy.
from openau.video.pool import THREAD_ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
#: Where reports go by default (git-ignored).
RESULTS_DIR = ROOT / "bench" / "results"


#: Libraries whose versions go into every report.
LIBRARIES = ("openau", "numpy", "numba", "onnxruntime", "opencv-python-headless", "av", "pandas")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


# -- folders -----------------------------------------------------------------------


def shared_dir() -> Path:
    """``$OPENAU_SHARED``, else the ``shared`` folder beside the repository."""
    return Path(os.environ.get("OPENAU_SHARED", ROOT.parent / "shared")).resolve()


def default_models() -> Path:
    """``$OPENAU_MODELS``, else ``<shared>/openface-models``."""
    env = os.environ.get("OPENAU_MODELS")
    return Path(env).resolve() if env else shared_dir() / "openface-models"


def default_reference() -> Path:
    return shared_dir() / "reference"


# -- threads and memory -------------------------------------------------------------


def cap_threads(threads: int | None) -> None:
    """Cap numpy/BLAS, numba and OpenCV threads for this process (None: leave them).

    Sets the environment variables (read by BLAS and numba when they load;
    also inherited by child processes), then caps the libraries already
    loaded through :func:`openau.video.pool.limit_threads` (OpenCV, numba,
    and BLAS via ``threadpoolctl`` when installed). ONNX Runtime's threads are
    set per session by ``ExtractConfig(threads=...)``.
    """
    if threads is None:
        return
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)
    from openau.video.pool import limit_threads

    limit_threads(threads)


def blas_capped() -> str:
    """How BLAS's threads are known to be capped: by threadpoolctl, or by the environment only."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return "environment variables (threadpoolctl not installed)"
    return "threadpoolctl"


def peak_rss_mib(children: bool = False) -> float | None:
    """Peak resident memory of this process (or of its largest waited-for child), MiB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss
    # ru_maxrss is in bytes on macOS, KiB elsewhere.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


# -- the machine ------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else ``platform``)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except OSError:
            pass
    return platform.processor() or platform.machine() or "unknown"


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """The repository's commit (short), with ``+dirty`` when the tree has changes; None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True)  # fmt: skip
    except OSError:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine_info() -> dict:
    """Where and when a report was made."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": cores,
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        "commit": git_commit(),
    }


def machine_markdown(info: dict) -> str:
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items())
    commit = f", openau commit {info['commit']}" if info.get("commit") else ""
    return (
        f"{info['date']}; {info['cpu']}, {info['cores']} cores available; {info['os']}; "
        f"Python {info['python']}{commit}.\nLibraries: {libs}."
    )


# -- reports -----------------------------------------------------------------------------


def write_report(folder: Path, name: str, markdown: str, data: dict) -> tuple[Path, Path]:
    """Write ``<folder>/<name>.md`` and ``<name>.json``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"{name}.md", folder / f"{name}.json"
    md.write_text(markdown)
    js.write_text(json.dumps(data, indent=1, allow_nan=False, default=_json_default) + "\n")
    return md, js


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- reference clips ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceInput:
    """One folder of OpenFace output and the input it came from.

    Attributes
    ----------
    name : str
        The folder name (``single_face``, ``single_face_jpg``).
    media : Path
        The video or image OpenFace read.
    kind : {"video", "image"}
    table : Path
        OpenFace's CSV, full precision when the folder has one.
    """

    name: str
    media: Path
    kind: str
    table: Path


def _input_name(folder: Path) -> str | None:
    """The input file name recorded in ``of_details.txt`` (``Input:<name>``)."""
    details = folder / "of_details.txt"
    if details.is_file():
        for line in details.read_text(errors="replace").splitlines():
            if line.startswith("Input:"):
                return Path(line.split(":", 1)[1].strip().replace("\\", "/")).name
    return None


def _find_media(folder: Path, media: Path) -> Path | None:
    name = _input_name(folder)
    if name and (media / name).is_file():
        return media / name
    # The layout's convention: <stem> for a video, <stem>_<ext> for an image.
    stem, _, ext = folder.name.rpartition("_")
    if stem and (media / f"{stem}.{ext}").is_file():
        return media / f"{stem}.{ext}"
    videos = [p for p in sorted(media.glob(f"{folder.name}.*")) if p.suffix.lower() not in IMAGE_SUFFIXES]
    return videos[0] if videos else None


def table_in(folder: Path) -> Path | None:
    """OpenFace's CSV in a reference folder: ``openface_precise.csv``, else ``openface.csv``."""
    for name in ("openface_precise.csv", "openface.csv"):
        if (folder / name).is_file():
            return folder / name
    return None


def reference_inputs(reference: Path, media: Path | None = None, names: list[str] | None = None) -> list[ReferenceInput]:
    """The inputs of a folder laid out like ``../shared/reference``.

    Parameters
    ----------
    reference : Path
        One sub-folder per input, each with ``openface_precise.csv`` or ``openface.csv``.
    media : Path, optional
        Where the inputs are (default ``<reference>/../media``).
    names : list of str, optional
        Only these sub-folders, in this order.

    Raises
    ------
    SystemExit
        A named folder, its table or its input file is missing (a one-line message).
    """
    media = media or reference.parent / "media"
    if not reference.is_dir():
        raise SystemExit(f"reference folder not found: {reference} (pass --reference DIR or set OPENAU_SHARED)")
    folders = [reference / n for n in names] if names else sorted(p for p in reference.iterdir() if p.is_dir())
    inputs = []
    for folder in folders:
        table = table_in(folder)
        if table is None:
            if names:
                raise SystemExit(f"{folder}: no openface_precise.csv or openface.csv")
            continue
        path = _find_media(folder, media)
        if path is None:
            raise SystemExit(f"{folder}: its input was not found in {media} (pass --media DIR)")
        kind = "image" if path.suffix.lower() in IMAGE_SUFFIXES else "video"
        inputs.append(ReferenceInput(folder.name, path, kind, table))
    return inputs


# -- OpenFace's own timings ----------------------------------------------------------------------

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def openface_timings(reference: Path) -> dict[str, dict]:
    """OpenFace 2.2's timing table from the reference README, by clip folder name.

    Returns
    -------
    dict
        ``{"single_face": {"file": "single_face.mp4", "frames": 72,
        "fps_one_core": 38.3, "fps_one_core_range": [36.9, 39.1],
        "fps_default": 48.2, "fps_default_range": [...], "peak_rss_mib": 306}, ...}``;
        empty when the README or its table is absent.
    """
    readme = reference / "README.md"
    if not readme.is_file():
        return {}
    row = re.compile(
        rf"^\|\s*(\S+\.\w+)\s*\|\s*(\d+)\s*\|\s*{_NUMBER}\s*\({_NUMBER}-{_NUMBER}\)\s*\|"
        rf"\s*{_NUMBER}\s*\({_NUMBER}-{_NUMBER}\)\s*\|\s*{_NUMBER}\s*\|\s*$"
    )
    timings = {}
    for line in readme.read_text().splitlines():
        match = row.match(line.strip())
        if match:
            file, frames, one, one_lo, one_hi, default, d_lo, d_hi, rss = match.groups()
            timings[Path(file).stem] = {
                "file": file,
                "frames": int(frames),
                "fps_one_core": float(one),
                "fps_one_core_range": [float(one_lo), float(one_hi)],
                "fps_default": float(default),
                "fps_default_range": [float(d_lo), float(d_hi)],
                "peak_rss_mib": float(rss),
            }
    return timings


def openface_image_timings(reference: Path) -> dict[str, dict]:
    """OpenFace 2.2's FaceLandmarkImg timings from the reference README, by folder name (``single_face_jpg``).

    Returns
    -------
    dict
        ``{"single_face_jpg": {"file": "single_face.jpg", "faces": 1,
        "seconds_range": [0.53, 0.59], "peak_rss_mib": 169}, ...}``; empty
        when the README or its table is absent.
    """
    readme = reference / "README.md"
    if not readme.is_file():
        return {}
    row = re.compile(rf"^\|\s*(\S+\.\w+)\s*\|\s*(\d+)\s*\|\s*{_NUMBER}-{_NUMBER}\s*\|\s*{_NUMBER}\s*\|\s*$")
    timings = {}
    for line in readme.read_text().splitlines():
        match = row.match(line.strip())
        if match:
            file, faces, low, high, rss = match.groups()
            name = Path(file)
            timings[f"{name.stem}_{name.suffix[1:]}"] = {
                "file": file,
                "faces": int(faces),
                "seconds_range": [float(low), float(high)],
                "peak_rss_mib": float(rss),
            }
    return timings


def openface_machine(reference: Path) -> str | None:
    """The sentence of the reference README that names the machine OpenFace was timed on."""
    readme = reference / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text()
    timing = text.split("## Timing", 1)[-1]
    for paragraph in timing.split("\n\n"):
        if paragraph.strip().startswith("OpenFace 2.2 on"):
            return " ".join(paragraph.split()).rstrip(".")
    return None
