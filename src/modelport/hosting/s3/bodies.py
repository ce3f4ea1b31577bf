"""Object bodies across HTTP: an uploaded body into the store as it arrives (checked as S3 checks it), and
an object out of it (headers, ``Range``, conditional requests, streamed in chunks); how large a request
body may be."""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator
from typing import BinaryIO

from modelport.hosting.s3 import integrity
from modelport.hosting.s3.call import S3Call
from modelport.hosting.s3.errors import S3Error, request_id_headers
from modelport.hosting.s3.xmldoc import http_date
from modelport.net.messages import BodyError, BodyTooLarge, Response
from modelport.objectstore import ObjectInfo
from modelport.objectstore.blobs import READ_CHUNK, BlobWriter

# An upload (PutObject, UploadPart) is written to disk as it arrives, never held whole, so it may be as
# large as S3 allows in one request; an aws-chunked body may be larger by its framing (a chunk header
# per chunk), and its decoded payload is held to the limit as it is written.
MAX_UPLOAD_BODY = 5 * 1024 ** 3
AWS_CHUNKED_ALLOWANCE = MAX_UPLOAD_BODY // 64
# Any other S3 request is read whole before it is answered: XML documents (DeleteObjects' 1,000 keys,
# CompleteMultipartUpload's 10,000 parts) well within this.
MAX_REQUEST_BODY = 16 * 1024 * 1024
WRITE_BATCH = 1 << 20  # an upload goes to disk in writes of about this much (off the event loop)
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


def body_limit(headers: dict[str, str], upload: bool) -> int:
    """The largest body the HTTP server reads for an S3 request (``upload``: PutObject or UploadPart)."""
    if not upload:
        return MAX_REQUEST_BODY
    return MAX_UPLOAD_BODY + (AWS_CHUNKED_ALLOWANCE if integrity.is_aws_chunked(headers) else 0)


def too_large(upload: bool) -> S3Error:
    """S3's answer to a body over the limit: ``EntityTooLarge`` for an upload, else ``MaxMessageLengthExceeded``."""
    if upload:
        return S3Error("EntityTooLarge", f"Your proposed upload exceeds the maximum allowed size of {MAX_UPLOAD_BODY} "
                       f"bytes for one request; upload larger objects in parts (multipart upload).",
                       MaxSizeAllowed=str(MAX_UPLOAD_BODY))
    return S3Error("MaxMessageLengthExceeded", f"Your request was too big: at most {MAX_REQUEST_BODY} bytes.")


async def receive(call: S3Call) -> BlobWriter:
    """Write the request body to a new blob as it arrives and check it against what the headers promise.

    Uploads reach here before their body is read (``S3Api.is_upload``: the server streams them), so the
    body goes to disk in batches and is never held whole; another request's body was read whole and
    arrives as one piece.
    """
    request = call.request
    expected = integrity.expected_digests(request.headers)
    decoder = integrity.AwsChunkedDecoder(expected) if integrity.is_aws_chunked(request.headers) else None
    writer = await call.run(call.store.new_body, expected.digests)
    try:
        batch: list = []
        batched = 0
        try:
            async for data in request.stream():
                pieces = decoder.feed(data) if decoder is not None else (data,)
                for piece in pieces:
                    batch.append(piece)
                    batched += len(piece)
                if batched >= WRITE_BATCH:
                    await call.run(_write, writer, batch)
                    batch, batched = [], 0
                    if writer.size > MAX_UPLOAD_BODY:  # an aws-chunked payload beyond S3's limit
                        raise too_large(True)
        except BodyTooLarge:  # (only an upload's body is read here as it arrives)
            raise too_large(True) from None
        except BodyError as exc:  # the chunked framing broke off
            raise S3Error("IncompleteBody", exc.message) from None
        except ConnectionError:  # the client went away (or its body stalled past the timeout): nobody to answer
            raise S3Error("IncompleteBody", "The connection closed before the whole body arrived.") from None
        if decoder is not None:
            decoder.finish()
        await call.run(_write, writer, batch)
        if writer.size > MAX_UPLOAD_BODY:
            raise too_large(True)
        await call.run(writer.finish)
        declared = request.headers.get("x-amz-decoded-content-length")
        if decoder is not None and declared is not None and declared.strip() != str(writer.size):
            raise S3Error("IncompleteBody", "You did not provide the number of bytes specified by the "
                          "x-amz-decoded-content-length HTTP header.")
        expected.verify(writer.digests)
        return writer
    except BaseException:
        writer.discard()
        raise


def _write(writer: BlobWriter, pieces: list) -> None:
    for piece in pieces:
        writer.write(piece)


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
