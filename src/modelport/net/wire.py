"""HTTP/1.1 bytes on the wire: status lines, response heads, chunk framing, the server's own error bodies."""

from __future__ import annotations

import http

import orjson

STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in http.HTTPStatus}
STATUS_LINES_BYTES = {code: line.encode("latin-1") for code, line in STATUS_LINES.items()}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"

# What the server itself refuses, as (status, code) for the application's error hook.
BAD_REQUEST = (400, "BadRequest")
REQUEST_TIMEOUT = (408, "RequestTimeout")
PAYLOAD_TOO_LARGE = (413, "PayloadTooLarge")
URI_TOO_LONG = (414, "URITooLong")
HEADERS_TOO_LARGE = (431, "RequestHeaderFieldsTooLarge")
INTERNAL_ERROR = (500, "InternalError")


class HeaderInjection(ValueError):
    """A response header name or value held a line break (it would split the response)."""


def status_line(status: int) -> str:
    """``HTTP/1.1 200 OK\\r\\n`` (a generic reason for codes Python does not know)."""
    line = STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status} Status\r\n"


def response_head(
    status: int,
    content_type: str | None,
    headers: list[tuple[str, str]] | None,
    length: int | None,
    keep_alive: bool,
) -> bytes:
    """The status line and headers of a response; ``length`` None means ``transfer-encoding: chunked``."""
    parts = [status_line(status)]
    lines = 2  # the status line and the blank line
    if content_type is not None:
        parts.append(f"content-type: {content_type}\r\n")
        lines += 1
    if headers:
        for name, value in headers:
            parts.append(f"{name}: {value}\r\n")
        lines += len(headers)
    if length is None:
        parts.append("transfer-encoding: chunked\r\n")
    else:
        parts.append(f"content-length: {length}\r\n")
    if not keep_alive:
        parts.append("connection: close\r\n")
        lines += 1
    parts.append("\r\n")
    head = "".join(parts)
    # one count over the joined text instead of a check per header: a stray \n means a split response
    if head.count("\n") != lines + 1 or head.count("\r") != lines + 1:
        raise HeaderInjection("a response header contains a line break")
    return head.encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def json_error(status: int, code: str, message: str) -> tuple[str, bytes]:
    """The server's default error body (content type, bytes) when an application supplies none."""
    return "application/json", orjson.dumps({"error": code, "message": message})
