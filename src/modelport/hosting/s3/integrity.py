"""Checking an uploaded body as S3 does: ``Content-MD5``, ``x-amz-content-sha256`` and the
``x-amz-checksum-*`` headers (or trailers of an ``aws-chunked`` body).

MD5, SHA-1, SHA-256 and CRC32 are verified (CRC32 is botocore's default since 1.36). CRC32C and
CRC64NVME need libraries the project does not ship; such checksums are accepted unverified.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from modelport.hosting.s3.errors import S3Error

# header suffix → (digest name in BlobWriter, S3's name for it in messages)
VERIFIED_CHECKSUMS = {"crc32": ("crc32", "CRC32"), "sha1": ("sha1", "SHA1"), "sha256": ("sha256", "SHA256")}
_SHA256_SKIP = ("UNSIGNED-PAYLOAD", "STREAMING-")


def _b64(value: str, header: str, length: int) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != length:
        if header == "content-md5":
            raise S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.")
        raise S3Error("InvalidRequest", f"Value for {header} header is invalid.")
    return raw


@dataclass
class Expected:
    """The digests a request promises for its body; :meth:`verify` compares them with what arrived."""

    md5: bytes | None = None
    sha256_hex: str | None = None
    checksums: dict[str, bytes] = field(default_factory=dict)  # digest name → raw bytes
    trailing: set[str] = field(default_factory=set)  # digests announced in x-amz-trailer

    @property
    def digests(self) -> tuple[str, ...]:
        """The digests a :class:`~modelport.objectstore.blobs.BlobWriter` must compute (MD5 always: the ETag)."""
        names = {"md5", *self.checksums, *self.trailing}
        if self.sha256_hex:
            names.add("sha256")
        return tuple(sorted(names))

    def add_checksum(self, name: str, value: str) -> None:
        """Expect ``x-amz-checksum-<name>: value`` (from a header or a trailer)."""
        if name in VERIFIED_CHECKSUMS:
            digest, _ = VERIFIED_CHECKSUMS[name]
            self.checksums[digest] = _b64(value, f"x-amz-checksum-{name}", 4 if name == "crc32" else
                                          20 if name == "sha1" else 32)

    def verify(self, computed: dict[str, bytes]) -> None:
        """Raise S3's error when a computed digest differs from the promised one."""
        if self.md5 is not None and computed["md5"] != self.md5:
            raise S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.")
        if self.sha256_hex is not None and computed["sha256"].hex() != self.sha256_hex:
            raise S3Error("XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.",
                          ClientComputedContentSHA256=self.sha256_hex,
                          S3ComputedContentSHA256=computed["sha256"].hex())
        for digest, expected in self.checksums.items():
            if computed[digest] != expected:
                label = next(label for d, label in VERIFIED_CHECKSUMS.values() if d == digest)
                raise S3Error("BadDigest", f"The {label} you specified did not match the calculated checksum.")


def expected_digests(headers: dict[str, str]) -> Expected:
    """What the request's headers promise about its body (InvalidDigest / InvalidRequest when malformed)."""
    expected = Expected()
    if "content-md5" in headers:
        expected.md5 = _b64(headers["content-md5"].strip(), "content-md5", 16)
    sha256 = headers.get("x-amz-content-sha256", "")
    if sha256 and not sha256.startswith(_SHA256_SKIP):
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
            raise S3Error("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a "
                          "valid sha256 value.", ArgumentName="x-amz-content-sha256", ArgumentValue=sha256)
        expected.sha256_hex = sha256.lower()
    for name, value in headers.items():
        if name.startswith("x-amz-checksum-") and name != "x-amz-checksum-algorithm" and name != "x-amz-checksum-type":
            expected.add_checksum(name[len("x-amz-checksum-"):], value.strip())
    for trailer in headers.get("x-amz-trailer", "").lower().split(","):
        algorithm = trailer.strip().removeprefix("x-amz-checksum-")
        if algorithm in VERIFIED_CHECKSUMS:
            expected.trailing.add(VERIFIED_CHECKSUMS[algorithm][0])
    return expected


