"""Landmark tracking: speed per frame, start-up, and agreement with OpenFace, per clip.

``python -m bench landmarks [--models DIR] [--shared DIR] [--clips a,b]
[--repeat N] [--detector mtcnn|replay] [--startup N] [--all-cores]``

For each clip the frames are decoded first (not timed); then a fresh
:class:`~openau.landmarks.FaceTracker` runs through the clip ``N`` times and
every ``track`` call is timed. Reported per clip, in ms per frame:

* ``track``: tracking frames (the detector did not run), the median over
  frames of each frame's fastest repeat, wall-clock and CPU time;
* ``all``: every frame, detection frames included (mean of the fastest
  repeats);
* ``det``: detection frames alone (mean; with ``--detector mtcnn`` this
  includes the face detector, with ``replay`` only the landmark fit from
  OpenFace's own box and its eleven head rotations);
* agreement with OpenFace's ``openface_precise.csv``: per-frame mean distance
  over the 68 landmarks (median and 95th percentile over the frames OpenFace
  calls successful), the share of frames with the same ``success`` and with
  confidence within 0.02.

Start-up (``--startup N``, default 3 fresh processes, medians): importing the
landmark stage, loading its model, the first ``track`` call on a video's first
frame (a detection from OpenFace's box: compiled kernels loaded from numba's
cache, CCNF covariances from their disk cache, eleven head rotations fitted),
and the same call again once warm. Caches are as the user's machine has them
(the first run after installing fills them).

By default the process (and the start-up children) is pinned to one CPU and
BLAS to one thread (the target is one core); the machine is shared and noisy,
hence fastest-of-N per frame and medians over processes.
"""

from __future__ import annotations

import os
import sys

if "--all-cores" not in sys.argv:
    # Must precede numpy's import to limit its BLAS threads.
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import argparse
import json
import resource
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

CLIPS = {
    "single_face": "single_face.mp4",
    "video01": "video01.mp4",
    "of_default": "of_default.wmv",
    "face_noface": "face_noface.mov",
}


def _replay_detector(reference: Path):
    import pandas as pd

    table = pd.read_csv(reference / "mtcnn_frame0.csv")
    boxes = table[["conv_x", "conv_y", "conv_w", "conv_h"]].to_numpy(np.float32)
    detections = [(box, float(c)) for box, c in zip(boxes, table["confidence"])]
    return lambda image: list(detections)


def _run(tracker, frames):
    tracker.reset()
    wall, cpu, results = [], [], []
    for image in frames:
        w0, c0 = time.perf_counter(), time.process_time()
        results.append(tracker.track(image))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return np.array(wall) * 1e3, np.array(cpu) * 1e3, results


def _agreement(results, table) -> dict:
    n = len(results)
    xs = table[[f"x_{i}" for i in range(68)]].to_numpy(np.float64)[:n]
    ys = table[[f"y_{i}" for i in range(68)]].to_numpy(np.float64)[:n]
    ours = np.stack([r.landmarks for r in results]).astype(np.float64)
    error = np.hypot(ours[:, :, 0] - xs, ours[:, :, 1] - ys).mean(axis=1)
    success_ref = table["success"].to_numpy()[:n] == 1
    success = np.array([r.success for r in results])
    confidence = np.array([r.confidence for r in results])
    good = error[success_ref]
    return {
        "median_px": float(np.median(good)) if good.size else float("nan"),
        "p95_px": float(np.quantile(good, 0.95)) if good.size else float("nan"),
        "success_agree": float(np.mean(success == success_ref)),
        "confidence_agree": float(
            np.mean(np.abs(confidence - table["confidence"].to_numpy()[:n]) <= 0.02)
        ),
    }


