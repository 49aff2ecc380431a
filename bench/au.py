"""AU stage benchmark: milliseconds per frame for each sub-stage, one thread.

``python -m bench au [--clip NAME] [--repeats N]`` decodes a reference clip,
takes OpenFace's own landmarks from its ``openface_precise.csv``, and times,
per frame: the PDM fit (``fit``), alignment and mask (``align``), FHOG
(``fhog``), the geometry descriptor (``features``), running medians and model
scores (``predict``), and the offline post-processing (``postprocess``, per
frame of the clip). Times are CPU time of this process (the machine is
shared; waiting for a core is not counted). It prints the median over frames of the best of
``--repeats`` passes (the machine is shared; the best pass is the least
disturbed), the total, and peak RSS. Numba kernels are compiled (or loaded
from cache) before timing.

Needs ``OPENAU_SHARED`` (default ``../shared``) and ``OPENAU_MODELS``.
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy, OpenCV and numba load.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CLIPS = {
    "single_face": "single_face.mp4",
    "video01": "video01.mp4",
    "of_default": "of_default.wmv",
    "face_noface": "face_noface.mov",
}
STAGES = ("fit", "align", "fhog", "features", "predict", "postprocess")


def _shared() -> Path:
    root = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("OPENAU_SHARED", root.parent / "shared"))


def _one_pass(frames, landmarks, success, models) -> dict[str, np.ndarray]:
    from openau.align import align_face
    from openau.au import AUAnalyser
    from openau.features import FrameFeatures, geometry_descriptor, hog_descriptor
    from openau.geometry import fit_to_landmarks

    analyser = AUAnalyser(models)
    pdm, tris = models.pdm, models.triangulation
    times = {name: [] for name in STAGES}
    clock = time.process_time  # CPU time: the machine is shared
    import openau.au.analyser as analyser_module

    count = 0
    for image, points, ok in zip(frames, landmarks, success, strict=True):
        count += 1
        t0 = clock()
        if ok:
            glob, local = fit_to_landmarks(pdm, points)
            t1 = clock()
            aligned = align_face(image, points, glob, pdm, tris)
            t2 = clock()
            hog = hog_descriptor(aligned)
            t3 = clock()
            geometry = geometry_descriptor(pdm, local)
            t4 = clock()
            features = FrameFeatures(True, aligned, hog, geometry, glob, local)
        else:
            features = analyser_module.frame_features(None, None, False, pdm, tris)
            t1 = t2 = t3 = t4 = clock()
        # Feed the precomputed features through the analyser's own update.
        original = analyser_module.frame_features
        analyser_module.frame_features = lambda *a, _f=features: _f
        try:
            analyser.add_frame(image, points, ok)
        finally:
            analyser_module.frame_features = original
        t5 = clock()
        for name, dt in zip(STAGES[:5], (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            times[name].append(dt)
    t0 = clock()
    analyser.finish()
    times["postprocess"] = [(clock() - t0) / count] * count
    return {name: np.array(values) * 1e3 for name, values in times.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench au", description=__doc__.splitlines()[0])
    parser.add_argument("--clip", choices=sorted(CLIPS), default="video01")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)

    from openau.models import read_face_analyser
    from openau.video.decode import VideoReader

    shared = _shared()
    models_dir = Path(os.environ.get("OPENAU_MODELS", shared / "openface-models"))
    models = read_face_analyser(models_dir)
    table = pd.read_csv(shared / "reference" / args.clip / "openface_precise.csv")
    xs = table[[f"x_{i}" for i in range(68)]].to_numpy(np.float64)
    ys = table[[f"y_{i}" for i in range(68)]].to_numpy(np.float64)
    landmarks = np.ascontiguousarray(np.stack([xs, ys], axis=2).astype(np.float32))
    success = table["success"].to_numpy() == 1
    video = shared / "media" / CLIPS[args.clip]

    def frames():
        # Streamed (decoding is not timed), so peak RSS is the AU stage's.
        with VideoReader(video) as reader:
            for frame in reader:
                yield frame.image

    first = next(frames())
    _one_pass([first] * 3, landmarks[:3], success[:3], models)  # JIT / cache load
    passes = [_one_pass(frames(), landmarks, success, models) for _ in range(args.repeats)]
    best = min(passes, key=lambda p: sum(float(np.sum(v)) for v in p.values()))
    ok = success
    print(f"AU stage, clip {args.clip}: {len(success)} frames ({int(ok.sum())} tracked), "
          f"1 thread, median ms per tracked frame (best of {args.repeats} passes)")
    total = 0.0
    for name in STAGES:
        values = best[name][ok] if name != "postprocess" else best[name]
        value = float(np.median(values))
        total += value
        print(f"  {name:12s} {value:7.3f}")
    print(f"  {'total':12s} {total:7.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB (whole process: models, numba, decoder, one frame at a time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
