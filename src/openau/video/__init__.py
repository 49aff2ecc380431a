"""Decoding and (later) the per-video engine.

:mod:`openau.video.decode` turns a clip into the exact BGR frames OpenFace 2.2
saw; images are read with :func:`read_image`.
"""

from __future__ import annotations

from openau._lazy import lazy_names

__all__ = ["Frame", "VideoInfo", "VideoReader", "read_image"]

# Imported on first use: a batch's parent process uses the light modules of
# this package (configuration, inputs, events) and never decodes.
__getattr__, __dir__ = lazy_names(__name__, dict.fromkeys(__all__, "decode"), __all__)
