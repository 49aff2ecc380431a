"""Writing results: OpenFace's column layout and atomic CSV files."""

from __future__ import annotations

from openau.output.columns import decimals, openface_columns
from openau.output.csv import write_csv

__all__ = ["decimals", "openface_columns", "write_csv"]
