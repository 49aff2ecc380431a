"""Speed per stage and end to end, beside OpenFace 2.2's: ``python -m bench speed [OPTIONS]``.

Three kinds of figures, per clip:

- **whole process** (what a user sees): ``openau extract CLIP`` run as a
  subprocess, wall-clock frames/s including start-up and model loading, the
  way the reference README times OpenFace: pinned to one core (``taskset -c``,
  or the process's CPU affinity where ``taskset`` is missing; not pinned
  where neither exists, and the report says so), and with default threads.
  Peak RSS of the process. Images (FaceLandmarkImg's inputs): seconds per
  image on one core, start-up included. ``--jobs N`` (N > 1) adds one batch
  run of all clips with ``--jobs N``.
- **in process, per stage**: the real engine (:class:`openau.video.engine.VideoRun`,
  with a thread per stage when this process has two cores, else all stages
  in one thread, as ``openau extract`` runs) with each stage wrapped by a clock, in this
  process with numpy/BLAS, numba, OpenCV and ONNX Runtime capped at
  ``--threads`` (default 1). Milliseconds of CPU time per frame for decode,
  detect (MTCNN, only on the frames it runs), landmarks (CLNF tracking and
  validation, detection excluded), PDM fit, align, FHOG, predict (geometry
  descriptor, running medians, SVR/SVM scores), post-process (AU
  post-processing, pose and 3-D landmarks), write (OpenFace-formatted CSV),
  and ``other`` (the rest of the process's CPU time during the run: engine
  threads, queues, building the table, and any library thread the caps
  missed, e.g. a spinning BLAS worker). CPU time is counted per thread, so
  waiting for a core on a busy machine does not inflate it. Also the
  engine's wall-clock frames/s (models loaded, kernels warm), model loading
  seconds and this process's peak RSS.
- **OpenFace 2.2**: its figures from the reference README's timing tables
  (measured on another machine). With ``--openface PATH`` (an OpenFace 2.2
  ``FeatureExtraction`` executable, run from its install folder so it finds
  ``model/``), OpenFace is also timed here, on the same core, each of its
  runs paired with an openau run (openau, OpenFace, openau, ...), with the
  reference README's flags (``-mloc model/main_clnf_general.txt -aus``): the
  paired ratios hold when a shared machine's speed drifts.

Repeats (``--repeat``, default 3) give medians; the machine may be shared, so
say so when quoting. Writes ``speed.md`` and ``speed.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from bench._common import (
    IMAGE_SUFFIXES,
    RESULTS_DIR,
    blas_capped,
    cap_threads,
    default_models,
    default_reference,
    machine_info,
    machine_markdown,
    openface_image_timings,
    openface_machine,
    openface_timings,
    peak_rss_mib,
    reference_inputs,
    write_report,
)

#: Stages in pipeline order, as reported.
STAGES = ("decode", "detect", "landmarks", "PDM fit", "align", "FHOG", "predict", "post-process", "write")
OTHER = "other"
#: Frames run untimed before a clip's timed runs.
WARM_UP_FRAMES = 30


class StageClock:
    """Exclusive CPU and wall seconds per stage, from any thread.

    A stage timed inside another (detect inside landmarks) is subtracted from
    the enclosing one, so the stages add up to the time spent in them.
    """

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextlib.contextmanager
    def stage(self, name: str):
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append([0.0, 0.0])
        c0, w0 = time.thread_time(), time.perf_counter()
        try:
            yield
        finally:
            cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
            inner_cpu, inner_wall = stack.pop()
            with self._lock:
                self.cpu[name] += cpu - inner_cpu
                self.wall[name] += wall - inner_wall
            if stack:
                stack[-1][0] += cpu
                stack[-1][1] += wall

    def wrap(self, name: str, function):
        def timed(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)

        timed.__wrapped__ = function
        return timed


class _TimedReader:
    """A VideoReader whose frame decoding is timed as ``decode``."""

    def __init__(self, reader, clock: StageClock) -> None:
        self._reader = reader
        self._clock = clock

    def __getattr__(self, name):
        return getattr(self._reader, name)

    def __iter__(self):
        frames = iter(self._reader)
        while True:
            with self._clock.stage("decode"):
                frame = next(frames, None)
            if frame is None:
                return
            yield frame


class _TimedAnalyser:
    def __init__(self, analyser, clock: StageClock) -> None:
        self._analyser = analyser
        self.add_frame = clock.wrap("predict", analyser.add_frame)
        self.finish = clock.wrap("post-process", analyser.finish)

    def __getattr__(self, name):
        return getattr(self._analyser, name)


@contextlib.contextmanager
def instrumented(stages, clock: StageClock):
    """Wrap the engine's reader and a worker's stages with ``clock``, restoring them afterwards."""
    import openau.features.frame as frame_module
    from openau.video import engine

    reader_class = engine.VideoReader
    kernels = {"fit_to_landmarks": "PDM fit", "align_face": "align", "hog_descriptor": "FHOG"}
    originals = {name: getattr(frame_module, name) for name in kernels}
    tracker = stages.tracker
    detector, new_analyser, geometry = tracker.detector, stages.new_analyser, stages.geometry
    try:
        engine.VideoReader = lambda *a, **k: _TimedReader(reader_class(*a, **k), clock)
        for name, stage in kernels.items():
            setattr(frame_module, name, clock.wrap(stage, originals[name]))
        tracker.detector = clock.wrap("detect", detector)
        tracker.track = clock.wrap("landmarks", type(tracker).track.__get__(tracker))
        stages.new_analyser = lambda: _TimedAnalyser(new_analyser(), clock)
        stages.geometry = clock.wrap("post-process", geometry)
        yield
    finally:
        engine.VideoReader = reader_class
        for name, function in originals.items():
            setattr(frame_module, name, function)
        tracker.detector = detector
        del tracker.track
        stages.new_analyser, stages.geometry = new_analyser, geometry


def _run_engine(path: Path, stages, config) -> tuple[object, float]:
    from openau.video.engine import VideoRun
    from openau.video.sources import Input

    started = time.perf_counter()
    with VideoRun(Input(path, "video"), stages, config) as run:
        output = run.finish()
    return output, time.perf_counter() - started


def _warm_up(path: Path, stages, config, frames: int | None = None) -> float:
    """Run the first frames of a clip untimed (numba cache loads or compiles, ONNX sessions open)."""
    from openau.video.engine import VideoRun
    from openau.video.sources import Input

    frames = frames or WARM_UP_FRAMES
    started = time.perf_counter()
    with VideoRun(Input(path, "video"), stages, config) as run:
        for result in run:
            if result.index + 1 >= frames:
                break
    return time.perf_counter() - started


def measure_in_process(clips: list[tuple[str, Path]], models: Path, threads: int | None, repeat: int,
                       device: str = "cpu", log=None, pipeline: bool | None = None) -> dict:  # fmt: skip
    """Per-stage CPU ms per frame and engine frames/s, in this process (see the module docstring).

    Call :func:`bench._common.cap_threads` before anything imports numpy
    (``main`` does): BLAS reads its thread count when it loads.
    """
    cap_threads(threads)
    from openau.output.writers import write_table
    from openau.video.config import ExtractConfig
    from openau.video.cores import pipelined
    from openau.video.stages import build_stages

    config = ExtractConfig(models=models, device=device, threads=threads, pipeline=pipeline)
    started = time.perf_counter()
    stages = build_stages(config)
    load = time.perf_counter() - started
    results = []
    with tempfile.TemporaryDirectory(prefix="openau-speed-") as folder:
        for name, path in clips:
            warm = _warm_up(path, stages, config)
            passes = []
            for _ in range(repeat):
                clock = StageClock()
                cpu0 = time.process_time()
                with instrumented(stages, clock):
                    output, seconds = _run_engine(path, stages, config)
                cpu = time.process_time() - cpu0
                with clock.stage("write"):  # the numpy columns, as the command line writes them
                    write_table(output.columns, Path(folder) / f"{name}.csv", "csv")
                clock.cpu[OTHER] = max(0.0, cpu - sum(v for k, v in clock.cpu.items() if k != "write"))
                passes.append((output.frames, seconds, dict(clock.cpu), dict(clock.wall)))
            frames = passes[0][0]
            ms = {s: 1e3 * statistics.median(p[2].get(s, 0.0) for p in passes) / frames for s in (*STAGES, OTHER)}
            wall_ms = {s: 1e3 * statistics.median(p[3].get(s, 0.0) for p in passes) / frames for s in STAGES}
            rates = [frames / p[1] for p in passes]
            results.append({
                "clip": name,
                "frames": frames,
                "warm_up_s": round(warm, 3),
                "cpu_ms_per_frame": ms,
                "cpu_ms_per_frame_total": sum(ms.values()),
                "stage_wall_ms_per_frame": wall_ms,
                "engine_threads": "one per stage" if pipelined(config) else "one for all stages",
                "engine_fps": statistics.median(rates),
                "engine_fps_range": [min(rates), max(rates)],
            })  # fmt: skip
            if log:
                log(f"in process {name}: {frames} frames, {statistics.median(rates):.1f} frames/s (engine), "
                    f"{sum(ms.values()):.1f} ms CPU per frame")  # fmt: skip
    return {
        "threads": threads,
        "blas_capped_by": blas_capped() if threads else None,
        "device": device,
        "model_load_s": round(load, 3),
        "peak_rss_mib": peak_rss_mib(),
        "repeat": repeat,
        "clips": results,
    }


# -- whole process -------------------------------------------------------------------------------


def _pin_command(cpu: int) -> tuple[list[str], object, str]:
    """(command prefix, preexec_fn, how) pinning a child to one CPU."""
    if shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)], None, f"taskset -c {cpu}"
    if hasattr(os, "sched_setaffinity"):
        return [], lambda: os.sched_setaffinity(0, {cpu}), f"CPU affinity {{{cpu}}}"
    return [], None, "not pinned (no taskset or CPU affinity on this system)"


def _wait(process: subprocess.Popen) -> tuple[int, float | None]:
    """Wait for a child; (exit code, its peak RSS in MiB where the system reports it)."""
    if hasattr(os, "wait4"):
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
        return process.returncode, peak
    return process.wait(), None


def run_cli(inputs: list[Path], models: Path, out: Path, env: dict, pin: int | None = None,
            jobs: int | None = None, device: str = "cpu") -> dict:  # fmt: skip
    """Run ``openau extract`` on ``inputs`` as a new process; wall seconds, peak RSS, frames written.

    ``jobs`` None leaves ``--jobs`` out (openau's default: every core the process may use).
    """
    prefix, preexec, how = _pin_command(pin) if pin is not None else ([], None, "not pinned")
    if out.exists():
        shutil.rmtree(out)
    command = [
        *prefix, sys.executable, "-m", "openau", "extract", *map(str, inputs), "-o", str(out),
        "--quiet", "--models", str(models), "--device", device,
        *(["--jobs", str(jobs)] if jobs is not None else []),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env, preexec_fn=preexec)
        code, peak = _wait(process)
        seconds = time.perf_counter() - started
        errors.seek(0)
        message = errors.read().decode(errors="replace").strip()
    if code != 0:
        raise SystemExit(f"openau extract failed (exit {code}): {' '.join(command)}\n{message}")
    frames = 0
    for path in out.glob("*.csv"):
        with open(path) as table:
            frames += sum(1 for _ in table) - 1
    return {"seconds": seconds, "peak_rss_mib": peak, "frames": frames, "pinned": how}


def run_openface(executable: Path, clip: Path, out: Path, pin: int | None) -> dict:
    """Run OpenFace's ``FeatureExtraction`` on ``clip`` as the reference README times it (AU-only)."""
    prefix, preexec, how = _pin_command(pin) if pin is not None else ([], None, "not pinned")
    if out.exists():
        shutil.rmtree(out)
    command = [*prefix, str(executable), "-f", str(clip), "-mloc", "model/main_clnf_general.txt",
               "-out_dir", str(out), "-aus"]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=executable.resolve().parent, preexec_fn=preexec)  # fmt: skip
    code, peak = _wait(process)
    seconds = time.perf_counter() - started
    tables = list(out.glob("*.csv"))
    if code != 0 or not tables:
        raise SystemExit(f"OpenFace failed (exit {code}, {len(tables)} tables): {' '.join(command)}")
    with open(tables[0]) as table:
        frames = sum(1 for _ in table) - 1
    return {"seconds": seconds, "peak_rss_mib": peak, "frames": frames, "pinned": how}


