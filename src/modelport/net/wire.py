"""HTTP/1.1 bytes on the wire: status lines, response heads, chunk framing, the server's own error bodies."""

from __future__ import annotations

import http

import orjson

STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in http.HTTPStatus}
STATUS_LINES_BYTES = {code: line.encode("latin-1") for code, line in STATUS_LINES.items()}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_CHUNK = b"0\r\n\r\n"
DECLARED = -1  # response_head's length when the application's headers carry the Content-Length

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


_PREFIXES: dict[tuple[int, str | None], bytes] = {}  # status line + content-type, built once each
_MAX_PREFIXES = 256  # content types come from user code: cache only so many


def _check_lines(text: str, lines: int) -> None:
    # one count over the text instead of a check per header: a stray \r or \n would split the response
    if text.count("\n") != lines or text.count("\r") != lines:
        raise HeaderInjection("a response header contains a line break")


def _prefix(status: int, content_type: str | None) -> bytes:
    key = (status, content_type)
    prefix = _PREFIXES.get(key)
    if prefix is None:
        text = status_line(status)
        if content_type is not None:
            text += f"content-type: {content_type}\r\n"
        _check_lines(text, 1 if content_type is None else 2)
        prefix = text.encode("latin-1")
        if len(_PREFIXES) < _MAX_PREFIXES:
            _PREFIXES[key] = prefix
    return prefix


def response_head(
    status: int,
    content_type: str | None,
    headers: list[tuple[str, str]] | None,
    length: int | None,
    keep_alive: bool,
) -> bytes:
    """The status line and headers of a response: ``content-length: length``, or ``transfer-encoding: chunked``
    when ``length`` is None, or neither when it is :data:`DECLARED` (``headers`` hold the Content-Length)."""
    head = _PREFIXES.get((status, content_type)) or _prefix(status, content_type)
    if headers:
        text = "".join([f"{name}: {value}\r\n" for name, value in headers])
        _check_lines(text, len(headers))
        head += text.encode("latin-1")
    if length is None:
        head += b"transfer-encoding: chunked\r\n"
    elif length >= 0:
        head += b"content-length: %d\r\n" % length
    return head + (b"\r\n" if keep_alive else b"connection: close\r\n\r\n")


def declared_length(headers: list[tuple[str, str]] | None) -> int | None:
    """The Content-Length an application set in its own headers, or None; ValueError when it is not a length."""
    for name, value in headers or ():
        if name.lower() == "content-length":
            length = int(value)
            if length < 0:
                raise ValueError(f"negative Content-Length {value!r}")
            return length
    return None


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def json_error(status: int, code: str, message: str) -> tuple[str, bytes]:
    """The server's default error body (content type, bytes) when an application supplies none."""
    return "application/json", orjson.dumps({"error": code, "message": message})
