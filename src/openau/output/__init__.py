"""Writing results: OpenFace's column layout, CSV and Parquet tables, atomic and partial files."""

from __future__ import annotations

from openau._lazy import lazy_names

__all__ = [
    "decimals",
    "image_columns",
    "openface_columns",
    "video_columns",
    "write_partial",
    "write_table",
]

# Imported on first use: the path rules (openau.output.paths) need no numpy.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "decimals": "columns",
        "image_columns": "columns",
        "openface_columns": "columns",
        "video_columns": "columns",
        "write_partial": "writers",
        "write_table": "writers",
    },
    __all__,
)
