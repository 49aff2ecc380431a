"""The shared text/binary matrix reader: round trips and located errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from openau.errors import ModelFileError, OpenAUError
from openau.models._reader import BinaryReader, TextReader


def test_text_matrix_round_trip(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("# a comment\n2\n3\n6\n1 2 3\n4 5 6.5\n\n# trailing\n")
    reader = TextReader(path)
    mat = reader.matrix()
    assert mat.dtype == np.float64
    np.testing.assert_array_equal(mat, [[1, 2, 3], [4, 5, 6.5]])
    assert reader.at_end()


def test_text_int_matrix(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("1 2 4\n7 8\n")
    mat = TextReader(path).matrix()
    assert mat.dtype == np.int32 and mat.tolist() == [[7, 8]]


def test_text_word_in_place_of_number_names_line(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("# header\n2\n2\n6\n1 2\n3 oops\n")
    with pytest.raises(ModelFileError, match=r"m\.txt, line 6: expected a number, found 'oops'"):
        TextReader(path).matrix()


def test_text_truncated(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("2 2 6\n1 2 3\n")
    with pytest.raises(ModelFileError, match="unexpected end of file"):
        TextReader(path).matrix()


def test_text_unknown_type(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("1 1 42\n1\n")
    with pytest.raises(ModelFileError, match="line 1: unknown matrix type code 42"):
        TextReader(path).matrix()


def test_missing_file_is_model_file_error(tmp_path):
    with pytest.raises(ModelFileError) as info:
        TextReader(tmp_path / "absent.txt")
    assert isinstance(info.value, OpenAUError) and isinstance(info.value, ValueError)


def _bin_matrix(arr: np.ndarray, code: int) -> bytes:
    return struct.pack("<iii", *arr.shape, code) + arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def test_binary_matrix_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    b = rng.integers(-5, 5, (2, 2)).astype(np.int32)
    path = tmp_path / "m.dat"
    path.write_bytes(_bin_matrix(a, 6) + struct.pack("<d", 1.5) + _bin_matrix(b, 4))
    reader = BinaryReader(path)
    np.testing.assert_array_equal(reader.matrix(), a)
    assert reader.f64() == 1.5
    np.testing.assert_array_equal(reader.matrix(), b)
    assert reader.at_end()


def test_binary_truncated_names_offset(tmp_path):
    path = tmp_path / "m.dat"
    path.write_bytes(_bin_matrix(np.zeros((4, 4)), 6)[:-5])
    with pytest.raises(ModelFileError, match=r"byte 12: unexpected end of file"):
        BinaryReader(path).matrix()


def test_binary_bad_type_names_header_offset(tmp_path):
    path = tmp_path / "m.dat"
    path.write_bytes(struct.pack("<d", 0.0) + struct.pack("<iii", 2, 2, 9))
    reader = BinaryReader(path)
    reader.f64()
    with pytest.raises(ModelFileError, match=r"byte 8: matrix header: unknown matrix type code 9"):
        reader.matrix()
