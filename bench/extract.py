"""End-to-end extraction speed and memory: ``python -m bench extract [OPTIONS] [CLIP ...]``.

Figures (printed, one line each):

- per clip, ``--jobs 1`` in this process, numeric libraries on one thread
  (unless ``--threads``): frames/s of the pipeline (models already loaded),
  median over ``--repeat`` runs, and frames/s including model loading (how
  the reference README times OpenFace: whole process, one core);
- ``--batch``: wall-clock throughput over a batch of clips with ``--jobs 1``
  and ``--jobs N`` (spawned workers), and their ratio;
- peak RSS per worker (this process for ``--jobs 1``; the largest worker for
  ``--jobs N``);
- ``--loop FRAMES``: one clip looped (remuxed, not re-encoded) to at least
  FRAMES frames, with the resident memory sampled as it runs, to show that
  memory stays flat.

Defaults: ``video01.mp4`` and ``single_face.mp4`` from ``$OPENAU_SHARED/media``;
models from ``--models`` or ``$OPENAU_MODELS``. Timings on a shared machine
are noisy; take the medians and say so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench._common import THREAD_ENV_VARS, peak_rss_mib, shared_dir


def _rss_mib() -> float:
    """Current resident memory of this process, MiB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def _cpu_seconds() -> float:
    """User and system CPU seconds of this process and its waited-for children."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def loop_clip(source: Path, target: Path, min_frames: int) -> int:
    """Remux ``source`` end to end into ``target`` until it holds ``min_frames``; returns the frame count."""
    import av

    frames = 0
    offset = 0
    with av.open(str(target), "w") as out:
        stream_out = None
        while frames < min_frames:
            with av.open(str(source)) as clip:
                stream = clip.streams.video[0]
                if stream_out is None:
                    stream_out = out.add_stream_from_template(stream)
                end = 0
                for packet in clip.demux(stream):
                    if packet.dts is None:
                        continue
                    end = max(end, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = stream_out
                    out.mux(packet)
                    frames += 1
                offset += end
    return frames


def _config(args, jobs: int):
    from openau.video.config import ExtractConfig

    return ExtractConfig(models=args.models, device=args.device, jobs=jobs, threads=args.threads)


def bench_clips(args) -> None:
    from openau.video.engine import VideoRun
    from openau.video.sources import Input
    from openau.video.stages import build_stages

    config = _config(args, 1)
    started = time.perf_counter()
    stages = build_stages(config)
    load = time.perf_counter() - started
    print(f"model loading: {load:.2f} s")
    for clip in args.clips:
        rates = []
        frames = 0
        spent: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            started = time.perf_counter()
            with VideoRun(Input(clip, "video"), stages, config) as run:
                output = run.finish()
            seconds = time.perf_counter() - started
            frames = output.frames
            rates.append(frames / seconds)
            for stage, busy in output.stage_seconds.items():
                spent.setdefault(stage, []).append(busy)
        rate = statistics.median(rates)
        with_load = frames / (frames / rate + load)
        print(
            f"{clip.name}: {frames} frames, {rate:.1f} frames/s (median of {len(rates)}; "
            f"range {min(rates):.1f}-{max(rates):.1f}), {with_load:.1f} frames/s with model loading"
        )
        print(
            "  ms per frame working, by stage (median): "
            + ", ".join(f"{stage} {1000 * statistics.median(v) / frames:.1f}" for stage, v in spent.items())
        )
    print(f"peak RSS (this process, --jobs 1): {peak_rss_mib():.0f} MiB")


def bench_batch(args) -> None:
    from openau.video.batch import run_batch
    from openau.video.sources import expand_inputs

    folder = Path(tempfile.mkdtemp(prefix="openau-bench-"))
    clips = []
    for copy in range(args.copies):  # distinct names: a batch keeps each path once
        for clip in args.batch:
            link = folder / f"{clip.stem}_{copy}{clip.suffix}"
            shutil.copyfile(clip, link)
            clips.append(link)
    jobs = expand_inputs(clips)
    walls = {}
    frames = 0
    for n in (1, args.jobs):
        times = []
        cores = []
        for _ in range(args.repeat):
            cpu = _cpu_seconds()
            started = time.perf_counter()
            outcomes = run_batch(jobs, [None] * len(jobs), _config(args, n))
            times.append(time.perf_counter() - started)
            cores.append((_cpu_seconds() - cpu) / times[-1])
            frames = sum(o.frames for o in outcomes)
            failed = [o.error for o in outcomes if not o.ok]
            if failed:
                print("failed:", *failed, sep="\n  ")
        walls[n] = statistics.median(times)
        print(
            f"batch of {len(jobs)} clips, {frames} frames, --jobs {n}: {walls[n]:.1f} s wall "
            f"(median of {len(times)}), {frames / walls[n]:.1f} frames/s, "
            f"{statistics.median(cores):.2f} cores busy on average"
        )
    print(f"--jobs {args.jobs} / --jobs 1 throughput: {walls[1] / walls[args.jobs]:.2f}x")
    print(f"peak RSS of the largest worker (--jobs {args.jobs}): {peak_rss_mib(children=True):.0f} MiB")


def bench_loop(args) -> None:
    from openau.video.batch import process_input
    from openau.video.events import FramesDone
    from openau.video.sources import Input
    from openau.video.stages import build_stages

    config = _config(args, 1)
    stages = build_stages(config)
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"loop{args.clips[0].suffix}"
        total = loop_clip(args.clips[0], target, args.loop)
        print(f"{args.clips[0].name} looped to {total} frames")
        samples: list[tuple[int, float]] = []
        step = max(1, total // 20)

        def sample(event) -> None:
            if isinstance(event, FramesDone) and (not samples or event.done - samples[-1][0] >= step):
                samples.append((event.done, _rss_mib()))

        started = time.perf_counter()
        outcome = process_input(0, Input(target, "video"), None, stages, config, sample)
        seconds = time.perf_counter() - started
    if not outcome.ok:
        print(f"failed: {outcome.error}")
        return
    print(f"{outcome.frames} frames in {seconds:.1f} s ({outcome.frames / seconds:.1f} frames/s)")
    print("RSS while running (frames: MiB): " + ", ".join(f"{f}: {m:.0f}" for f, m in samples))
    if len(samples) > 4:
        early = samples[len(samples) // 5][1]
        print(f"RSS growth from {samples[len(samples) // 5][0]} frames to the end: {samples[-1][1] - early:+.0f} MiB")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench extract", description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="*", type=Path, help="clips for the per-clip figures")
    parser.add_argument("--models", type=Path, default=os.environ.get("OPENAU_MODELS"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="threads per numeric library (default 1)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="workers for --batch (default 2)")
    parser.add_argument("--batch", nargs="*", type=Path, help="clips for the --jobs throughput comparison")
    parser.add_argument("--copies", type=int, default=1, help="each --batch clip this many times")
    parser.add_argument("--loop", type=int, metavar="FRAMES", help="loop the first clip to this many frames")
    args = parser.parse_args(argv)
    for name in THREAD_ENV_VARS:
        os.environ.setdefault(name, str(args.threads))
    media = shared_dir() / "media"
    args.clips = args.clips or [media / "video01.mp4", media / "single_face.mp4"]
    import cv2

    cv2.setNumThreads(args.threads)
    if args.loop:
        bench_loop(args)
    elif args.batch is not None:
        args.batch = args.batch or [media / c for c in ("single_face.mp4", "video01.mp4", "no_face.mp4",
                                                         "face_noface.mov", "of_default.wmv")]  # fmt: skip
        bench_batch(args)
    else:
        bench_clips(args)
    return 0
