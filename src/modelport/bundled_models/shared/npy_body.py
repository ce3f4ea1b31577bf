"""Read and write a one-array ``.npy`` body quickly (copied into code/ at pack time; numpy only).

``np.load`` on a small body spends most of its time around the data: it checks for a zip, parses the
header with ``ast.literal_eval`` and reads through a file object (about 150 µs for one 28×28 digit on a
2-core VM, against 2 µs for the data itself). ``np.save`` is about 20 µs for ten floats. A header as
numpy writes it has one fixed form, so :func:`read_npy` matches exactly that form and views the data
with ``np.frombuffer``; any other body (another header layout, a structured or object dtype, data of the
wrong length) goes to ``np.load`` as before, which accepts what it accepts and words its own errors.
:func:`write_npy` builds the same bytes as ``np.save`` for a plain numeric array.
"""

import functools
import io
import re

import numpy as np

MAGIC = b"\x93NUMPY"
# the header numpy writes (format 1.0): "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 784), }"
# padded with spaces and ended by a newline
_HEADER = re.compile(
    rb"\{'descr': '([<>|=][biufc]\d{1,2})', 'fortran_order': (True|False), 'shape': \(((?:\d+, )*\d+,?|)\), \} *\n")
_ALIGN = 64  # numpy pads the preamble to a multiple of this
_GROWTH_DIGITS = 21  # numpy's GROWTH_AXIS_MAX_DIGITS


def read_npy(data: bytes) -> np.ndarray:
    """The array in an ``.npy`` body (a read-only view of ``data`` on the fast path).

    Raises what ``np.load(..., allow_pickle=False)`` raises for a body it cannot read (ValueError,
    OSError, EOFError).
    """
    array = _read_plain(data)
    if array is None:
        return np.load(io.BytesIO(data), allow_pickle=False)
    return array


def _read_plain(data: bytes):
    """The array of a format-1.0 body with numpy's own header and exactly its data, else None."""
    if len(data) < 10 or data[:8] != MAGIC + b"\x01\x00":
        return None
    end = 10 + int.from_bytes(data[8:10], "little")
    layout = _layout(data[10:end])
    if layout is None:
        return None
    dtype, shape, order, size = layout
    if size != len(data) - end:
        return None
    return np.frombuffer(data, dtype=dtype, count=size // dtype.itemsize, offset=end).reshape(shape, order=order)


# clients send the same few headers again and again; kept small, since any body may bring a new one
@functools.lru_cache(maxsize=64)
def _layout(header: bytes):
    """(dtype, shape, order, data bytes) of a header in numpy's own form, else None (remembered per header)."""
    match = _HEADER.fullmatch(header)
    if match is None:
        return None
    descr, fortran, shape_text = match.groups()
    try:
        dtype = np.dtype(descr.decode("ascii"))
    except TypeError:
        return None
    shape = tuple(int(size) for size in shape_text.replace(b",", b" ").split())
    count = 1
    for size in shape:
        count *= size
    return dtype, shape, "F" if fortran == b"True" else "C", count * dtype.itemsize


def write_npy(array: np.ndarray) -> bytes:
    """``array`` as the bytes ``np.save(..., allow_pickle=False)`` writes (built directly for a plain numeric
    array, by ``np.save`` for anything else)."""
    if array.dtype.kind not in "biufc" or array.dtype.names is not None or not array.flags.c_contiguous:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    shape = tuple(array.shape)
    header = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (array.dtype.str, shape)
    if shape:  # numpy leaves room for the first axis to grow to 21 digits (rewriting the header in place)
        header += " " * (_GROWTH_DIGITS - len(repr(shape[0])))
    padding = -(10 + len(header) + 1) % _ALIGN
    preamble = MAGIC + b"\x01\x00" + (len(header) + padding + 1).to_bytes(2, "little")
    return preamble + header.encode("latin-1") + b" " * padding + b"\n" + array.tobytes()
