"""Fixtures of the geometry tests."""

from __future__ import annotations

import pytest

from openau.models import read_pdm


@pytest.fixture(scope="module")
def pdm(models_dir):
    """The landmark detector's 68-point PDM."""
    return read_pdm(models_dir / "model/pdms/In-the-wild_aligned_PDM_68.txt")
