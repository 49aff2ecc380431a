"""The one low-level reader under every OpenFace model-file parser.

OpenFace stores its models in two flavours:

* text files of whitespace-separated tokens, where a matrix is written as
  ``rows cols type`` followed by ``rows * cols`` numbers in row-major order,
  and lines starting with ``#`` are comments (OpenFace's ``ReadMat`` and
  ``SkipComments``);
* binary little-endian files, where a matrix is three ``int32`` (rows, cols,
  OpenCV type code) followed by the raw row-major elements (OpenFace's
  ``ReadMatBin``), mixed with scalar ``int32``/``float64`` fields.

``type`` is an OpenCV single-channel type code (``CV_8U`` = 0 ... ``CV_64F`` = 6).
Both readers raise :class:`~openau.errors.ModelFileError` naming the file and
the line (text) or byte offset (binary) of the problem.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from os import PathLike
from pathlib import Path

import numpy as np

from openau.errors import ModelFileError

__all__ = ["CV_DTYPES", "TextReader", "BinaryReader", "read_bytes", "read_text"]

#: OpenCV single-channel type codes and the numpy dtype each stands for.
CV_DTYPES: dict[int, np.dtype] = {
    0: np.dtype(np.uint8),
    1: np.dtype(np.int8),
    2: np.dtype(np.uint16),
    3: np.dtype(np.int16),
    4: np.dtype(np.int32),
    5: np.dtype(np.float32),
    6: np.dtype(np.float64),
}

# Guard against a corrupted header asking for an absurd allocation.
_MAX_ELEMENTS = 1 << 28


def read_bytes(path: str | PathLike[str]) -> bytes:
    """Read a model file's bytes, turning OS errors into :class:`ModelFileError`."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(path, "opening", exc.strerror or str(exc)) from exc


def read_text(path: str | PathLike[str]) -> str:
    """Read a model file as text (ASCII/UTF-8, tolerant of stray bytes)."""
    return read_bytes(path).decode("utf-8", errors="replace")


def _check_shape(fail, rows: int, cols: int, type_code: int) -> np.dtype:
    if type_code not in CV_DTYPES:
        fail(f"unknown matrix type code {type_code} (expected one of {sorted(CV_DTYPES)})")
    if rows < 0 or cols < 0 or rows * cols > _MAX_ELEMENTS:
        fail(f"implausible matrix size {rows} x {cols}")
    return CV_DTYPES[type_code]