def is_aws_chunked(headers: dict[str, str]) -> bool:
    """Whether the body is in ``aws-chunked`` encoding (streaming SigV4 or trailing checksums)."""
    encodings = [e.strip() for e in headers.get("content-encoding", "").split(",")]
    return "aws-chunked" in encodings or headers.get("x-amz-content-sha256", "").startswith("STREAMING-")


def stored_content_encoding(headers: dict[str, str]) -> str | None:
    """The Content-Encoding to store with the object: the request's, without ``aws-chunked``."""
    kept = [e.strip() for e in headers.get("content-encoding", "").split(",") if e.strip() not in ("", "aws-chunked")]
    return ", ".join(kept) or None


class AwsChunkedDecoder:
    """An ``aws-chunked`` body decoded as it arrives (streaming SigV4 or trailing checksums).

    :meth:`feed` takes the body's bytes in pieces of any size and returns the payload pieces in them;
    :meth:`finish` checks that the body ended after its last (zero-size) chunk and adds trailing checksums
    to ``expected``. Chunk signatures are not checked (hosting checks no signature). Malformed framing →
    ``IncompleteBody``.
    """

    MAX_LINE = 4096  # a chunk-size line (with its signature) at most
    MAX_TRAILER = 64 * 1024

    def __init__(self, expected: Expected) -> None:
        self.expected = expected
        self._line = bytearray()  # a chunk-size line in progress
        self._left = 0  # payload bytes still due in the current chunk
        self._crlf = b""  # what is still due of the CRLF after a chunk's payload
        self._trailer: bytearray | None = None  # after the last chunk: the trailing headers

    def feed(self, data: bytes) -> list[memoryview]:
        """The payload pieces in ``data`` (views of it), in order."""
        if not isinstance(data, bytes):
            data = bytes(data)
        out: list[memoryview] = []
        view = memoryview(data)
        at, end = 0, len(view)
        while at < end:
            if self._trailer is not None:
                self._trailer += view[at:]
                if len(self._trailer) > self.MAX_TRAILER:
                    raise S3Error("IncompleteBody", "The aws-chunked body's trailer is too long.")
                break
            if self._left:
                take = min(self._left, end - at)
                out.append(view[at:at + take])
                self._left -= take
                at += take
                if not self._left:
                    self._crlf = b"\r\n"
            elif self._crlf:
                got = bytes(view[at:at + len(self._crlf)])
                if got != self._crlf[:len(got)]:
                    raise S3Error("IncompleteBody",
                                  "You did not provide the number of bytes specified by the chunk size.")
                self._crlf = self._crlf[len(got):]
                at += len(got)
            else:
                newline = data.find(b"\n", at, at + self.MAX_LINE + 1 - len(self._line))
                stop = end if newline < 0 else newline + 1
                self._line += view[at:stop]
                at = stop
                if newline >= 0:
                    self._chunk_header(bytes(self._line))
                    self._line.clear()
                elif len(self._line) > self.MAX_LINE:
                    raise S3Error("IncompleteBody", "An aws-chunked chunk header is too long.")
        return out

    def _chunk_header(self, line: bytes) -> None:
        size_text = line[:-2].split(b";", 1)[0] if line.endswith(b"\r\n") else b""
        if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
            raise S3Error("IncompleteBody", f"Invalid aws-chunked chunk size {line[:20]!r}.")
        size = int(size_text, 16)
        if size:
            self._left = size
        else:
            self._trailer = bytearray()

    def finish(self) -> None:
        """The body has ended: it must have ended after the last chunk; read the trailing checksums."""
        if self._trailer is None:
            if self._left or self._crlf:
                raise S3Error("IncompleteBody", "You did not provide the number of bytes specified by the chunk size.")
            raise S3Error("IncompleteBody", "The aws-chunked body ends before its last (zero-size) chunk.")
        for line in bytes(self._trailer).split(b"\r\n"):
            name, sep, value = line.decode("latin-1").partition(":")
            if sep and name.strip().lower().startswith("x-amz-checksum-"):
                self.expected.add_checksum(name.strip().lower()[len("x-amz-checksum-"):], value.strip())