def measure_whole_process(clips: list[tuple[str, Path]], models: Path, repeat: int, jobs: int, env: dict,
                          device: str = "cpu", log=None, images: list[tuple[str, Path]] = (),
                          openface: Path | None = None) -> dict:  # fmt: skip
    """``openau extract`` per clip, pinned to one core and with default threads; each image pinned; a ``--jobs`` batch.

    With ``openface`` (a ``FeatureExtraction`` executable), each pinned openau
    run is followed by a pinned OpenFace run of the same clip on the same core.
    """
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    results = []
    image_results = []
    pinned_how = None
    with tempfile.TemporaryDirectory(prefix="openau-speed-cli-") as folder:
        out = Path(folder) / "out"
        # The first process compiles or loads numba's cache and warms the page cache.
        run_cli([clips[0][1]], models, out, env, device=device)
        for name, path in clips:
            row = {"clip": name}
            for label, pin, cores in (("one_core", cpu, 1), ("default", None, None)):
                runs = []
                theirs = []
                for _ in range(repeat):
                    runs.append(run_cli([path], models, out, env, pin, cores, device=device))
                    if openface is not None and label == "one_core":
                        theirs.append(run_openface(openface, path, out.with_name("openface"), pin))
                if theirs:
                    rates = [r["frames"] / r["seconds"] for r in theirs]
                    row["openface_here_fps_one_core"] = statistics.median(rates)
                    row["openface_here_fps_one_core_range"] = [min(rates), max(rates)]
                    row["openface_here_peak_rss_mib"] = max((r["peak_rss_mib"] or 0) for r in theirs) or None
                    # Seconds per frame, OpenFace's over openau's, run by run.
                    paired = [(t["seconds"] / t["frames"]) / (o["seconds"] / o["frames"]) for o, t in zip(runs, theirs)]
                    row["speedup_one_core"] = statistics.median(paired)
                    row["speedup_one_core_range"] = [min(paired), max(paired)]
                rates = [r["frames"] / r["seconds"] for r in runs]
                row["frames"] = runs[0]["frames"]
                row[f"fps_{label}"] = statistics.median(rates)
                row[f"fps_{label}_range"] = [min(rates), max(rates)]
                row[f"peak_rss_mib_{label}"] = max((r["peak_rss_mib"] or 0) for r in runs) or None
                if pin is not None:
                    pinned_how = runs[0]["pinned"]
            results.append(row)
            if log:
                log(f"whole process {name}: {row['fps_one_core']:.1f} frames/s on one core, "
                    f"{row['fps_default']:.1f} with default threads")  # fmt: skip
                if "speedup_one_core" in row:
                    log(f"  OpenFace here: {row['openface_here_fps_one_core']:.1f} frames/s on one core; "
                        f"openau {row['speedup_one_core']:.2f}x as fast (median of paired runs)")  # fmt: skip
        for name, path in images:
            runs = [run_cli([path], models, out, env, cpu, 1, device=device) for _ in range(repeat)]
            seconds = [r["seconds"] for r in runs]
            image_results.append({
                "image": name,
                "faces": runs[0]["frames"],
                "seconds_one_core": statistics.median(seconds),
                "seconds_one_core_range": [min(seconds), max(seconds)],
                "peak_rss_mib_one_core": max((r["peak_rss_mib"] or 0) for r in runs) or None,
            })  # fmt: skip
            if log:
                log(f"whole process {name}: {statistics.median(seconds):.2f} s on one core")
        batch = None
        if jobs > 1:
            runs = [run_cli([p for _, p in clips], models, out, env, jobs=jobs, device=device) for _ in range(repeat)]
            seconds = statistics.median(r["seconds"] for r in runs)
            batch = {
                "jobs": jobs,
                "clips": len(clips),
                "frames": runs[0]["frames"],
                "seconds": seconds,
                "fps": runs[0]["frames"] / seconds,
                "peak_rss_mib": max((r["peak_rss_mib"] or 0) for r in runs) or None,
            }
            if log:
                log(f"batch of {len(clips)} clips, --jobs {jobs}: {batch['fps']:.1f} frames/s")
    return {"pinned_by": pinned_how, "repeat": repeat, "clips": results, "images": image_results, "batch": batch,
            "openface_here": str(openface) if openface is not None else None}  # fmt: skip