class TextReader:
    """Sequential token reader over a text model file.

    Comment lines (first non-blank character ``#``) and blank lines are
    dropped up front, so every ``read_*`` call sees only data tokens.

    Parameters
    ----------
    path : path-like
        The file, used for reading (when ``text`` is None) and in error messages.
    text : str, optional
        The file's contents, when already in memory.
    """

    def __init__(self, path: str | PathLike[str], text: str | None = None) -> None:
        self.path = Path(path)
        if text is None:
            text = read_text(path)
        tokens: list[str] = []
        token_lines: list[int] = []
        self._lines: list[tuple[int, list[str]]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            self._lines.append((number, words))
            tokens.extend(words)
            token_lines.extend([number] * len(words))
        self._tokens = tokens
        self._token_lines = token_lines
        self._pos = 0

    # -- errors -------------------------------------------------------------
    def error(self, problem: str, token_index: int | None = None) -> ModelFileError:
        """A :class:`ModelFileError` located at the current (or given) token."""
        index = self._pos if token_index is None else token_index
        if index < len(self._token_lines):
            where = f"line {self._token_lines[index]}"
        else:
            last = self._token_lines[-1] if self._token_lines else 0
            where = f"end of file (after line {last})"
        return ModelFileError(self.path, where, problem)

    # -- tokens -------------------------------------------------------------
    def at_end(self) -> bool:
        """True when every data token has been consumed."""
        return self._pos >= len(self._tokens)

    def word(self) -> str:
        """The next token as a string."""
        if self.at_end():
            raise self.error("unexpected end of file")
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def int(self) -> int:
        """The next token as an integer."""
        token = self.word()
        try:
            return int(token)
        except ValueError:
            raise self.error(f"expected an integer, found {token!r}", self._pos - 1) from None

    def float(self) -> float:
        """The next token as a floating-point number."""
        token = self.word()
        try:
            return float(token)
        except ValueError:
            raise self.error(f"expected a number, found {token!r}", self._pos - 1) from None

    def numbers(self, count: int, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """The next ``count`` tokens as a 1-D array of ``dtype``."""
        start = self._pos
        if start + count > len(self._tokens):
            self._pos = len(self._tokens)
            raise self.error(f"unexpected end of file: expected {count} numbers")
        chunk = self._tokens[start : start + count]
        try:
            values = np.array(chunk, dtype=np.float64)
        except ValueError:
            for offset, token in enumerate(chunk):
                try:
                    float(token)
                except ValueError:
                    raise self.error(
                        f"expected a number, found {token!r}", start + offset
                    ) from None
            raise  # pragma: no cover - numpy and float() disagree
        self._pos = start + count
        dtype = np.dtype(dtype)
        if dtype.kind in "iu":
            if not np.all(values == np.round(values)):
                raise self.error("expected integers, found a fraction", start)
        return values.astype(dtype)

    def matrix(self) -> np.ndarray:
        """A matrix written as ``rows cols type`` and row-major values.

        Returns
        -------
        (rows, cols) ndarray
            In the dtype the type code names.
        """
        start = self._pos
        rows, cols, type_code = self.int(), self.int(), self.int()

        def fail(problem: str) -> None:
            raise self.error(problem, start)

        dtype = _check_shape(fail, rows, cols, type_code)
        return self.numbers(rows * cols, dtype).reshape(rows, cols)

    # -- lines --------------------------------------------------------------
    def lines(self) -> Iterator[tuple[int, list[str]]]:
        """Every data line as ``(line_number, tokens)``, for line-oriented files."""
        return iter(self._lines)


class BinaryReader:
    """Sequential reader over a binary little-endian model file.

    Parameters
    ----------
    path : path-like
        The file, used for reading (when ``data`` is None) and in error messages.
    data : bytes, optional
        The file's contents, when already in memory.
    """

    def __init__(self, path: str | PathLike[str], data: bytes | None = None) -> None:
        self.path = Path(path)
        self.data = read_bytes(path) if data is None else data
        self.pos = 0

    def error(self, problem: str, offset: int | None = None) -> ModelFileError:
        """A :class:`ModelFileError` located at the current (or given) byte offset."""
        return ModelFileError(self.path, f"byte {self.pos if offset is None else offset}", problem)

    def at_end(self) -> bool:
        """True when every byte has been consumed."""
        return self.pos >= len(self.data)

    def remaining(self) -> int:
        """Bytes left to read."""
        return len(self.data) - self.pos

    def bytes(self, count: int) -> bytes:
        """The next ``count`` raw bytes."""
        if count < 0 or self.pos + count > len(self.data):
            raise self.error(
                f"unexpected end of file: needed {count} bytes, {self.remaining()} left"
            )
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def _unpack(self, fmt: str, size: int):
        return struct.unpack(fmt, self.bytes(size))[0]

    def i32(self) -> int:
        """The next little-endian ``int32``."""
        return self._unpack("<i", 4)

    def f32(self) -> float:
        """The next little-endian ``float32``."""
        return self._unpack("<f", 4)

    def f64(self) -> float:
        """The next little-endian ``float64``."""
        return self._unpack("<d", 8)

    def array(self, count: int, dtype: np.dtype | type) -> np.ndarray:
        """The next ``count`` elements of ``dtype`` as a new 1-D array."""
        dtype = np.dtype(dtype).newbyteorder("<")
        raw = self.bytes(count * dtype.itemsize)
        return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))

    def matrix(self) -> np.ndarray:
        """A matrix written as three ``int32`` (rows, cols, type) and raw elements.

        Returns
        -------
        (rows, cols) ndarray
            In the dtype the type code names.
        """
        start = self.pos
        rows, cols, type_code = self.i32(), self.i32(), self.i32()

        def fail(problem: str) -> None:
            raise self.error(f"matrix header: {problem}", start)

        dtype = _check_shape(fail, rows, cols, type_code)
        return self.array(rows * cols, dtype).reshape(rows, cols)