def _startup_child(models: str | None, shared: str) -> None:
    """One fresh process's start-up figures, printed as JSON (see the module docstring)."""
    started = time.perf_counter()
    from openau.landmarks import FaceTracker, load_landmark_model
    from openau.models import resolve_models
    from openau.video.decode import VideoReader

    imported = time.perf_counter()
    model = load_landmark_model(resolve_models(models))
    loaded = time.perf_counter()
    with VideoReader(Path(shared) / "media" / CLIPS["single_face"]) as reader:
        first = next(iter(reader)).image
    tracker = FaceTracker(model, _replay_detector(Path(shared) / "reference" / "single_face"))
    t0, c0 = time.perf_counter(), time.process_time()
    tracker.track(first)
    t1, c1 = time.perf_counter(), time.process_time()
    tracker.reset()
    tracker.track(first)
    t2 = time.perf_counter()
    figures = {
        "import_s": imported - started,
        "load_s": loaded - imported,
        "first_track_s": t1 - t0,
        "first_track_cpu_s": c1 - c0,
        "warm_detection_s": t2 - t1,
    }
    print(json.dumps(figures))


def _startup(args) -> None:
    command = [sys.executable, "-m", "bench", "landmarks", "--startup-child"]
    if args.models:
        command += ["--models", args.models]
    command += ["--shared", args.shared] + (["--all-cores"] if args.all_cores else [])
    runs = []
    for _ in range(args.startup):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    print(
        f"start-up (median of {len(runs)} processes): import {median('import_s'):.2f} s, "
        f"model load {median('load_s'):.2f} s, first track {median('first_track_s'):.2f} s "
        f"(cpu {median('first_track_cpu_s'):.2f} s; the same detection warm: "
        f"{median('warm_detection_s'):.2f} s)"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench landmarks", description=__doc__)
    parser.add_argument("--models", default=os.environ.get("OPENAU_MODELS"))
    parser.add_argument("--shared", default=os.environ.get("OPENAU_SHARED", "../shared"))
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--detector", choices=("mtcnn", "replay"), default="mtcnn")
    parser.add_argument("--startup", type=int, default=3, help="fresh processes timed (0: none)")
    parser.add_argument("--startup-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args(argv)

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.startup_child:
        _startup_child(args.models, args.shared)
        return 0
    if args.startup:
        _startup(args)

    import pandas as pd

    from openau.landmarks import FaceTracker, load_landmark_model
    from openau.models import resolve_models
    from openau.video.decode import VideoReader

    shared = Path(args.shared)
    store = resolve_models(args.models)
    model = load_landmark_model(store)
    mtcnn = None
    if args.detector == "mtcnn":
        from openau.detect import MTCNNDetector

        mtcnn = MTCNNDetector(store, device="cpu")

    print(
        f"{'clip':12} {'size':>9} {'frames':>6} {'track ms':>9} {'(cpu)':>7} {'all ms':>7} "
        f"{'det ms':>7} {'median px':>9} {'p95 px':>7} {'success':>8} {'conf':>6}"
    )
    for clip in args.clips.split(","):
        if not clip:
            continue
        with VideoReader(shared / "media" / CLIPS[clip]) as reader:
            frames = [frame.image for frame in reader]
        reference = shared / "reference" / clip
        detector = mtcnn if mtcnn is not None else _replay_detector(reference)
        tracker = FaceTracker(model, detector)
        _run(tracker, frames[:2])  # load and warm the kernels
        runs = [_run(tracker, frames) for _ in range(args.repeat)]
        wall = np.min([r[0] for r in runs], axis=0)
        cpu = np.min([r[1] for r in runs], axis=0)
        results = runs[0][2]
        detected = np.array([r.detected for r in results])
        tracking = ~detected
        figures = _agreement(results, pd.read_csv(reference / "openface_precise.csv"))
        height, width = frames[0].shape[:2]
        print(
            f"{clip:12} {width:>4}x{height:<4} {len(frames):>6} "
            f"{np.median(wall[tracking]):>9.1f} {np.median(cpu[tracking]):>7.1f} "
            f"{wall.mean():>7.1f} {wall[detected].mean():>7.1f} "
            f"{figures['median_px']:>9.4f} {figures['p95_px']:>7.4f} "
            f"{figures['success_agree']:>8.3f} {figures['confidence_agree']:>6.3f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB ({args.repeat} repeats, fastest per frame)")
    return 0
