"""NPY / NPZ decoder bombs: refused with a 400 naming the limit before anything big is allocated.

The zips are built by hand (``raw_zip``) so that their headers can lie; the big ones are streamed
through zlib, never held uncompressed. The server test reads the worker's peak RSS (VmHWM).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from modelport.runtime import array_bounds, codecs
from modelport.runtime import content_types as ct
from modelport.runtime.errors import BadRequest
from tests.helpers.runtime import ModelServer, write_model

MiB = 2**20
LIMIT = 6 * MiB  # the default SAGEMAKER_MAX_PAYLOAD_IN_MB


def npy_header(shape: tuple[int, ...], dtype: str = "<f8") -> bytes:
    """The .npy header NumPy writes for an array of this shape and dtype (no data)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def zeros_chunks(total: int, chunk: int = MiB):
    """``total`` zero bytes in chunks (never all in memory)."""
    block = bytes(chunk)
    for start in range(0, total, chunk):
        yield block[: min(chunk, total - start)]


def member(name: str, pieces, *, declared: int | None = None, method: int = 8) -> tuple:
    """A zip member from byte pieces: (name, compressed data, crc, declared size, method)."""
    crc, size, compressor, parts = 0, 0, zlib.compressobj(9, zlib.DEFLATED, -15), []
    for piece in pieces:
        crc, size = zlib.crc32(piece, crc), size + len(piece)
        parts.append(compressor.compress(piece) if method == 8 else piece)
    if method == 8:
        parts.append(compressor.flush())
    return name, b"".join(parts), crc, size if declared is None else declared, method


def raw_zip(members: list[tuple], *, zip64_locator: bool = False) -> bytes:
    """A zip written field by field, so sizes, counts and methods say whatever the test wants."""
    local, central, offset = [], [], 0
    for name, data, crc, size, method in members:
        encoded = name.encode()
        local += [struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0), encoded, data]
        central += [struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset), encoded]
        offset += 30 + len(encoded) + len(data)
    local, central = b"".join(local), b"".join(central)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(local) + len(central), 1) if zip64_locator else b""
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    return local + central + locator + end


def sparse_members(data_member: tuple) -> list[tuple]:
    """A csr matrix's npz members around a given ``data.npy`` member."""
    return [
        member("format.npy", [npy_bytes(np.array("csr"))]),
        member("shape.npy", [npy_bytes(np.array([1, 1]))]),
        member("indices.npy", [npy_bytes(np.zeros(1, np.int32))]),
        member("indptr.npy", [npy_bytes(np.array([0, 1], np.int32))]),
        data_member,
    ]


def deflate_bomb() -> bytes:
    """~200 KB of zip whose honest headers declare a 200 MiB array (the issue's 214 MiB case)."""
    count = 200 * MiB // 8
    header = npy_header((count,))
    return raw_zip(sparse_members(member("data.npy", [header, *zeros_chunks(count * 8)])))


def lying_size_bomb() -> bytes:
    """Declares a 10-element array, but its deflate stream yields 200 MiB."""
    header = npy_header((10,))
    real = member("data.npy", [header, *zeros_chunks(200 * MiB)])
    name, data, crc, _, method = real
    return raw_zip(sparse_members((name, data, crc, len(header) + 80, method)))


