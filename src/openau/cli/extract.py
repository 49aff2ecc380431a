"""``openau extract``: OpenFace's CSV columns for a video.

For now the sub-command works from landmarks you already have
(``--landmarks TABLE.csv``: an OpenFace CSV or any table with ``x_0..x_67``,
``y_0..y_67`` and ``success``); it writes the columns computable from them --
pose, 2-D and 3-D landmarks, PDM parameters and AUs -- in OpenFace's order and
number format.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from openau.errors import InputError, ModelsNotFoundError

__all__ = ["register", "run"]

#: Environment variable naming the OpenFace model folder when --models is absent.
MODELS_ENV = "OPENAU_MODELS"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` sub-command."""
    parser = subparsers.add_parser(
        "extract",
        help="OpenFace's CSV columns (pose, landmarks, PDM parameters, AUs) for a video",
        description=(
            "Compute OpenFace 2.2's pose, 3-D landmark, PDM parameter and AU columns for "
            "VIDEO from a table of 68 landmarks per frame."
        ),
    )
    parser.add_argument("video", metavar="VIDEO", type=Path, help="the video file")
    parser.add_argument(
        "--landmarks",
        metavar="TABLE.csv",
        type=Path,
        help="landmarks per frame: an OpenFace CSV, or any CSV with x_0..x_67, y_0..y_67 "
        "and success (one row per video frame)",
    )
    parser.add_argument(
        "-o", "--output", metavar="OUT.csv", type=Path, help="the CSV to write (default: "
        "VIDEO's name with .csv, in the current folder)",
    )
    parser.add_argument(
        "--models", metavar="FOLDER", type=Path,
        help=f"OpenFace's model folder, holding AU_predictors/ (default: ${MODELS_ENV})",
    )
    for name in ("fx", "fy", "cx", "cy"):
        parser.add_argument(
            f"--{name}", type=float, default=None,
            help="camera intrinsics in pixels, all four or none (default: OpenFace's guess "
            "from the frame size)",
        )
    parser.set_defaults(handler=run)


def _models_folder(given: Path | None) -> Path:
    folder = given if given is not None else os.environ.get(MODELS_ENV)
    if folder is None:
        raise ModelsNotFoundError(
            f"no OpenFace model folder given: pass --models FOLDER or set {MODELS_ENV}"
        )
    folder = Path(folder)
    if not (folder / "AU_predictors" / "main_dynamic_svms.txt").is_file():
        raise ModelsNotFoundError(
            f"{folder}: OpenFace's AU models not found (expected "
            "AU_predictors/main_dynamic_svms.txt inside); pass --models FOLDER"
        )
    return folder


def run(args: argparse.Namespace) -> int:
    """Handle ``openau extract``; returns the exit code."""
    from openau.byo import extract_with_landmarks
    from openau.geometry.camera import CameraIntrinsics
    from openau.output.columns import decimals
    from openau.output.csv import write_csv

    if args.landmarks is None:
        raise InputError(
            "openau extract needs --landmarks TABLE.csv for now (a CSV with x_0..x_67, "
            "y_0..y_67 and success per frame)"
        )
    given = [args.fx, args.fy, args.cx, args.cy]
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise InputError("give all of --fx, --fy, --cx and --cy, or none of them")
    intrinsics = CameraIntrinsics(*given) if all(v is not None for v in given) else None
    output = args.output if args.output is not None else Path(args.video.stem + ".csv")
    if not output.parent.is_dir():
        raise InputError(f"{output}: the output folder does not exist")
    models = _models_folder(args.models)
    table = extract_with_landmarks(args.video, args.landmarks, models, intrinsics=intrinsics)
    write_csv(table, output, decimals)
    print(f"openau: wrote {output} ({len(table)} frames)")
    return 0
