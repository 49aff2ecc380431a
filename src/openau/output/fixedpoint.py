"""Fixed-point CSV text for whole blocks of rows at once, byte for byte as Python's ``%.Nf``.

OpenFace prints every value in fixed point (C++ ``std::fixed`` with a
per-column precision). Python's ``"%.3f" % value`` gives the same text: the
exact binary value rounded to N decimals, ties to even. Formatting a table
that way costs one Python call per value (a 300-frame video has ~130,000);
:func:`format_block` computes the same characters with whole-array arithmetic:

- ``round(|value| * 10**N)``: the floating-point product is within half an
  ulp of the exact one, so rounding it (ties to even) is right except for a
  product that close to a half-integer; those few are redone exactly with
  integers (a double is ``m * 2**e``; ``m * 10**N < 2**63`` for N <= 3, and
  the rounding comes from a shift and its remainder).
- Below 2**40 the integer part and the decimals then split exactly, and
  their characters come from a table of 4-digit words.
- Each value becomes a fixed-width field (sign, integer digits, point,
  decimals, separator) with a NUL byte in every position it does not use;
  the rows are laid out in one byte matrix and the NULs dropped, which
  leaves exactly the concatenated CSV lines.

Blocks holding anything this cannot prove exact (NaN, infinities, huge
values, more than 3 decimals, non-integer values in an integer column) are
left to the caller's per-value formatting (:func:`format_block` returns None).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["format_block", "MAX_DECIMALS"]

#: Most decimals the exact integer path handles: m * 10**N must stay below 2**63.
MAX_DECIMALS = 3
_MANTISSA_BITS = 53
# Values handled by the block path: below this, every step is exact (see format_block).
_LIMIT = float(2**40)
_PAD = 0  # a byte that never occurs in CSV text
_PAD_BYTE = bytes([_PAD])


#: Digits laid out by one table look-up (a 4-byte word per number).
_GROUP = 4


def _digit_words(leading: bool) -> np.ndarray:
    """(10**4,) uint32: each number's 4 digit characters in memory order, zero- or (``leading``) NUL-padded."""
    numbers = np.arange(10**_GROUP)
    table = np.empty((10**_GROUP, _GROUP), np.uint8)
    for k in range(_GROUP):
        table[:, _GROUP - 1 - k] = numbers // 10**k % 10 + ord("0")
        if leading and k > 0:
            table[numbers < 10**k, _GROUP - 1 - k] = _PAD
    return table.view(np.uint32).reshape(-1)


_ZERO_PADDED = _digit_words(leading=False)
_NUL_PADDED = _digit_words(leading=True)


def _whole_digits(whole: np.ndarray) -> np.ndarray:
    """(n, c, 4 * groups) uint8: non-negative integers (float64) right-aligned, NUL-padded."""
    top = float(whole.max())
    groups = 1
    while top >= 10.0 ** (_GROUP * groups):
        groups += 1
    out = np.empty((*whole.shape, groups), np.uint32)
    rest = whole
    for g in range(groups):  # g-th group of 4 digits from the right
        higher = np.floor(rest / 10.0**_GROUP)
        group = (rest - higher * 10.0**_GROUP).astype(np.intp)
        words = np.take(_NUL_PADDED, group)
        if g < groups - 1:  # digits above this group: its leading zeros are printed
            words = np.where(higher > 0, np.take(_ZERO_PADDED, group), words)
        if g > 0:  # a number shorter than this group leaves it empty
            words = np.where(whole >= 10.0 ** (_GROUP * g), words, np.uint32(0))
        out[..., groups - 1 - g] = words
        rest = higher
    return out.view(np.uint8)


def _exact_scaled(magnitude: np.ndarray, places: np.ndarray) -> np.ndarray:
    """round(magnitude * 10**places), ties to even, computed exactly with integers; float64.

    ``magnitude``: non-negative finite doubles below 2**52; ``places``: 0..3, same shape.
    """
    fraction, exponent = np.frexp(magnitude)
    mantissa = (fraction * float(2**_MANTISSA_BITS)).astype(np.uint64)  # exact: 53 significant bits
    shift = (_MANTISSA_BITS - exponent).astype(np.int64)  # magnitude = mantissa / 2**shift, shift >= 1
    product = mantissa * (np.uint64(10) ** places.astype(np.uint64))  # < 2**63
    small = shift >= 64  # less than a half: rounds to 0
    shift = np.where(small, 63, shift).astype(np.uint64)
    quotient = product >> shift
    remainder = product - (quotient << shift)
    half = np.uint64(1) << (shift - np.uint64(1))
    up = (remainder > half) | ((remainder == half) & (quotient & np.uint64(1)).astype(bool))
    quotient = quotient + up
    quotient[small] = 0
    return quotient.astype(np.float64)