# -- report ----------------------------------------------------------------------------------------


def _f(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def whole_process_table(clips: list[dict], openface: dict, engine: dict) -> list[str]:
    """Markdown rows of openau's whole-process figures beside the reference README's OpenFace figures.

    ``engine`` maps a clip to openau's in-process frames/s (models loaded), where measured.
    """
    lines = [
        "| clip | frames | openau, 1 core | OpenFace, 1 core | openau, default threads "
        "| OpenFace, default threads | openau MiB | OpenFace MiB | openau, models loaded |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in clips:
        of = openface.get(row["clip"], {})
        lines.append(
            f"| {row['clip']} | {row['frames']} | {_f(row['fps_one_core'])} | {_f(of.get('fps_one_core'))} "
            f"| {_f(row['fps_default'])} | {_f(of.get('fps_default'))} | {_f(row['peak_rss_mib_one_core'], 0)} "
            f"| {_f(of.get('peak_rss_mib'), 0)} | {_f(engine.get(row['clip']))} |"
        )
    return lines


def paired_table(clips: list[dict]) -> list[str]:
    """Markdown rows of openau beside OpenFace timed on this machine (none without ``--openface``)."""
    paired = [row for row in clips if "speedup_one_core" in row]
    if not paired:
        return []
    lines = [
        "| clip | openau, 1 core | OpenFace here, 1 core | openau speed-up (median of paired runs, range) "
        "| openau MiB | OpenFace MiB |",
        "|---|---|---|---|---|---|",
    ]
    for row in paired:
        low, high = row["speedup_one_core_range"]
        lines.append(
            f"| {row['clip']} | {_f(row['fps_one_core'])} | {_f(row['openface_here_fps_one_core'])} "
            f"| {row['speedup_one_core']:.2f}x ({low:.2f}-{high:.2f}) | {_f(row['peak_rss_mib_one_core'], 0)} "
            f"| {_f(row['openface_here_peak_rss_mib'], 0)} |"
        )
    return lines


def to_markdown(data: dict) -> str:
    openface = data.get("openface", {})
    engine = {row["clip"]: row["engine_fps"] for row in (data.get("in_process") or {}).get("clips", [])}
    lines = ["# openau against OpenFace 2.2: speed", "", machine_markdown(data["machine"]), ""]
    whole = data.get("whole_process")
    if whole:
        lines += [
            "## Whole process (`openau extract CLIP`, models loaded each time)",
            "",
            f"One core: {whole['pinned_by']}. Medians of {whole['repeat']} runs; "
            "OpenFace's figures are from the reference README (its machine: "
            f"{data.get('openface_machine') or 'see the reference README'}).",
            "",
            *whole_process_table(whole["clips"], openface, engine),
        ]
        paired = paired_table(whole["clips"])
        if paired:
            lines += [
                "",
                f"OpenFace 2.2 timed on this machine (`{whole['openface_here']}`, same core, each run paired "
                "with an openau run; `-mloc model/main_clnf_general.txt -aus`):",
                "",
                *paired,
            ]
        images = whole.get("images") or []
        if images:
            openface_images = data.get("openface_images", {})
            lines += [
                "",
                "Images, whole process on one core (seconds, start-up and model loading included):",
                "",
                "| image | faces | openau s | OpenFace s | openau peak RSS (MiB) | OpenFace peak RSS (MiB) |",
                "|---|---|---|---|---|---|",
            ]
            for row in images:
                of = openface_images.get(row["image"], {})
                span = "-".join(f"{v:.2f}" for v in of["seconds_range"]) if of else "n/a"
                lines.append(
                    f"| {row['image']} | {row['faces']} | {_f(row['seconds_one_core'], 2)} | {span} "
                    f"| {_f(row['peak_rss_mib_one_core'], 0)} | {_f(of.get('peak_rss_mib'), 0)} |"
                )
        batch = whole.get("batch")
        if batch:
            lines += ["", f"Batch of {batch['clips']} clips with `--jobs {batch['jobs']}`: {batch['frames']} frames "
                      f"in {batch['seconds']:.1f} s, {batch['fps']:.1f} frames/s; largest process "
                      f"{_f(batch['peak_rss_mib'], 0)} MiB."]  # fmt: skip
        lines.append("")
    inproc = data.get("in_process")
    if inproc:
        threads = inproc["threads"] or "the libraries' default"
        lines += [
            "## In process, per stage (ms of CPU time per frame)",
            "",
            f"Threads per numeric library: {threads}"
            + (f" (BLAS capped by {inproc['blas_capped_by']})" if inproc.get("blas_capped_by") else "")
            + f"; face detector on {inproc['device']}. Model loading {inproc['model_load_s']:.2f} s; "
            f"first {WARM_UP_FRAMES} frames of the first clip (numba kernels loaded from cache or compiled, "
            f"ONNX Runtime sessions opened) {inproc['clips'][0]['warm_up_s']:.2f} s; "
            f"peak RSS of this process {_f(inproc['peak_rss_mib'], 0)} MiB; medians of {inproc['repeat']} runs. "
            f"Engine frames/s: the engine ({inproc['clips'][0].get('engine_threads', 'threads')}, as "
            "`openau extract` runs on this process's cores), models loaded and kernels warm, without writing.",
            "",
            "| clip | frames | " + " | ".join(STAGES) + f" | {OTHER} | total | engine frames/s |",
            "|---|---|" + "---|" * (len(STAGES) + 3),
        ]
        for row in inproc["clips"]:
            ms = row["cpu_ms_per_frame"]
            lines.append(
                f"| {row['clip']} | {row['frames']} | "
                + " | ".join(_f(ms.get(s), 2) for s in (*STAGES, OTHER))
                + f" | {_f(row['cpu_ms_per_frame_total'], 2)} | {_f(row['engine_fps'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def _inputs(args) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
    """(videos, images) as (name, path) pairs: from reference folder names, or files given."""
    if args.clips and all(Path(c).is_file() for c in args.clips):
        paths = [Path(c) for c in args.clips]
        videos = [(p.stem, p) for p in paths if p.suffix.lower() not in IMAGE_SUFFIXES]
        images = [(f"{p.stem}_{p.suffix[1:]}", p) for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
        return videos, images
    sources = reference_inputs(args.reference.resolve(), args.media, args.clips)
    videos = [(s.name, s.media) for s in sources if s.kind == "video"]
    return videos, [(s.name, s.media) for s in sources if s.kind == "image"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", metavar="CLIP",
                        help="reference folder names or video files (default: every video of --reference)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="also time a batch of all clips with --jobs N")
    parser.add_argument("--threads", type=int, default=1, metavar="N",
                        help="in-process threads per numeric library (default 1; 0: the libraries' defaults)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure, median kept (default 3)")
    parser.add_argument("--models", type=Path, default=default_models(), metavar="DIR")
    parser.add_argument("--reference", type=Path, default=default_reference(), metavar="DIR")
    parser.add_argument("--media", type=Path, metavar="DIR", help="the inputs (default <reference>/../media)")
    parser.add_argument("--device", default="cpu", help="face detector device (default cpu)")
    parser.add_argument("--engine", choices=("auto", "threads", "one-thread"), default="auto",
                        help="in process: a thread per stage, all stages in one thread, or as `openau extract` "
                        "decides from the cores (default)")  # fmt: skip
    parser.add_argument("--openface", type=Path, metavar="EXE",
                        help="also time this OpenFace 2.2 FeatureExtraction executable on the same core, "
                        "run by run beside openau (it must find its model/ folder next to it)")  # fmt: skip
    parser.add_argument("--skip", choices=("whole-process", "in-process"), action="append", default=[],
                        help="leave a kind of figure out (repeatable)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, metavar="DIR", help="default bench/results")
    parser.add_argument("--quiet", action="store_true", help="write the files, print nothing")
    args = parser.parse_args(argv)

    env = dict(os.environ)  # the child processes run as a user's would, before this process caps threads
    if "in-process" not in args.skip:
        cap_threads(args.threads or None)  # before numpy loads (BLAS reads its thread count then)
    clips, images = _inputs(args)
    if not clips:
        raise SystemExit("no video clips to time (see --clips, --reference)")
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    data = {
        "machine": machine_info(),
        "openface": openface_timings(args.reference),
        "openface_images": openface_image_timings(args.reference),
        "openface_machine": openface_machine(args.reference),
    }
    if "whole-process" not in args.skip:
        if args.openface is not None and not args.openface.is_file():
            raise SystemExit(f"{args.openface}: not a file (give OpenFace's FeatureExtraction executable)")
        data["whole_process"] = measure_whole_process(
            clips, args.models, args.repeat, args.jobs, env, args.device, log, images, args.openface
        )
    if "in-process" not in args.skip:
        threads = args.threads or None
        pipeline = {"auto": None, "threads": True, "one-thread": False}[args.engine]
        data["in_process"] = measure_in_process(
            clips, args.models, threads, args.repeat, args.device, log, pipeline
        )
    markdown = to_markdown(data)
    md, js = write_report(args.out, "speed", markdown, data)
    if not args.quiet:
        print(markdown)
        print(f"wrote {md} and {js}", file=sys.stderr)
    return 0
