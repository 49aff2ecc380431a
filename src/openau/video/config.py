"""The extraction settings: one frozen, picklable object handed to every worker.

The CLI builds an :class:`ExtractConfig` from its arguments; a library user
builds one directly (``openau.ExtractConfig(models="...")``). Nothing in it
holds a model or a session: each worker process loads its own models from
``models`` and creates accelerator sessions lazily, in the thread that runs
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "ExtractConfig",
    "OutputFormat",
    "TimestampMode",
    "ColourMode",
    "FolderMode",
    "DEFAULT_STALL_TIMEOUT",
]

OutputFormat = Literal["csv", "parquet"]
TimestampMode = Literal["pts", "openface"]
ColourMode = Literal["openface", "declared"]
FolderMode = Literal["sequence", "images"]

#: Seconds a stage may spend on one frame before the run counts as hung. A
#: frame takes tens of milliseconds; this leaves room for a slow machine, lazy
#: session creation and JIT compilation on a first frame.
DEFAULT_STALL_TIMEOUT = 120.0

_CHOICES = {
    "output_format": ("csv", "parquet"),
    "timestamps": ("pts", "openface"),
    "colour": ("openface", "declared"),
    "folders": ("sequence", "images"),
}


@dataclass(frozen=True)
class ExtractConfig:
    """How to extract: models, device, output format and engine limits.

    Parameters
    ----------
    models : path-like or None
        OpenFace 2.2's model folder. None looks it up (``OPENAU_MODELS``, a
        linked installation, the per-user folder; see ``openau models``).
    device : str
        ``"auto"`` (an accelerator when one is usable, else the CPU), ``"cpu"``,
        ``"cuda"``, ``"coreml"``, ``"directml"``, ``"openvino"``: where the
        face detector's networks run.
    output_format : {"csv", "parquet"}
        Format of the files written by the batch runner and the CLI.
    timestamps : {"pts", "openface"}
        ``"pts"``: the container's presentation times, relative to the first
        frame (right for variable frame rate clips). ``"openface"``:
        ``(frame - 1) / fps`` with OpenCV's fps, as FeatureExtraction writes
        (image sequences: 0, as OpenFace).
    colour : {"openface", "declared"}
        ``"openface"`` converts YUV to BGR with BT.601 whatever the stream
        declares, reproducing OpenFace's pixels; ``"declared"`` honours the
        stream's colour matrix.
    folders : {"sequence", "images"}
        A folder input is one image sequence (FeatureExtraction ``-fdir``,
        one table) or separate images (FaceLandmarkImg ``-fdir``, one table
        per image).
    jobs : int or None
        CPU cores the run uses; None (the default) means all this process
        may use. Several inputs go to ``min(jobs, inputs)`` worker processes;
        one input, or ``jobs=1``, runs in the calling process, its stages in
        threads of their own only when ``jobs`` leaves it two cores or more
        (see ``pipeline``). So ``jobs=1`` is one core's work, and ``jobs=2``
        over a batch is two workers of one core each.
    threads : int or None
        Threads each numeric library (BLAS, OpenCV, ONNX Runtime) may use
        per worker; None means 1: a worker's stages already run in threads
        of their own and a batch's workers use the other cores, and on
        openau's small matrices more BLAS threads mostly spin.
    stall_timeout : float
        Seconds a stage may work on one frame before the input fails with a
        :class:`~openau.errors.StageTimeoutError` instead of hanging.
    pipeline : bool or None
        Run each per-frame stage (decode, landmarks, AU) in its own thread,
        so they overlap on several cores (True), or all of them one after
        the other in a single thread (False: no hand-offs between threads,
        the cheaper choice when only one core is free). None decides per
        run: pipelined when ``jobs`` gives the run at least two cores and a
        batch's workers leave one free (see :func:`openau.video.cores.pipelined`).
    queue_size : int
        Frames buffered between two stages (bounds memory). Decoding is far
        faster than landmark fitting, so the first queue stays full: each
        slot holds a frame (6 MB at 1080p), and 4 already absorb the
        stages' jitter.
    camera : (fx, fy, cx, cy) or None
        Camera intrinsics in pixels for pose and 3-D landmarks; None uses
        OpenFace's default for the frame size (fx = fy = 500 (W/640 + H/480) / 2,
        cx = W/2, cy = H/2), as FeatureExtraction without ``-fx -fy -cx -cy``.
    stages : str or None
        Where the stages come from: None for openau's own; otherwise
        ``"module:function"`` or ``"path/to/file.py:function"`` naming a
        factory ``f(config) -> Stages`` (tests use it for fake stages).
    """

    models: Path | None = None
    device: str = "auto"
    output_format: OutputFormat = "csv"
    timestamps: TimestampMode = "pts"
    colour: ColourMode = "openface"
    folders: FolderMode = "sequence"
    jobs: int | None = None
    threads: int | None = None
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    pipeline: bool | None = None
    queue_size: int = 4
    camera: tuple[float, float, float, float] | None = None
    stages: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.models is not None and not isinstance(self.models, Path):
            object.__setattr__(self, "models", Path(self.models))
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.jobs is not None and (int(self.jobs) != self.jobs or self.jobs < 1):
            raise ValueError(f"jobs must be a whole number >= 1 or None, got {self.jobs!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads!r}")
        if not (math.isfinite(self.stall_timeout) and self.stall_timeout > 0):
            raise ValueError(f"stall_timeout must be a positive number of seconds, got {self.stall_timeout!r}")
        if self.camera is not None:
            camera = tuple(float(v) for v in self.camera)
            if len(camera) != 4 or not all(math.isfinite(v) for v in camera) or min(camera[:2]) <= 0:
                raise ValueError(f"camera must be (fx, fy, cx, cy) with positive focal lengths, got {self.camera!r}")
            object.__setattr__(self, "camera", camera)
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size!r}")
