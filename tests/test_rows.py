"""RowBuffer: per-frame rows appended one by one, read back as one array."""

from __future__ import annotations

import numpy as np
import pytest

from openau._rows import BLOCK_ROWS, RowBuffer


@pytest.mark.parametrize("n", [0, 1, BLOCK_ROWS - 1, BLOCK_ROWS, 2 * BLOCK_ROWS + 3])
def test_rows_come_back_in_order_across_blocks(n):
    rng = np.random.default_rng(n)
    rows = rng.normal(size=(n, 68, 2)).astype(np.float32)
    buffer = RowBuffer((68, 2), np.float32)
    for row in rows:
        buffer.append(row)
    assert len(buffer) == n
    out = buffer.array()
    assert out.dtype == np.float32 and out.shape == (n, 68, 2)
    np.testing.assert_array_equal(out, rows)
    np.testing.assert_array_equal(buffer.array(n // 2), rows[: n // 2])


def test_scalars_cast_and_wrong_shapes_refused():
    flags = RowBuffer((), bool)
    for value in (True, 0, 1.0):
        flags.append(value)
    assert flags.array().tolist() == [True, False, True]
    with pytest.raises(ValueError):
        RowBuffer((6,), np.float32).append(np.zeros(5))
