"""Writing results: OpenFace's column layout, CSV and Parquet tables, atomic and partial files."""

from __future__ import annotations

from openau.output.columns import decimals, image_columns, openface_columns, video_columns
from openau.output.writers import write_partial, write_table

__all__ = [
    "decimals",
    "image_columns",
    "openface_columns",
    "video_columns",
    "write_partial",
    "write_table",
]
