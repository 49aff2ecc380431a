"""Video decoding to exactly the pixels OpenFace 2.2 saw.

OpenFace reads clips through OpenCV's FFmpeg backend, which converts YUV to BGR
with BT.601 (limited range) coefficients whatever colour matrix the stream
declares. PyAV's ``reformat(..., src_colorspace="ITU601")`` reproduces those
frames bit for bit for H.264, HEVC and WMV2 clips (see the reference README,
"Decoding"). ``colour="declared"`` honours the stream's own matrix instead.

Frame rates follow OpenCV's ``CAP_PROP_FPS`` (the stream's average frame rate,
30 when unknown), which OpenFace uses for its ``(frame - 1) / fps`` timestamps;
each :class:`Frame` also carries the container's presentation time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np

from openau.errors import InputError, InputNotFoundError

__all__ = ["Frame", "VideoInfo", "VideoReader", "read_image", "DEFAULT_FPS"]

#: OpenFace's frame rate when the container gives none (``SequenceCapture``).
DEFAULT_FPS = 30.0

Colour = Literal["openface", "declared"]

# How many listed-but-undecodable frames are tolerated before a clip counts as
# truncated: the larger of a few frames and a small share of the listed count.
_COUNT_SLACK_FRAMES = 5
_COUNT_SLACK_FRACTION = 0.02


@dataclass(frozen=True)
class VideoInfo:
    """What a clip's container says about its video stream.

    Attributes
    ----------
    path : Path
    width, height : int
        Decoded size in pixels, after rotation.
    fps : float
        OpenCV's frame rate for the file (average rate; 30 when unknown).
    frame_count : int or None
        The container's frame count, None when it stores none. Decoding may
        yield fewer frames (e.g. a truncated file).
    rotation : int
        Display rotation in degrees counter-clockwise (0, 90, 180, 270).
    codec : str
    """

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int | None
    rotation: int
    codec: str


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes
    ----------
    index : int
        0-based position in decoding order (OpenFace's ``frame`` column is ``index + 1``).
    pts : float or None
        Presentation time in seconds from the container, None if absent.
    image : (H, W, 3) uint8 ndarray
        BGR pixels, C-contiguous.
    """

    index: int
    pts: float | None
    image: np.ndarray


def _open_error(path: Path, exc: Exception) -> InputError:
    # FFmpeg errors carry their reason in strerror; str() adds the errno and path.
    text = getattr(exc, "strerror", None) or str(exc)
    reason = text.splitlines()[0] if text else type(exc).__name__
    return InputError(f"{path}: not a readable video ({reason}); check that the file is a complete video")


