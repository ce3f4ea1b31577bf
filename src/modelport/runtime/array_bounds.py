"""Check NPY and NPZ request bodies against their declared sizes before anything is loaded.

An ``.npy`` body is uncompressed: the array its header declares must take exactly the bytes that
follow the header, so a 100-byte body cannot make NumPy allocate gigabytes. An ``.npz`` body is a
zip of ``.npy`` members: the zip's member count, every member's declared size and their total must
stay under a cap, and each member is stream-decompressed with a hard byte budget (its declared
size), so a zip whose headers lie is refused after reading at most what it declared.

The cap is the request-size limit (``SAGEMAKER_MAX_PAYLOAD_IN_MB``): compression never buys a
client more decoded input than it could have sent uncompressed.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
from math import prod

import numpy as np

from modelport.runtime.errors import BadRequest

NPZ_MAX_MEMBERS = 16  # a sparse matrix saved by scipy.sparse.save_npz has at most 6
NPZ_MAX_DIRECTORY_BYTES = 64 * 1024  # the zip's central directory, read before any member
NPY_MAX_HEADER_BYTES = 10_000  # NumPy's own default limit
_CHUNK = 64 * 1024
_END_RECORD = struct.Struct("<4s4H2LH")  # the zip's "end of central directory" record
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20


@functools.cache
def decoded_limit() -> int:
    """Largest decoded NPY/NPZ input in bytes: the payload limit of this runtime's settings."""
    from modelport.runtime.environment import RuntimeEnvironment

    return RuntimeEnvironment().max_payload_bytes


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def _limit_hint(limit: int) -> str:
    return f"the limit is {_mib(limit)} of decoded data (SAGEMAKER_MAX_PAYLOAD_IN_MB)"


def read_npy_header(stream: io.BufferedIOBase | io.BytesIO, what: str = "The .npy body"
                    ) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """Parse an NPY header: (shape, dtype, declared data bytes, Fortran order). The stream is left after the header."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=NPY_MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=NPY_MAX_HEADER_BYTES)
        else:
            raise ValueError(f"format version {version[0]}.{version[1]} is not accepted (1.0 and 2.0 are)")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise BadRequest(f"{what} is not a valid .npy array: {exc}") from None
    if dtype.hasobject:
        raise BadRequest(f"{what} holds an object array; object arrays are refused (send numeric arrays).")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise BadRequest(f"{what} declares an invalid shape {shape}.")
    return shape, dtype, prod(shape) * dtype.itemsize, bool(fortran)


def load_npy(body: bytes, limit: int | None = None) -> np.ndarray:
    """The array of an NPY body, once its header is checked against its data and the cap (BadRequest otherwise).

    The data is copied out of the body directly (``np.frombuffer``): ``np.load`` would parse the header a
    second time and read through a file object, about 100 µs more for one small array.
    """
    limit = decoded_limit() if limit is None else limit
    stream = io.BytesIO(body)
    shape, dtype, declared, fortran = read_npy_header(stream)
    offset = stream.tell()
    present = len(body) - offset
    _check_declared(shape, dtype, declared, limit, "The .npy body")
    if declared != present:
        raise BadRequest(
            f"The .npy body declares an array of shape {shape} and dtype {dtype} ({declared} bytes) but carries "
            f"{present} bytes of data; an .npy body must hold exactly the array its header declares."
        )
    flat = np.frombuffer(body, dtype=dtype, count=prod(shape), offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")  # writable, as np.load's


def _check_declared(shape: tuple[int, ...], dtype: np.dtype, declared: int, limit: int, what: str) -> None:
    # Zero-width dtypes take no bytes, so the element count is capped too.
    if declared > limit or prod(shape) > limit:
        raise BadRequest(f"{what} declares an array of shape {shape} and dtype {dtype} ({_mib(declared)}); {_limit_hint(limit)}.")


def check_npz(body: bytes, limit: int | None = None) -> None:
    """Refuse an NPZ body whose zip or members are larger than declared or than the cap.

    Reads the zip's end record first (member count, directory size, no ZIP64), then every member's
    declared size, then decompresses each member in chunks, checking its NPY header against its
    declared size and its data against its CRC, never reading past the declared size.
    """
    limit = decoded_limit() if limit is None else limit
    _check_end_record(body)
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise BadRequest(f"The body is not a valid .npz (zip) file: {exc}") from None
    with archive:
        members = archive.infolist()
        _check_members(members, limit)
        for member in members:
            _check_member_data(archive, member)


def _check_end_record(body: bytes) -> None:
    start = body.rfind(_END_SIGNATURE, max(0, len(body) - _END_RECORD.size - 0xFFFF))
    if start < 0 or start + _END_RECORD.size > len(body):
        raise BadRequest("The body is not a valid .npz (zip) file: no end-of-directory record.")
    _, _, _, _, entries, directory_size, _, _ = _END_RECORD.unpack_from(body, start)
    locator = start - _ZIP64_LOCATOR_SIZE
    if locator >= 0 and body[locator : locator + 4] == _ZIP64_LOCATOR_SIGNATURE:
        raise BadRequest("The .npz body is a ZIP64 archive; send a plain zip (numpy.savez / scipy.sparse.save_npz).")
    if entries > NPZ_MAX_MEMBERS or directory_size > NPZ_MAX_DIRECTORY_BYTES:
        raise BadRequest(
            f"The .npz body declares {entries} members in a {directory_size}-byte directory; "
            f"at most {NPZ_MAX_MEMBERS} members are accepted."
        )


def _check_members(members: list[zipfile.ZipInfo], limit: int) -> None:
    if len(members) > NPZ_MAX_MEMBERS:
        raise BadRequest(f"The .npz body has {len(members)} members; at most {NPZ_MAX_MEMBERS} are accepted.")
    total = 0
    for member in members:
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BadRequest(
                f"The .npz member {member.filename!r} uses zip compression method {member.compress_type}; "
                "only stored and deflated members are accepted (as numpy.savez writes)."
            )
        total += member.file_size
        if member.file_size > limit or total > limit:
            raise BadRequest(
                f"The .npz body declares {_mib(total)} of uncompressed members "
                f"({member.filename!r}: {_mib(member.file_size)}); {_limit_hint(limit)}."
            )


def _check_member_data(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    what = f"The .npz member {member.filename!r}"
    try:
        with archive.open(member) as stream:
            shape, dtype, declared, _ = read_npy_header(stream, what)
            header_bytes = stream.tell()
            if header_bytes + declared != member.file_size:
                raise BadRequest(
                    f"{what} declares an array of shape {shape} and dtype {dtype} ({declared} bytes) but its zip entry "
                    f"declares {member.file_size - header_bytes} bytes of data."
                )
            # zipfile never yields more than the declared size, so a lying entry is cut at its budget
            # (and then fails its CRC); chunks keep memory flat while the rest is checked.
            produced = header_bytes
            while chunk := stream.read(_CHUNK):
                produced += len(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError) as exc:
        raise BadRequest(f"{what} is not valid: {exc}") from None
    if produced != member.file_size:
        raise BadRequest(f"{what} holds {produced} bytes, not the {member.file_size} it declares.")
