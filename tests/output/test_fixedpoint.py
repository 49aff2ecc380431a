"""The block CSV formatter writes exactly the bytes of Python's per-value ``%.Nf`` / ``%d``."""

from __future__ import annotations

import numpy as np
import pytest

from openau.output.fixedpoint import format_block
from openau.output.writers import _python_rows


def _same(columns, decimals):
    block = format_block(columns, decimals)
    assert block is not None
    assert block == _python_rows(columns, decimals)


@pytest.mark.parametrize("seed", range(4))
def test_random_columns_match_python_formatting(seed):
    rng = np.random.default_rng(seed)
    n = 500
    columns, decimals = [], []
    for _ in range(60):
        places = int(rng.integers(0, 4))
        values = rng.normal(size=n) * 10.0 ** rng.integers(-6, 11)
        style = rng.integers(0, 3)
        if style == 0:  # binary fractions: exact decimal ties such as 0.125
            values = np.round(values * 8) / 2.0 ** rng.integers(0, 8)
        elif style == 1:  # decimal "ties" that are not exact in binary, such as 0.35
            values = np.round(values, places) + rng.choice([-1, 1], n) * 0.5 * 10.0**-places
        values[rng.random(n) < 0.05] = 0.0
        values[rng.random(n) < 0.05] = -0.0
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        columns.append(values.astype(dtype))
        decimals.append(places)
    columns += [rng.integers(-(10**6), 10**6, n).astype(np.int32), rng.integers(0, 2, n).astype(np.uint8)]
    decimals += [None, None]
    columns += [np.arange(n), rng.integers(0, 2, n).astype(bool)]
    decimals += [2, None]
    _same(columns, decimals)


@pytest.mark.parametrize("places", range(4))
def test_ties_signs_and_tiny_values(places):
    values = np.array([
        0.5, 1.5, 2.5, -0.5, -0.0, 0.0, 0.05, 0.15, 0.25, 0.35, 0.45, 0.125, 0.375, 1e-300, -1e-300,
        5e-324, 0.0005, 0.0015, 0.0025, -0.0004999, -0.04, 999.9995, 9.95, 99.95, 9999.5, 10000.0,
        123456789.0125, 2.0**40 - 1,
    ])  # fmt: skip
    _same([values], [places])
    _same([values[np.abs(values) < 2.0**39].astype(np.float32)], [places])  # 2**40 - 1 rounds up in float32


def test_values_it_cannot_prove_exact_are_left_to_python():
    assert format_block([np.array([np.nan, 1.0])], [2]) is None
    assert format_block([np.array([np.inf])], [2]) is None
    assert format_block([np.array([2.0**40])], [1]) is None
    assert format_block([np.array([1.5])], [None]) is None  # %d truncates a float
    assert format_block([np.array([1.5])], [4]) is None
    assert format_block([np.array(["a"])], [None]) is None
