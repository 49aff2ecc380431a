"""``openau extract``: OpenFace's CSV for many videos and images in one command.

Exit codes: 0 when every input completed (warnings allowed), 1 when some
input failed (each failure is one ``openau: error:`` line naming it, and the
other inputs still complete), 2 for a usage error, 130 after Ctrl-C (inputs
in progress leave ``<output>.partial`` files).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from openau.errors import InputError, OpenAUError

__all__ = ["register", "run", "DEFAULT_OUTPUT", "TEST_STAGES_ENV"]

#: Test hook: a stage factory (``"file.py:function"``) replacing openau's stages.
TEST_STAGES_ENV = "OPENAU_TEST_STAGES"

#: OpenFace's default output folder (FeatureExtraction writes ``processed/<stem>.csv``).
DEFAULT_OUTPUT = Path("processed")

_DESCRIPTION = """\
Extract facial Action Units, head pose and landmarks with OpenFace 2.2's numbers.

Inputs are video files, image files, folders of images and glob patterns. A
video (or a folder read as an image sequence) gives FeatureExtraction's CSV,
one row per decoded frame (success=0 where no face was found); an image gives
FaceLandmarkImg's, one row per face. Outputs are named after the inputs
(<stem>.csv) in the -o folder, and written only once complete.
"""


def register(subparsers) -> None:
    """Add the ``extract`` sub-command."""
    parser = subparsers.add_parser(
        "extract",
        help="extract AUs, pose and landmarks from videos and images (OpenFace's CSV)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video, image, folder of images or glob pattern")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="OUT",
        help="output folder (one <stem>.csv per input), or a file name ending in .csv/.parquet "
        f"for a single input (default: {DEFAULT_OUTPUT}/)",
    )
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="output format (default: csv)")
    parser.add_argument(
        "--jobs",
        "-j",
        type=_at_least_one,
        metavar="N",
        help="CPU cores to use: several inputs run on N worker processes, one input gets its stages "
        "threads of their own when N >= 2; --jobs 1 is one core (default: every core available)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="where the face detector's networks run: auto, cpu, cuda, coreml, directml, openvino "
        "(default: auto, the best accelerator that starts, else the CPU)",
    )
    parser.add_argument("--models", type=Path, metavar="DIR", help="OpenFace 2.2 model folder")
    parser.add_argument(
        "--landmarks",
        type=Path,
        metavar="TABLE",
        help="for one video: take the landmarks from this table (a CSV with OpenFace's frame, "
        "success, x_*, y_* columns) instead of tracking, and compute AUs, pose and PDM parameters",
    )
    parser.add_argument("--resume", action="store_true", help="skip inputs whose complete output exists")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress or information (warnings and errors still show)")
    parser.add_argument(
        "--timestamps",
        choices=("pts", "openface"),
        default="pts",
        help="pts: the container's presentation times (default; right for variable frame rates); "
        "openface: (frame - 1) / fps as FeatureExtraction writes",
    )
    parser.add_argument(
        "--colour",
        choices=("openface", "declared"),
        default="openface",
        help="openface: convert YUV with BT.601 as OpenFace does (default, reproduces its pixels); "
        "declared: honour the stream's colour matrix",
    )
    parser.add_argument(
        "--folders",
        choices=("sequence", "images"),
        default="sequence",
        help="a folder input is one image sequence (FeatureExtraction -fdir, default) "
        "or separate images (FaceLandmarkImg -fdir)",
    )
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(
            f"--{name}",
            type=float,
            help="camera intrinsics in pixels for pose and 3-D landmarks, all four or none "
            "(default: OpenFace's guess from the frame size)",
        )
    parser.add_argument(
        "--threads",
        type=_at_least_one,
        metavar="N",
        help="threads per worker for numeric libraries (default: 1; use --jobs for more cores)",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        metavar="SECONDS",
        help="fail an input whose stage makes no progress for this long (default: 120)",
    )
    parser.set_defaults(handler=run)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _camera(args) -> tuple[float, float, float, float] | None:
    given = (args.fx, args.fy, args.cx, args.cy)
    if all(v is None for v in given):
        return None
    if any(v is None for v in given):
        raise InputError("give all of --fx, --fy, --cx and --cy, or none of them")
    return given


def _config(args):
    from openau.video.config import DEFAULT_STALL_TIMEOUT, ExtractConfig

    camera = _camera(args)
    try:
        return ExtractConfig(
            models=args.models,
            device=args.device,
            output_format=args.format,
            timestamps=args.timestamps,
            colour=args.colour,
            folders=args.folders,
            jobs=args.jobs,
            threads=args.threads,
            stall_timeout=args.stall_timeout if args.stall_timeout is not None else DEFAULT_STALL_TIMEOUT,
            camera=camera,
            stages=os.environ.get(TEST_STAGES_ENV) or None,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _with_landmarks(args, config, reporter) -> int:
    """``--landmarks``: AUs for one video from a given landmark table."""
    import time

    from openau.video.batch import plan_outputs
    from openau.video.sources import Input
    from openau.video.stages import models_root
    from openau.output.writers import write_table

    if len(args.inputs) != 1:
        raise InputError(f"--landmarks takes one video, got {len(args.inputs)} inputs")
    video = Path(args.inputs[0])
    (output,) = plan_outputs([Input(video, "video")], args.output, config.output_format)
    if args.resume and output.is_file():
        reporter.info(f"{video}: skipped, {output} exists (--resume)")
        return 0
    from openau.byo import extract_with_landmarks
    from openau.geometry.camera import CameraIntrinsics

    intrinsics = CameraIntrinsics(*config.camera) if config.camera else None
    started = time.monotonic()
    table = extract_with_landmarks(video, args.landmarks, models_root(config), intrinsics=intrinsics)
    write_table(table, output, config.output_format)
    reporter.info(f"{video}: {len(table)} frames in {time.monotonic() - started:.1f} s -> {output}")
    return 0


def _skip_final_collection() -> None:
    """Spare the process's exit the interpreter's last garbage collections.

    They walk every object left (numba's type registries alone hold some
    hundred thousand) to free memory the system takes back anyway: about
    0.25 s of CPU at the end of every ``openau extract``. Frozen objects are
    skipped; this runs as an exit handler, after the command is done.
    """
    import gc

    gc.freeze()


def run(args) -> int:
    """Handler of ``openau extract``; returns the exit code."""
    import atexit

    from openau.cli.progress import make_reporter

    atexit.register(_skip_final_collection)
    from openau.video.batch import plan_outputs, run_batch
    from openau.video.sources import expand_inputs

    config = _config(args)
    if args.landmarks is not None:
        return _with_landmarks(args, config, make_reporter(1, args.quiet))
    jobs = []
    bad_patterns = []
    for item in args.inputs:
        try:
            jobs.extend(expand_inputs([item], config.folders))
        except OpenAUError as exc:  # a glob matching nothing fails alone, like a missing file
            bad_patterns.append(str(exc))
    if not jobs and not bad_patterns:
        raise InputError(f"no image or video found in {' '.join(args.inputs)}")
    outputs = plan_outputs(jobs, args.output, config.output_format) if jobs else []
    reporter = make_reporter(len(jobs) + len(bad_patterns), args.quiet)
    try:
        for message in bad_patterns:
            reporter.failed += 1
            reporter.error(message)
        if jobs:
            run_batch(jobs, outputs, config, resume=args.resume, on_event=reporter)
    finally:
        reporter.close()
    if len(jobs) + len(bad_patterns) > 1:
        reporter.summary()
    return 1 if reporter.failed else 0

