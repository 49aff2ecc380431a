"""``openau detect``: run OpenFace's MTCNN face detector on images.

    openau detect IMAGE... [--models DIR] [--device auto] [--threads N] [-o FILE]

Writes one CSV row per face in the layout of the reference ``mtcnn.csv``
files: ``image, face, x, y, w, h, confidence, conv_x, conv_y, conv_w, conv_h,
video_pick`` (9 significant digits, enough to round-trip float32), to stdout
or ``FILE``. :func:`add_device_options` gives other commands the same
``--device`` and ``--threads`` options.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

__all__ = ["register", "add_device_options", "COLUMNS"]

COLUMNS = ("image", "face", "x", "y", "w", "h", "confidence", "conv_x", "conv_y", "conv_w", "conv_h", "video_pick")


def add_device_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` and ``--threads`` (ONNX Runtime execution) to a parser."""
    from openau.detect._runtime import DEVICES

    parser.add_argument(
        "--device",
        default="auto",
        type=str.lower,
        choices=DEVICES,
        help="where the networks run: auto (the best installed accelerator, else the CPU), "
        "cpu, cuda, coreml, directml or openvino; a missing accelerator falls back to the "
        "CPU with a warning (default: auto)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        metavar="N",
        help="ONNX Runtime threads per network (default: 0, one per core)",
    )


def register(subparsers) -> None:
    """Add ``detect`` to the top-level parser."""
    parser = subparsers.add_parser(
        "detect",
        help="find faces in images with OpenFace's MTCNN detector (CSV of boxes)",
        description="Find faces in images with OpenFace 2.2's MTCNN detector and write their "
        "boxes as CSV (the columns of OpenFace's MTCNN reference files).",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format OpenCV reads)")
    parser.add_argument(
        "--models",
        metavar="DIR",
        help="model folder (default: $OPENAU_MODELS, the linked OpenFace installation, "
        "or the per-user data folder)",
    )
    add_device_options(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the CSV here (default: stdout)")
    parser.set_defaults(handler=_detect)


def _read_image(path: str):
    import cv2

    from openau.errors import InputError, InputNotFoundError

    if not Path(path).is_file():
        raise InputNotFoundError(f"{path}: no such image file")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: OpenCV cannot read this image; convert it to PNG or JPEG")
    return image


def _detect(args: argparse.Namespace) -> int:
    import warnings

    from openau.detect import MTCNNDetector, pick_video_face
    from openau.errors import InputError
    from openau.models import locate_models

    if args.threads < 0:
        raise InputError(f"--threads must be 0 or more, got {args.threads}")
    detector = MTCNNDetector(locate_models(args.models), device=args.device, threads=args.threads)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in args.images:
            faces = detector.detect(_read_image(path))
            pick = pick_video_face(faces)
            for k in range(len(faces)):
                numbers = [*faces.boxes[k], faces.confidences[k], *faces.corrected[k]]
                writer.writerow([path, k, *(f"{float(v):.9g}" for v in numbers), int(k == pick)])
    for warning in caught:
        print(f"openau: warning: {warning.message}", file=sys.stderr)
    if args.output:
        Path(args.output).write_text(buffer.getvalue(), encoding="utf-8")
    else:
        sys.stdout.write(buffer.getvalue())
    return 0
