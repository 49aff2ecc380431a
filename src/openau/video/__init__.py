"""Decoding and (later) the per-video engine.

:mod:`openau.video.decode` turns a clip into the exact BGR frames OpenFace 2.2
saw; images are read with :func:`read_image`.
"""

from __future__ import annotations

from openau.video.decode import Frame, VideoInfo, VideoReader, read_image

__all__ = ["Frame", "VideoInfo", "VideoReader", "read_image"]