def _scaled_round(magnitude: np.ndarray, places: np.ndarray) -> np.ndarray:
    """round(magnitude * 10**places), ties to even, exactly; (n, c) float64 holding integers.

    The floating-point product is within half an ulp of the true one, so
    rounding it is right unless it lies that close to a half-integer; those
    few values are redone with exact integer arithmetic.
    """
    product = magnitude * 10.0**places
    rounded = np.rint(product)
    near_tie = np.abs(np.abs(product - rounded) - 0.5) <= product * 2.0**-52
    if near_tie.any():
        rounded[near_tie] = _exact_scaled(magnitude[near_tie], np.broadcast_to(places, product.shape)[near_tie])
    return rounded


def format_block(columns: Sequence[np.ndarray], decimals: Sequence[int | None]) -> bytes | None:
    """CSV lines for equal-length columns, as ``"%.Nf"`` / ``"%d"`` per value would give them.

    Parameters
    ----------
    columns : sequence of (n,) ndarray
        Integer, boolean or floating-point columns.
    decimals : sequence of int or None
        Per column: digits after the point, or None for an integer column
        (printed with ``%d``).

    Returns
    -------
    bytes or None
        ``n`` lines, values separated by commas, each line ending in ``\\n``;
        None when some value needs the per-value path (see the module docstring).
    """
    if len(columns) != len(decimals) or not columns:
        return None
    places = np.array([0 if d is None else d for d in decimals], np.int64)
    if places.min() < 0 or places.max() > MAX_DECIMALS:
        return None
    for array, d in zip(columns, decimals, strict=True):
        kind = array.dtype.kind
        if kind not in "biuf" or (d is None and kind == "f"):
            return None  # %d of a float truncates: leave it to Python
    n = len(columns[0])
    if n == 0:
        return b""
    values = np.empty((n, len(columns)), np.float64)
    for j, array in enumerate(columns):
        values[:, j] = array  # float32 and integers below 2**53 convert exactly
    if not np.isfinite(values).all() or np.abs(values).max() >= _LIMIT:
        return None
    scale = 10.0**places
    scaled = _scaled_round(np.abs(values), places)
    whole = np.floor(scaled / scale)  # exact: the quotient is >= 1/1000 from the next integer
    whole_digits = _whole_digits(whole)
    width_int = whole_digits.shape[-1]
    width_fraction = int(places.max())
    # Field: sign, integer digits (right-aligned), point, decimals, separator;
    # NUL (0) fills what a value does not use, so masks can multiply.
    width = 1 + width_int + (1 + width_fraction if width_fraction else 0) + 1
    field = np.empty((n, len(columns), width), np.uint8)
    field[:, :, 0] = np.signbit(values) * np.uint8(ord("-"))
    field[:, :, 1 : 1 + width_int] = whole_digits
    if width_fraction:
        point = 1 + width_int
        field[:, :, point] = (places > 0) * np.uint8(ord("."))
        # N decimals d1..dN are the first N of the 4 digits of (d1..dN) * 10**(4 - N).
        fraction = (scaled - whole * scale) * 10.0 ** (_GROUP - places)
        decimals_text = np.take(_ZERO_PADDED, fraction.astype(np.intp)).view(np.uint8).reshape(n, -1, _GROUP)
        used = (np.arange(width_fraction) < places[:, None]).astype(np.uint8)  # (c, N)
        field[:, :, point + 1 : point + 1 + width_fraction] = decimals_text[:, :, :width_fraction] * used
    field[:, :-1, -1] = ord(",")
    field[:, -1, -1] = ord("\n")
    return field.tobytes().translate(None, _PAD_BYTE)  # deleting bytes: bytes.translate's C loop
