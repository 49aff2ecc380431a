"""Time reading every model file the CLNF + AU pipeline needs.

``python -m bench models [--models DIR] [--repeat N]`` reads each required file
of the manifest with its reader, ``N`` times, and prints the median seconds per
file, the total of the medians, the time ``openau models check`` spends
verifying the folder, and the process's peak resident memory. Files without a
reader yet are listed as such. Timings are medians because the machine is
shared and noisy; a cold page cache makes the first read slower.

To add a reader, add a ``(pattern, function)`` line to ``READERS``: the
pattern is matched (``fnmatch``, case-sensitive, ``*`` also crosses ``/``)
against installed-layout paths such as ``model/mtcnn_detector/PNet.dat``; the
first matching line wins.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from pathlib import Path

from openau.models import (
    check_models,
    read_au_model,
    read_au_models,
    read_face_analyser,
    read_mtcnn,
    load_manifest,
    read_ccnf_patch_experts,
    read_clnf_description,
    read_cnn,
    read_detection_validator,
    read_face_detector_conversion,
    read_main_description,
    read_pdm,
    read_triangulation,
    read_triangulations,
    resolve_models,
)

Reader = Callable[[Path], object]

def read_au_predictor(path: Path) -> object:
    """One AU model file, labelled by its file name."""
    return read_au_model(path, path.stem)


#: (path pattern, reader), first match wins. A list file's reader (the AU
#: analyser's main file, AU_all_*.txt, MTCNN_detector.txt) also reads every
#: file it names, so its line times the whole set.
READERS: list[tuple[str, Reader]] = [
    ("AU_predictors/main_*_svms.txt", read_face_analyser),
    ("AU_predictors/AU_all_*.txt", read_au_models),
    ("AU_predictors/*/AU_*.dat", read_au_predictor),
    ("model/mtcnn_detector/MTCNN_detector.txt", read_mtcnn),
    ("*main_clnf_*.txt", read_main_description),
    ("*/clnf_*.txt", read_clnf_description),
    ("*/pdms/*.txt", read_pdm),
    ("AU_predictors/In-the-wild_aligned_PDM_68.txt", read_pdm),
    ("model/tris_68.txt", read_triangulations),
    ("AU_predictors/tris_68_full.txt", read_triangulation),
    ("model/haarAlign.txt", read_face_detector_conversion),
    ("*ccnf_patches_*.txt", read_ccnf_patch_experts),
    ("model/detection_validation/validator_cnn.txt", read_detection_validator),
    ("model/mtcnn_detector/*.dat", read_cnn),
]


def reader_for(path: str) -> Reader | None:
    """The first reader whose pattern matches ``path``."""
    for pattern, reader in READERS:
        if fnmatchcase(path, pattern):
            return reader
    return None


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _pipeline_load(store, repeat: int) -> float:
    """Median seconds to load every model an extraction uses, as a worker does."""
    from openau.landmarks import load_landmark_model

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        load_landmark_model(store)
        read_mtcnn(store)
        read_face_analyser(store.root, dynamic=True)
        read_face_analyser(store.root, dynamic=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench models", description=__doc__)
    parser.add_argument(
        "--models", metavar="DIR", help="model folder (default: as openau finds it)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="reads per file (median kept)")
    args = parser.parse_args(argv)

    store = resolve_models(args.models)
    print(f"model folder: {store.root}; median of {args.repeat} reads per file")
    total = 0.0
    unread: list[str] = []
    for entry in load_manifest().required:
        reader = reader_for(entry.path)
        if reader is None:
            unread.append(entry.path)
            continue
        path = store.path(entry.path)
        times: list[float] = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            reader(path)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        total += median
        print(
            f"{median * 1e3:9.2f} ms  {entry.size / 1e3:9.1f} kB  {entry.path} ({reader.__name__})"
        )
    read = len(load_manifest().required) - len(unread)
    print(f"total: {total:.3f} s for {read} files (list files count what they name again)")
    print(f"loading everything the pipeline reads once: {_pipeline_load(store, args.repeat):.3f} s")
    if unread:
        print(f"no reader yet for {len(unread)} files, e.g. {', '.join(unread[:3])}")
    required_mb = sum(e.size for e in load_manifest().required) / 1e6
    for quick in (False, True):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            check_models(store, quick=quick)
            times.append(time.perf_counter() - start)
        what = "sizes only" if quick else "size + SHA-256"
        print(f"check_models ({what}, {required_mb:.1f} MB): {statistics.median(times):.3f} s")
    peak = _peak_rss_mb()
    if peak is not None:
        print(f"peak resident memory: {peak:.0f} MB")
    return 0
