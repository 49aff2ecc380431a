"""Inputs: expanding paths, folders and globs, and opening frame sources.

A user names videos, images, folders and glob patterns; :func:`expand_inputs`
turns them into a list of :class:`Input` jobs, each of one kind:

- ``"video"``: a video file, one row per decoded frame (FeatureExtraction).
- ``"sequence"``: a folder of images read as frames of one video, in sorted
  file name order (FeatureExtraction ``-fdir``).
- ``"image"``: a still image, one row per face (FaceLandmarkImg; a folder
  becomes one image job per file with ``folders="images"``, as
  FaceLandmarkImg ``-fdir``).

A path that does not exist stays in the list (as a video) so that a batch
reports it as a failed input next to the others instead of refusing to start.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from openau.errors import InputError, InputNotFoundError
from openau.video.config import FolderMode

if TYPE_CHECKING:
    import numpy as np

    from openau.video.decode import Frame

__all__ = [
    "IMAGE_EXTENSIONS",
    "SEQUENCE_EXTENSIONS",
    "Input",
    "InputKind",
    "expand_inputs",
    "ImageSequenceReader",
    "output_stems",
]

InputKind = Literal["video", "sequence", "image"]

#: Files FeatureExtraction reads from a folder (``SequenceCapture``; lower case,
#: as OpenFace compares extensions exactly).
SEQUENCE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
#: Files treated as still images rather than videos.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Input:
    """One job of a batch.

    Attributes
    ----------
    path : Path
        The file (video, image) or folder (sequence).
    kind : {"video", "sequence", "image"}
    """

    path: Path
    kind: InputKind


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _folder_images(folder: Path) -> list[Path]:
    # OpenFace sorts the folder's paths and keeps its four image extensions.
    return sorted(p for p in folder.iterdir() if p.suffix in SEQUENCE_EXTENSIONS and p.is_file())


def _expand_one(path: Path, folders: FolderMode) -> list[Input]:
    if path.is_dir():
        if folders == "sequence":
            return [Input(path, "sequence")]
        return [Input(p, "image") for p in _folder_images(path)]
    return [Input(path, "image" if _is_image(path) else "video")]


def expand_inputs(inputs: Sequence[str | PathLike[str]], folders: FolderMode = "sequence") -> list[Input]:
    """Turn user-given paths, folders and glob patterns into jobs, in order.

    Glob patterns (``*``, ``?``, ``[...]``) are expanded here because Windows
    shells leave them to the program; each match is then treated like a path
    given directly. A duplicate path is kept once.

    Raises
    ------
    InputNotFoundError
        A glob pattern matches nothing.
    """
    jobs: list[Input] = []
    seen: set[tuple[Path, InputKind]] = set()
    for item in inputs:
        text = str(item)
        path = Path(text)
        if not path.exists() and _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise InputNotFoundError(f"{text}: no file matches this pattern; check the path")
            paths = [Path(m) for m in matches]
        else:
            paths = [path]
        for p in paths:
            for job in _expand_one(p, folders):
                key = (job.path.resolve(), job.kind)
                if key not in seen:
                    seen.add(key)
                    jobs.append(job)
    return jobs


def output_stems(jobs: Sequence[Input]) -> list[str]:
    """Output file stems, one per job: the input's stem, made unique.

    Inputs sharing a stem (``clip.mp4`` and ``clip.jpg``) get their extension
    appended (``clip_mp4``, ``clip_jpg``), as the reference outputs are named;
    any remaining clash gets ``_2``, ``_3``, ... in input order.
    """
    stems = [job.path.stem if job.kind != "sequence" else job.path.name for job in jobs]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    unique = [
        f"{stem}_{job.path.suffix.lstrip('.').lower()}" if counts[stem] > 1 and job.path.suffix else stem
        for stem, job in zip(stems, jobs, strict=True)
    ]
    taken: dict[str, int] = {}
    result = []
    for stem in unique:
        taken[stem] = taken.get(stem, 0) + 1
        result.append(stem if taken[stem] == 1 else f"{stem}_{taken[stem]}")
    return result


class ImageSequenceReader:
    """A folder of images read as the frames of one video (FeatureExtraction ``-fdir``).

    Frames come in sorted file name order. Like OpenFace, the sequence has no
    frame rate: timestamps in OpenFace's convention are 0, and ``info.fps``
    holds 30 for the presentation-time convention. An image that cannot be
    read ends the sequence there and marks it ``truncated``, as OpenFace stops
    at the first empty frame.

    Parameters
    ----------
    folder : path-like

    Raises
    ------
    InputNotFoundError, InputError
        The folder does not exist or holds no image.
    """

    def __init__(self, folder: str | PathLike[str]) -> None:
        self.path = Path(folder)
        if not self.path.exists():
            raise InputNotFoundError(f"{self.path}: no such folder; check the path")
        if not self.path.is_dir():
            raise InputError(f"{self.path}: not a folder of images")
        self.files = _folder_images(self.path)
        if not self.files:
            raise InputError(
                f"{self.path}: holds no image ({', '.join(SEQUENCE_EXTENSIONS)}); give a folder of frames"
            )
        from openau.video.decode import DEFAULT_FPS, VideoInfo, read_image

        self.truncated = False
        self.error: str | None = None
        self._first: np.ndarray | None = read_image(self.files[0])
        height, width = self._first.shape[:2]
        self.info = VideoInfo(
            path=self.path,
            width=int(width),
            height=int(height),
            fps=DEFAULT_FPS,
            frame_count=len(self.files),
            rotation=0,
            codec="images",
        )

    def __enter__(self) -> ImageSequenceReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; present for symmetry with :class:`VideoReader`."""
        self._first = None

    def __iter__(self) -> Iterator[Frame]:
        """Yield every readable image once, in order."""
        from openau.video.decode import Frame, read_image

        for index, path in enumerate(self.files):
            if index == 0 and self._first is not None:
                image, self._first = self._first, None
            else:
                try:
                    image = read_image(path)
                except InputError as exc:
                    self.truncated = True
                    self.error = str(exc)
                    return
            if image.shape[:2] != (self.info.height, self.info.width):
                self.truncated = True
                self.error = (
                    f"{path.name} is {image.shape[1]}x{image.shape[0]}, the sequence is "
                    f"{self.info.width}x{self.info.height}; frames of a sequence must share one size"
                )
                return
            yield Frame(index=index, pts=None, image=image)
