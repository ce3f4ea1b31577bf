"""Object bodies across HTTP: an uploaded body into the store (checked as S3 checks it), and an object
out of it (headers, ``Range``, conditional requests, streamed in chunks)."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator
from typing import BinaryIO

from modelport.hosting.s3 import integrity
from modelport.hosting.s3.call import S3Call
from modelport.hosting.s3.errors import S3Error, request_id_headers
from modelport.hosting.s3.xmldoc import http_date
from modelport.net.messages import Response
from modelport.objectstore import ObjectInfo
from modelport.objectstore.blobs import READ_CHUNK, BlobWriter

# Largest body one S3 request may carry while hosting buffers request bodies (S3's own limit is 5 GiB);
# larger objects go through multipart upload, as boto3, the SDK and the AWS CLI do above 8 MB.
MAX_S3_BODY = 128 * 1024 * 1024
STORED_HEADERS = ("content-type", "cache-control", "content-disposition", "content-language", "expires")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
_INLINE = 1 << 20  # objects up to this size are answered in one piece


def object_headers_from_request(headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The HTTP headers and the user metadata (``x-amz-meta-*``) to store with a new object."""
    stored = {name: headers[name] for name in STORED_HEADERS if name in headers}
    encoding = integrity.stored_content_encoding(headers)
    if encoding:
        stored["content-encoding"] = encoding
    metadata = {name[len("x-amz-meta-"):]: value for name, value in headers.items() if name.startswith("x-amz-meta-")}
    return stored, metadata


async def receive(call: S3Call) -> BlobWriter:
    """Write the request body to a new blob and check it against what the headers promise."""
    request = call.request
    expected = integrity.expected_digests(request.headers)
    chunked = integrity.is_aws_chunked(request.headers)

    def write() -> BlobWriter:
        writer = call.store.new_body(expected.digests)
        try:
            for chunk in (integrity.decode_aws_chunked(request.body, expected) if chunked else (request.body,)):
                writer.write(chunk)
            writer.finish()
            declared = request.headers.get("x-amz-decoded-content-length")
            if chunked and declared is not None and declared.strip() != str(writer.size):
                raise S3Error("IncompleteBody", "You did not provide the number of bytes specified by the "
                              "x-amz-decoded-content-length HTTP header.")
            expected.verify(writer.digests)
            return writer
        except BaseException:
            writer.discard()
            raise

    return await asyncio.to_thread(write)


def etag(info_etag: str) -> str:
    """An ETag as S3 sends it: in double quotes."""
    return f'"{info_etag}"'


def object_headers(info: ObjectInfo, request_id: str) -> list[tuple[str, str]]:
    """The headers of GetObject / HeadObject (without Content-Length)."""
    headers = [("Content-Type", info.headers.get("content-type", DEFAULT_CONTENT_TYPE)),
               ("ETag", etag(info.etag)), ("Last-Modified", http_date(info.modified)), ("Accept-Ranges", "bytes")]
    headers += [(name.title(), value) for name, value in info.headers.items() if name != "content-type"]
    headers += [(f"x-amz-meta-{name}", value) for name, value in info.metadata.items()]
    return headers + request_id_headers(request_id)


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """``(start, end)`` inclusive for ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n``; None to ignore (as S3
    ignores a range it cannot parse); InvalidRange when it cannot be satisfied."""
    unit, _, spec = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()) or (first and not first.isdigit()) or (
            last and not last.isdigit()):
        return None
    if not first:  # the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _unsatisfiable(value, size)
        return max(0, size - count), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(value, size)
    return start, end


def _unsatisfiable(value: str, size: int) -> S3Error:
    return S3Error("InvalidRange", "The requested range is not satisfiable", RangeRequested=value,
                   ActualObjectSize=str(size))


def _check_conditions(info: ObjectInfo, headers: dict[str, str]) -> int | None:
    """304 / 412 for GET and HEAD preconditions (If-Match, If-None-Match, If-(Un)Modified-Since), else None."""
    def parsed_date(name: str) -> float | None:
        try:
            return email.utils.parsedate_to_datetime(headers[name]).timestamp() if name in headers else None
        except (TypeError, ValueError):
            return None

    def tags(name: str) -> list[str]:
        return [t.strip().removeprefix("W/").strip('"') for t in headers.get(name, "").split(",")]

    if "if-match" in headers and "*" not in tags("if-match") and info.etag not in tags("if-match"):
        return 412
    unmodified = parsed_date("if-unmodified-since")
    if "if-match" not in headers and unmodified is not None and int(info.modified) > unmodified:
        return 412
    if "if-none-match" in headers and ("*" in tags("if-none-match") or info.etag in tags("if-none-match")):
        return 304
    modified = parsed_date("if-modified-since")
    if "if-none-match" not in headers and modified is not None and int(info.modified) <= modified:
        return 304
    return None


async def _chunks(handle: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    """The object's bytes, read in chunks off the event loop; the file is closed at the end."""
    try:
        await asyncio.to_thread(handle.seek, start)
        left = length
        while left > 0:
            data = await asyncio.to_thread(handle.read, min(READ_CHUNK, left))
            if not data:
                raise OSError(f"the object ended {left} bytes early")
            left -= len(data)
            yield data
    finally:
        handle.close()


async def send(call: S3Call, head: bool) -> Response:
    """Answer GetObject (``head`` False) or HeadObject for ``call``'s target."""
    info, handle = await call.run(call.store.open_object, call.target.bucket, call.target.key)
    try:
        headers = object_headers(info, call.request_id)
        condition = _check_conditions(info, call.headers)
        if condition == 412:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          Condition="If-Match" if "if-match" in call.headers else "If-Unmodified-Since")
        if condition == 304:
            handle.close()
            return Response(304, [h for h in headers if h[0] in ("ETag", "Last-Modified")] +
                            request_id_headers(call.request_id), b"")
        status, start, length = 200, 0, info.size
        wanted = _parse_range(call.headers["range"], info.size) if "range" in call.headers and not head else None
        if wanted is not None:
            status, start, length = 206, wanted[0], wanted[1] - wanted[0] + 1
            headers.append(("Content-Range", f"bytes {wanted[0]}-{wanted[1]}/{info.size}"))
        if length <= _INLINE and not head:  # the server adds Content-Length for a whole body
            return Response(status, headers, await call.run(_read, handle, start, length))
        headers.append(("Content-Length", str(length)))
        if head:
            handle.close()
            return Response(status, headers, b"")
        return Response(status, headers, stream=_chunks(handle, start, length))
    except BaseException:
        handle.close()
        raise


def _read(handle: BinaryIO, start: int, length: int) -> bytes:
    with handle:
        handle.seek(start)
        return handle.read(length)