class VideoReader:
    """Iterate over a clip's frames, as OpenFace would see them.

    Parameters
    ----------
    path : path-like
    colour : {"openface", "declared"}
        ``"openface"`` (default) converts with BT.601 whatever the stream
        declares, as OpenFace's OpenCV does; ``"declared"`` uses the stream's tag.
    rotate : bool
        Apply the container's display rotation (default True).
    threads : int
        Decoder threads; 0 lets FFmpeg choose, 1 decodes on the calling thread.

    Attributes
    ----------
    info : VideoInfo
    truncated : bool
        True once decoding stopped on corrupt data, or ended well short of the
        frame count the container lists (checked after the last frame).
    error : str or None
        The decoder's message when ``truncated``.

    Raises
    ------
    InputNotFoundError
        The path does not exist.
    InputError
        The file is not a video FFmpeg can open.

    Examples
    --------
    >>> with VideoReader("clip.mp4") as video:          # doctest: +SKIP
    ...     for frame in video:
    ...         process(frame.image)
    """

    def __init__(
        self,
        path: str | PathLike[str],
        colour: Colour = "openface",
        rotate: bool = True,
        threads: int = 1,
    ) -> None:
        import av  # lazy: PyAV loads FFmpeg

        self.path = Path(path)
        if not self.path.exists():
            raise InputNotFoundError(f"{self.path}: no such file; check the path")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a video file")
        if colour not in ("openface", "declared"):
            raise ValueError(f"colour must be 'openface' or 'declared', got {colour!r}")
        self._colour = colour
        self.truncated = False
        self.error: str | None = None
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise _open_error(self.path, exc) from exc
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path}: holds no video stream; give a video file")
        self._stream = self._container.streams.video[0]
        if threads != 1:
            self._stream.thread_type = "AUTO"
            self._stream.thread_count = threads
        self._decoder = self._container.decode(self._stream)
        # One converter for the whole clip, on the calling thread: a frame's
        # own reformat() builds a new scaler per frame, which starts (and
        # ends) a pool of conversion threads every frame.
        self._reformatter = av.video.reformatter.VideoReformatter()
        # The enum itself, not its name: a name is looked up again on every frame.
        self._source_colourspace = av.video.reformatter.Colorspace.ITU601 if colour == "openface" else None
        self._ffmpeg_error = av.error.FFmpegError
        # Decode the first frame now: it carries the display rotation, and a file
        # that cannot produce it is reported at open time rather than mid-run.
        self._first = self._next_raw()
        self._rotation = 0
        if rotate and self._first is not None:
            self._rotation = int(round(float(self._first.rotation or 0) / 90.0)) % 4 * 90
        width, height = self._stream.codec_context.width, self._stream.codec_context.height
        if self._rotation in (90, 270):
            width, height = height, width
        self.info = VideoInfo(
            path=self.path,
            width=int(width),
            height=int(height),
            fps=_opencv_fps(self._stream),
            frame_count=int(self._stream.frames) or None,
            rotation=self._rotation,
            codec=self._stream.codec_context.name,
        )

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release the file and decoder."""
        self._container.close()

    def _next_raw(self):
        """The next decoded frame, or None at the end or on corrupt data."""
        try:
            return next(self._decoder)
        except StopIteration:
            return None
        except (self._ffmpeg_error, EOFError) as exc:
            self.truncated = True
            self.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return None

    def __iter__(self) -> Iterator[Frame]:
        """Yield every decodable frame once, in order; the reader is single-pass."""
        time_base = self._stream.time_base
        # pts * num / den with Python integers: the correctly rounded double,
        # as float(Fraction(...)) gives, without building a Fraction per frame.
        num, den = (time_base.numerator, time_base.denominator) if time_base else (0, 0)
        index = 0
        frame, self._first = self._first, None
        while frame is not None:
            pts = (frame.pts * num) / den if frame.pts is not None and num else None
            yield Frame(index=index, pts=pts, image=self._to_bgr(frame))
            index += 1
            frame = self._next_raw()
        self._check_count(index)

    def _check_count(self, decoded: int) -> None:
        # Containers often list a few frames that never decode (no_face.mp4 lists
        # 98, OpenFace and FFmpeg decode 95), so only a larger shortfall marks
        # the file as truncated, e.g. an AVI whose header outlives its data.
        listed = self.info.frame_count
        if self.truncated or not listed:
            return
        if listed - decoded > max(_COUNT_SLACK_FRAMES, _COUNT_SLACK_FRACTION * listed):
            self.truncated = True
            self.error = f"decoded {decoded} of the {listed} frames the container lists"

    def _to_bgr(self, frame) -> np.ndarray:
        # src_colorspace None: the stream's own matrix ("declared").
        bgr = self._reformatter.reformat(frame, format="bgr24", src_colorspace=self._source_colourspace, threads=1)
        image = bgr.to_ndarray()
        if self._rotation:
            # FFmpeg's display rotation is counter-clockwise, as is np.rot90.
            image = np.ascontiguousarray(np.rot90(image, k=self._rotation // 90))
        return image


def _opencv_fps(stream) -> float:
    """OpenCV's CAP_PROP_FPS: the average frame rate, falling back to 30."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            value = float(Fraction(rate))
            if math.isfinite(value) and value > 0:
                return value
    return DEFAULT_FPS


def read_image(path: str | PathLike[str]) -> np.ndarray:
    """Read an image file as OpenFace does (``cv::imread``, 8-bit BGR).

    Returns
    -------
    (H, W, 3) uint8 ndarray

    Raises
    ------
    InputNotFoundError, InputError
    """
    import cv2

    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"{path}: no such file; check the path")
    data = np.fromfile(path, dtype=np.uint8)  # also works for non-ASCII paths on Windows
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"{path}: not a readable image; give a JPEG, PNG, BMP or TIFF file")
    return image
