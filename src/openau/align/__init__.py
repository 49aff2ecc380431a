"""Face alignment for the AU stage: OpenFace's similarity-aligned, masked 112 x 112 face."""

from __future__ import annotations

from openau.align.face import (
    ALIGNED_SCALE,
    ALIGNED_SIZE,
    RIGID_POINTS,
    align_face,
    alignment_matrix,
    face_mask,
)

__all__ = [
    "ALIGNED_SCALE",
    "ALIGNED_SIZE",
    "RIGID_POINTS",
    "align_face",
    "alignment_matrix",
    "face_mask",
]
