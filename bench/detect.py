"""MTCNN face detection speed: milliseconds per frame, per stage and per pyramid level.

    taskset -c 0 python -m bench detect [--models DIR] [--device cpu] [--threads 1] [--repeats 30]

Runs OpenFace's MTCNN procedure (:class:`openau.detect.MTCNNDetector`) on the
reference frames at their own size and resized to the target sizes (640x480
and 1280x720), on the five-face ``multi_face.jpg`` cropped to those sizes,
single frames and a batch of frames. Prints medians over the
repeats of wall time and of this thread's CPU time (with ``--threads 1``
ONNX Runtime computes in the calling thread, so CPU time is "one core" even
on a busy machine), the stages, each pyramid level (resize + P-Net), and how
many candidates reached R- and O-Net. Targets (one core): 640x480 <= 15 ms,
1280x720 <= 30 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = {(640, 480): 15.0, (1280, 720): 30.0}


def _shared() -> Path:
    return Path(os.environ.get("OPENAU_SHARED", ROOT.parent / "shared"))


def _default_models() -> Path:
    env = os.environ.get("OPENAU_MODELS")
    return Path(env) if env else _shared() / "openface-models"


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop ``image`` to the aspect of ``size`` (w, h), then resize to it."""
    import cv2

    h, w = image.shape[:2]
    tw, th = size
    if w * th > h * tw:
        cw = h * tw // th
        image = image[:, (w - cw) // 2 : (w - cw) // 2 + cw]
    else:
        ch = w * th // tw
        image = image[(h - ch) // 2 : (h - ch) // 2 + ch]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _frames() -> dict[str, np.ndarray]:
    import cv2

    ref = _shared() / "reference"
    names = ("of_default", "of_multi_face", "single_face", "face_noface")
    frames = {}
    for name in names:
        image = cv2.imread(str(ref / name / "frame0.png"))
        if image is not None:
            frames[name] = image
    if not frames:
        raise SystemExit(f"no reference frames under {ref} (set OPENAU_SHARED)")
    # Five faces (multi_face.jpg), cropped to 4:3 and 16:9: the many-face case.
    group = cv2.imread(str(_shared() / "media" / "multi_face.jpg"))
    if group is not None:
        for size in TARGET_MS:
            frames[f"multi_face.jpg {size[0]}x{size[1]}"] = _fit(group, size)
    return frames


class _Counting:
    """Wraps a network callable to count the crops it sees."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.items = 0

    def __call__(self, x):
        self.items += x.shape[0]
        return self.fn(x)


def _measure(detector, frames: list[np.ndarray], repeats: int) -> dict:
    from openau.detect import run_cascade

    pnet, rnet, onet = detector.networks()
    run_cascade(frames, pnet, rnet, onet, detector.params)  # warm-up (sessions, numba)
    walls, cpus, stages = [], [], []
    for _ in range(repeats):
        times: dict[str, float] = {}
        wall, cpu = time.perf_counter(), time.process_time()
        run_cascade(frames, pnet, rnet, onet, detector.params, stage_times=times)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
        stages.append(times)
    counted_r, counted_o = _Counting(rnet), _Counting(onet)
    faces = run_cascade(frames, pnet, counted_r, counted_o, detector.params)
    keys = list(dict.fromkeys(k for t in stages for k in t))
    n = len(frames)
    return {
        "wall_ms": 1000 * statistics.median(walls) / n,
        "cpu_ms": 1000 * statistics.median(cpus) / n,
        "stages_ms": {k: 1000 * statistics.median(t.get(k, 0.0) for t in stages) / n for k in keys},
        "rnet_crops": counted_r.items / n,
        "onet_crops": counted_o.items / n,
        "faces": sum(len(f) for f in faces) / n,
    }


def _report(label: str, size: tuple[int, int], result: dict, levels) -> None:
    target = TARGET_MS.get(size)
    mark = "" if target is None else f"  (target <= {target:.0f} ms: {'ok' if result['cpu_ms'] <= target else 'MISSED'})"
    print(
        f"{label:<28} {size[0]}x{size[1]}: {result['wall_ms']:6.2f} ms wall, "
        f"{result['cpu_ms']:6.2f} ms CPU per frame{mark}"
    )
    st = result["stages_ms"]
    print(
        f"    faces {result['faces']:.0f}, R-Net crops {result['rnet_crops']:.0f}, "
        f"O-Net crops {result['onet_crops']:.0f}"
    )
    for i, (scale, h, w) in enumerate(levels):
        resize, net = st.get(f"pyramid[{i}]", 0.0), st.get(f"pnet[{i}]", 0.0)
        print(f"    level {i}: scale {scale:.4f} {w:4d}x{h:<4d} resize {resize:5.2f} ms  P-Net {net:5.2f} ms")
    others = [k for k in st if not k.startswith(("pyramid[", "pnet["))]
    print("    " + ", ".join(f"{k} {st[k]:.2f}" for k in others) + " (ms)")
    pnet = sum(v for k, v in st.items() if k.startswith("pnet["))
    networks = pnet + st.get("rnet", 0.0) + st.get("onet", 0.0)
    print(
        f"    networks: P-Net {pnet:.2f}, R-Net {st.get('rnet', 0.0):.2f}, O-Net {st.get('onet', 0.0):.2f}; "
        f"resampling, NMS and box logic {sum(st.values()) - networks:.2f} (ms)"
    )


def main(argv: list[str]) -> int:
    import cv2

    from openau.detect import MTCNNDetector, pyramid_scales

    parser = argparse.ArgumentParser(prog="python -m bench detect", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=_default_models())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8, help="frames per call in the batch run")
    args = parser.parse_args(argv)

    detector = MTCNNDetector(args.models, device=args.device, threads=args.threads)
    print(
        f"MTCNN on {detector.active_device} ({args.threads} intra-op thread(s)); medians of "
        f"{args.repeats} runs; CPU = this process's CPU time"
    )
    frames = _frames()
    for name, image in frames.items():
        own = (image.shape[1], image.shape[0])
        sizes = [own] + ([] if name.startswith("multi_face") else [s for s in TARGET_MS if s != own])
        for size in sizes:
            frame = image if size == (image.shape[1], image.shape[0]) else cv2.resize(image, size)
            levels = pyramid_scales(frame.shape[0], frame.shape[1], detector.params)
            _report(name, size, _measure(detector, [frame], args.repeats), levels)
    name = "of_default" if "of_default" in frames else next(iter(frames))
    batch = [frames[name]] * args.batch
    levels = pyramid_scales(batch[0].shape[0], batch[0].shape[1], detector.params)
    result = _measure(detector, batch, max(3, args.repeats // args.batch))
    _report(f"{name} batch of {args.batch}", (batch[0].shape[1], batch[0].shape[0]), result, levels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")
    return 0
