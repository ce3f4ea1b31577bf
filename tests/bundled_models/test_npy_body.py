""".npy bodies of the digit models (src/modelport/bundled_models/shared/npy_body.py): written byte for byte as
``np.save`` writes them, read as ``np.load`` reads them — on the fast path for numpy's own header, through
``np.load`` for anything else."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "modelport" / "bundled_models" / "shared"))
from npy_body import read_npy, write_npy  # noqa: E402

ARRAYS = {
    "one digit": np.random.default_rng(0).random((1, 784), dtype=np.float32),
    "ten probabilities": np.full((1, 10), 0.1, dtype=np.float32),
    "three 28x28 digits": np.zeros((3, 28, 28)),
    "a vector": np.arange(5),
    "a scalar": np.array(2.5),
    "no rows": np.zeros((0, 784), dtype=np.float32),
    "booleans": np.array([True, False]),
    "big-endian ints": np.arange(6, dtype=">i4").reshape(2, 3),
    "bytes": np.arange(12, dtype=np.uint8).reshape(3, 4),
    "complex": np.ones(3, dtype=np.complex64),
    "a long first axis": np.zeros((123456, 1), dtype=np.int8),
}


def saved(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.mark.parametrize("name", list(ARRAYS))
def test_written_as_np_save_writes_and_read_back_on_the_fast_path(name):
    array = ARRAYS[name]
    body = write_npy(array)
    assert body == saved(array)
    read = read_npy(body)
    assert read.dtype == array.dtype and read.shape == array.shape and np.array_equal(read, array)
    assert not read.flags.writeable, "the fast path views the body instead of copying it"


def test_a_fortran_ordered_array_round_trips():
    array = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    body = write_npy(array)
    assert body == saved(array)
    assert np.array_equal(read_npy(body), array)


@pytest.mark.parametrize("body, why", [
    (saved(np.zeros(3, dtype=[("x", "<f4"), ("y", "<i2")])), "a structured dtype"),
    (saved(np.arange(4.0))[:-8], "data cut short"),
    (saved(np.arange(4.0)) + b"extra", "trailing bytes"),
    (b"\x93NUMPY\x02\x00" + saved(np.arange(4.0))[8:], "another format version's preamble"),
    (b"not an array at all", "no magic"),
])
def test_any_other_body_is_read_as_np_load_reads_it(body, why):
    try:
        expected = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - whatever np.load raises, read_npy raises too
        with pytest.raises(type(exc)):
            read_npy(body)
        return
    read = read_npy(body)
    assert read.dtype == expected.dtype and np.array_equal(read, expected), why
    assert read.flags.writeable, f"{why}: np.load, not the fast path"


def test_an_object_array_is_refused_as_np_load_refuses_it():
    body = saved(np.array([1, 2], dtype=np.int64)).replace(b"'<i8'", b"'|O' ")
    with pytest.raises(ValueError, match="allow_pickle"):
        read_npy(body)


def test_a_header_read_before_still_has_its_data_length_checked():
    body = saved(np.arange(4.0))
    assert np.array_equal(read_npy(body), np.arange(4.0))  # its header is now known
    with pytest.raises(ValueError):  # what np.load says of data cut short
        read_npy(body[:-8])


def test_the_headers_remembered_stay_few_however_many_arrive():
    import npy_body

    for rows in range(1, 300):
        assert read_npy(saved(np.zeros((rows, 3), dtype=np.float32))).shape == (rows, 3)
    remembered = npy_body._layout.cache_info()
    assert remembered.currsize <= remembered.maxsize == 64