def lying_header_bomb() -> bytes:
    """A small zip entry whose .npy header declares 200 MiB."""
    header = npy_header((200 * MiB // 8,))
    return raw_zip(sparse_members(member("data.npy", [header, bytes(80)])))


def many_members_bomb(count: int = 50_000) -> bytes:
    """More members than any sparse matrix needs (empty ones: ~4 MB, under the payload limit)."""
    return raw_zip([(f"m{i}.npy", b"", 0, 0, 0) for i in range(count)])


BOMBS = {
    "deflate bomb (honest headers)": (deflate_bomb, "200.0 MiB of uncompressed members"),
    "zip entry smaller than its data": (lying_size_bomb, "CRC"),
    "npy header larger than its zip entry": (lying_header_bomb, "but its zip entry declares 80 bytes"),
    "50,000 members": (many_members_bomb, "at most 16 members"),
    "bzip2 member": (lambda: raw_zip(sparse_members(member("data.npy", [npy_bytes(np.zeros(3))], method=12))), "only stored and deflated"),
    "ZIP64 end record": (lambda: raw_zip(sparse_members(member("data.npy", [npy_bytes(np.zeros(3))])), zip64_locator=True), "ZIP64"),
    "object array member": (lambda: raw_zip(sparse_members(member("data.npy", [npy_bytes(np.array([{}], dtype=object))]))), "object arrays are refused"),
}


@pytest.fixture(scope="module")
def npz_bombs() -> dict[str, bytes]:
    return {name: make() for name, (make, _) in BOMBS.items()}


@pytest.mark.parametrize("name", list(BOMBS))
def test_npz_bombs_are_refused_naming_what_was_wrong(npz_bombs, name):
    with pytest.raises(BadRequest, match=BOMBS[name][1]):
        codecs.decode(npz_bombs[name], ct.NPZ)


def test_npz_over_the_cap_names_the_limit(npz_bombs):
    assert len(npz_bombs["deflate bomb (honest headers)"]) < 300_000
    with pytest.raises(BadRequest) as refused:
        codecs.decode(npz_bombs["deflate bomb (honest headers)"], ct.NPZ)
    assert "the limit is 6.0 MiB of decoded data (SAGEMAKER_MAX_PAYLOAD_IN_MB)" in refused.value.message


def test_npz_cap_is_the_payload_limit_of_decoded_bytes():
    matrix = scipy.sparse.csr_matrix(np.ones((1, 100_000)))  # ~1.2 MB decoded, compresses well
    buffer = io.BytesIO()
    scipy.sparse.save_npz(buffer, matrix)
    body = buffer.getvalue()
    array_bounds.check_npz(body, limit=2 * MiB)
    with pytest.raises(BadRequest, match="the limit is 1.0 MiB"):
        array_bounds.check_npz(body, limit=1 * MiB)
    assert codecs.decode(body, ct.NPZ).sum() == 100_000


def test_npy_must_carry_exactly_the_declared_array():
    good = npy_bytes(np.arange(10))
    assert codecs.decode(good, ct.NPY).tolist() == list(range(10))
    header = npy_header((10,), "<i8")
    with pytest.raises(BadRequest, match=r"declares an array of shape \(10,\) and dtype int64 \(80 bytes\) but carries 72"):
        codecs.decode(header + bytes(72), ct.NPY)
    with pytest.raises(BadRequest, match="carries 88"):
        codecs.decode(header + bytes(88), ct.NPY)
    with pytest.raises(BadRequest, match="the limit is 6.0 MiB"):
        codecs.decode(npy_header((10**10,)) + bytes(80), ct.NPY)
    with pytest.raises(BadRequest, match="the limit is 6.0 MiB"):  # zero-width items: the count is capped
        codecs.decode(npy_header((10**12,), "|V0"), ct.NPY)
    with pytest.raises(BadRequest, match="object arrays are refused"):
        codecs.decode(npy_bytes(np.array([{}], dtype=object)), ct.NPY)
    with pytest.raises(BadRequest, match="not a valid .npy"):
        codecs.decode(b"PK\x05\x06" + bytes(18), ct.NPY)


ECHO_SUM = """
    class Summer:
        def predict(self, data):
            return [float(data.sum())]

    def model_fn(model_dir):
        return Summer()
"""


def peak_rss(pid: int) -> int:
    """The process's peak resident set size (VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def test_bombs_sent_to_a_server_cost_the_worker_under_ten_times_their_size(tmp_path, npz_bombs):
    model = write_model(tmp_path / "model", ECHO_SUM)
    with ModelServer(model, workers=1) as server:
        (worker,) = server.worker_pids()
        sparse = io.BytesIO()
        scipy.sparse.save_npz(sparse, scipy.sparse.csr_matrix(np.eye(4)))
        for _ in range(3):  # warm up with valid bodies: imports and allocator arenas are paid here
            assert server.post(sparse.getvalue(), ct.NPZ).json() == [4.0]
            assert server.post(npy_bytes(np.ones((2, 3))), ct.NPY).json() == [6.0]
        bombs = {**npz_bombs, "npy declaring 80 GB": npy_header((10**10,)) + bytes(80)}
        before = peak_rss(worker)
        for name, body in bombs.items():
            content_type = ct.NPY if name.startswith("npy") else ct.NPZ
            answer = server.post(body, content_type)
            assert answer.status_code == 400, (name, answer.text)
            assert answer.json()["error"] == "BadRequest", name
        growth = peak_rss(worker) - before
        largest = max(len(body) for body in bombs.values())
        assert growth < 10 * largest, f"peak RSS grew {growth / MiB:.1f} MiB for bodies up to {largest / MiB:.2f} MiB"
        assert server.post(sparse.getvalue(), ct.NPZ).json() == [4.0]
