"""Whole-process speed and memory, as users see it: ``python -m bench process [OPTIONS] [CLIP ...]``.

Runs ``openau extract CLIP -o TMP --threads 1 -q`` as a fresh process per
repeat (start-up, model loading and kernel loading included, as the reference
README times OpenFace) and prints per clip, median over ``--repeat`` runs:

- wall-clock seconds and frames/s of the whole process;
- CPU seconds (user + system) of the process;
- peak RSS of the process;
- seconds from process start to the first frame leaving the AU stage
  (a separate run of the same extraction through the Python API, which
  reports its first frame).

``--core N`` pins every run to that core with ``taskset`` (Linux), as the
reference timings of OpenFace on one core. Timings on a shared machine are
noisy: take the medians, and compare runs made side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# A child that extracts through the library and prints when its first frame came out.
_FIRST_FRAME_CHILD = """
import sys, time
started = float(sys.argv[1])
from openau.video.batch import run_batch
from openau.video.config import ExtractConfig
from openau.video.events import FramesDone
from openau.video.sources import expand_inputs
first = []
def on_event(event):
    if isinstance(event, FramesDone) and not first:
        first.append(time.time() - started)
run_batch(expand_inputs([sys.argv[2]]), [None], ExtractConfig(threads=1), on_event=on_event)
print(f"first-frame {first[0]:.4f}")
"""


def _shared() -> Path:
    return Path(os.environ.get("OPENAU_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def _pinned(command: list[str], core: int | None) -> list[str]:
    if core is None:
        return command
    if shutil.which("taskset") is None:
        raise SystemExit("--core needs taskset (Linux)")
    return ["taskset", "-c", str(core), *command]


def _frames(clip: Path) -> int:
    from openau.video.decode import VideoReader

    with VideoReader(clip) as reader:
        return sum(1 for _ in reader)


def _run_extract(clip: Path, out: Path, core: int | None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one ``openau extract`` process."""
    command = [sys.executable, "-m", "openau", "extract", str(clip), "-o", str(out), "--threads", "1", "-q"]
    started = time.perf_counter()
    process = subprocess.Popen(_pinned(command, core))
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"openau extract {clip} failed")
    peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)
    return wall, usage.ru_utime + usage.ru_stime, peak


def _first_frame(clip: Path, core: int | None) -> float:
    command = [sys.executable, "-c", _FIRST_FRAME_CHILD, repr(time.time()), str(clip)]
    result = subprocess.run(_pinned(command, core), capture_output=True, text=True, check=True)
    return float(result.stdout.split("first-frame")[1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench process", description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="clips (default: single_face.mp4, video01.mp4)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--core", type=int, help="pin every run to this core (taskset)")
    args = parser.parse_args(argv)
    media = _shared() / "media"
    clips = args.clips or [media / "single_face.mp4", media / "video01.mp4"]
    where = f"pinned to core {args.core}" if args.core is not None else "not pinned"
    print(f"whole `openau extract --threads 1` processes, {where}, median of {args.repeat} runs")
    for clip in clips:
        frames = _frames(clip)
        walls, cpus, peaks, firsts = [], [], [], []
        with tempfile.TemporaryDirectory() as out:
            for _ in range(args.repeat):
                wall, cpu, peak = _run_extract(clip, Path(out), args.core)
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(peak)
                firsts.append(_first_frame(clip, args.core))
        wall = statistics.median(walls)
        print(
            f"{clip.name}: {frames} frames, {wall:.2f} s wall (range {min(walls):.2f}-{max(walls):.2f}), "
            f"{frames / wall:.1f} frames/s, {statistics.median(cpus):.2f} s CPU, "
            f"peak RSS {statistics.median(peaks):.0f} MiB (max {max(peaks):.0f}), "
            f"first frame after {statistics.median(firsts):.2f} s (range {min(firsts):.2f}-{max(firsts):.2f})"
        )
    return 0
