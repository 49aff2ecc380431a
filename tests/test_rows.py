"""RowBuffer: per-frame rows appended one by one, read back as one array."""

from __future__ import annotations

import numpy as np
import pytest

from openau._rows import BLOCK_ROWS, RowBuffer


@pytest.mark.parametrize("spill", [False, True], ids=["memory", "spilled"])
@pytest.mark.parametrize("n", [0, 1, BLOCK_ROWS - 1, BLOCK_ROWS, BLOCK_ROWS + 1, 3 * BLOCK_ROWS + 3])
def test_rows_come_back_in_order_across_blocks(n, spill):
    rng = np.random.default_rng(n)
    rows = rng.normal(size=(n, 68, 2)).astype(np.float32)
    buffer = RowBuffer((68, 2), np.float32, spill=spill)
    for i, row in enumerate(rows):
        buffer.append(row)
        if i == 2 * BLOCK_ROWS + 1:  # read midway (a .partial table), then go on
            np.testing.assert_array_equal(buffer.array(), rows[: i + 1])
    assert len(buffer) == n
    out = buffer.array()
    assert out.dtype == np.float32 and out.shape == (n, 68, 2)
    np.testing.assert_array_equal(out, rows)
    np.testing.assert_array_equal(buffer.array(n // 2), rows[: n // 2])
    np.testing.assert_array_equal(buffer.array(BLOCK_ROWS + 1), rows[: BLOCK_ROWS + 1])


def test_spilled_rows_leave_one_block_in_memory():
    flags = RowBuffer((), bool, spill=True)
    values = np.arange(5 * BLOCK_ROWS + 7) % 3 == 0
    for value in values:
        flags.append(value)
    assert len(flags._blocks) == 1
    np.testing.assert_array_equal(flags.array(), values)


def test_rows_stay_in_memory_when_the_temporary_file_cannot_be_written(monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    rows = np.arange(3 * BLOCK_ROWS, dtype=np.float64).reshape(-1, 1)
    buffer = RowBuffer((1,), np.float64, spill=True)
    for row in rows:
        buffer.append(row)
    assert len(buffer._blocks) == 3
    np.testing.assert_array_equal(buffer.array(), rows)


def test_scalars_cast_and_wrong_shapes_refused():
    flags = RowBuffer((), bool)
    for value in (True, 0, 1.0):
        flags.append(value)
    assert flags.array().tolist() == [True, False, True]
    with pytest.raises(ValueError):
        RowBuffer((6,), np.float32).append(np.zeros(5))
