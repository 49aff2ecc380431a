"""Landmark tracking: speed per frame and agreement with OpenFace, per clip.

``python -m bench landmarks [--models DIR] [--shared DIR] [--clips a,b]
[--repeat N] [--detector mtcnn|replay] [--all-cores]``

For each clip the frames are decoded first (not timed); then a fresh
:class:`~openau.landmarks.FaceTracker` runs through the clip ``N`` times and
every ``track`` call is timed. Reported per clip:

* ms per frame in tracking mode (frames where the detector did not run): the
  median over frames of each frame's fastest repeat, wall-clock and CPU time;
* ms per frame over all frames (mean, detection frames included) and the mean
  of the detection frames alone;
* agreement with OpenFace's ``openface_precise.csv``: per-frame mean distance
  over the 68 landmarks (median and 95th percentile over the frames OpenFace
  calls successful), the share of frames with the same ``success`` and with
  confidence within 0.02.

By default the process is pinned to one CPU and BLAS to one thread (the
target is one core); the machine is shared and noisy, hence fastest-of-N.
"""

from __future__ import annotations

import os
import sys

if "--all-cores" not in sys.argv:
    # Must precede numpy's import to limit its BLAS threads.
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

CLIPS = {
    "single_face": "single_face.mp4",
    "video01": "video01.mp4",
    "of_default": "of_default.wmv",
    "face_noface": "face_noface.mov",
}


def _replay_detector(reference: Path):
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


def _agreement(results, table: pd.DataFrame) -> dict:
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench landmarks", description=__doc__)
    parser.add_argument("--models", default=os.environ.get("OPENAU_MODELS"))
    parser.add_argument("--shared", default=os.environ.get("OPENAU_SHARED", "../shared"))
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--detector", choices=("mtcnn", "replay"), default="mtcnn")
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args(argv)

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

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
        with VideoReader(shared / "media" / CLIPS[clip]) as reader:
            frames = [frame.image for frame in reader]
        reference = shared / "reference" / clip
        detector = mtcnn if mtcnn is not None else _replay_detector(reference)
        tracker = FaceTracker(model, detector)
        _run(tracker, frames[:2])  # compile and warm the kernels
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
