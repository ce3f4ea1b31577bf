"""Object bodies on disk: written to a temp file while their digests are computed, then renamed into place.

A blob is never changed once in place (an overwrite writes a new blob), so a reader that opened one keeps
reading consistent bytes while the object is replaced or deleted. Reads go in chunks.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import zlib
from pathlib import Path
from typing import BinaryIO

READ_CHUNK = 1 << 20
DIGESTS = ("md5", "sha1", "sha256", "crc32")


class _Crc32:
    """zlib's CRC-32 behind hashlib's update/digest interface (big-endian, as S3's x-amz-checksum-crc32)."""

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _hasher(name: str):
    return _Crc32() if name == "crc32" else hashlib.new(name)


class BlobWriter:
    """Write one body to ``tmp_dir``; ``digests`` (names from :data:`DIGESTS`) are computed on the way.

    Call :meth:`write` for each chunk, then :meth:`finish`; the store moves the file into place with
    :meth:`move_to`, or :meth:`discard` removes it.
    """

    def __init__(self, tmp_dir: Path, digests: tuple[str, ...] = ("md5",)) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.path = tmp_dir / uuid.uuid4().hex
        self._file: BinaryIO | None = self.path.open("xb")
        self._hashers = {name: _hasher(name) for name in digests}
        self.size = 0
        self.digests: dict[str, bytes] = {}

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        assert self._file is not None, "write after finish"
        self._file.write(data)
        for hasher in self._hashers.values():
            hasher.update(data)
        self.size += len(data)

    def finish(self) -> None:
        """Close the file and compute the digests (``self.digests[name]``: raw bytes)."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.digests = {name: h.digest() for name, h in self._hashers.items()}

    @property
    def md5_hex(self) -> str:
        """The body's MD5 in hex (S3's ETag of a single-part object)."""
        return self.digests["md5"].hex()

    def move_to(self, path: Path) -> None:
        """Rename the finished file to ``path`` (same file system: atomic)."""
        self.finish()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, path)

    def discard(self) -> None:
        """Remove the temp file (after an error)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)


def concatenate(sources: list[Path], writer: BlobWriter) -> None:
    """Append the files ``sources`` to ``writer`` in chunks (assembling a multipart upload)."""
    for source in sources:
        with source.open("rb") as src:
            while data := src.read(READ_CHUNK):
                writer.write(data)
