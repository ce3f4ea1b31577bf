"""A lean HTTP/1.1 server protocol for asyncio, built on the ``httptools`` parser.

It does only what a model server needs, on the shortest path: keep-alive, pipelining,
``Content-Length`` and chunked request bodies, ``Expect: 100-continue``, a request-size limit
enforced before the body is stored, and chunked streaming responses with back-pressure. The
application is a plain object whose ``handle(request)`` returns a :class:`Response` synchronously;
a streamed body (an iterator) is pulled chunk by chunk in a thread so the event loop stays free,
and stops when the client goes away.
"""

from __future__ import annotations

import asyncio
import collections
import http
import logging
from typing import Any, Callable, Iterator, Protocol

import httptools

logger = logging.getLogger("modelport.runtime.http")

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("latin-1") for s in http.HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_END = object()
_DISCARD_FACTOR = 4  # read at most this many times the limit of an oversized body before hanging up


class Request:
    """One parsed request. ``headers`` maps lower-case names to values (the last one wins)."""

    __slots__ = ("method", "path", "query", "headers", "body")

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body


class Response:
    """A response: status, body (bytes, or an iterator of bytes to stream) and headers."""

    __slots__ = ("status", "body", "content_type", "headers", "close")

    def __init__(
        self,
        status: int,
        body: bytes | Iterator[bytes],
        content_type: str = "application/json",
        headers: list[tuple[str, str]] | None = None,
        close: bool = False,
    ):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.close = close


class App(Protocol):
    """What the server needs from an application."""

    max_body_bytes: int

    def handle(self, request: Request) -> Response: ...

    def error(self, status: int, code: str, message: str) -> Response: ...


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    return line if line is not None else f"HTTP/1.1 {status} Status\r\n".encode("latin-1")


def _head(response: Response, length: int | None, keep_alive: bool) -> bytes:
    parts = [_status_line(response.status), b"content-type: ", response.content_type.encode("latin-1"), b"\r\n"]
    if length is None:
        parts.append(b"transfer-encoding: chunked\r\n")
    else:
        parts += (b"content-length: ", str(length).encode(), b"\r\n")
    if response.headers:
        for name, value in response.headers:
            parts += (name.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class HttpProtocol(asyncio.Protocol):
    """One connection. Requests on it are answered in order."""

    def __init__(self, app: App, on_close: Callable[[], None] | None = None):
        self.app = app
        self.on_close = on_close
        self.max_body = app.max_body_bytes
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.closed = False
        self.streaming = False
        self.pending: collections.deque[tuple[Request, bool]] = collections.deque()
        self._writable: asyncio.Event | None = None
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_size = 0
        self.oversized = False

    # --- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.on_close is not None:
            self.on_close()
        if self._writable is not None:
            self._writable.set()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.Event()
        self._writable.clear()

    def resume_writing(self) -> None:
        if self._writable is not None:
            self._writable.set()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reply_and_close(self.app.error(400, "BadRequest", "Protocol upgrades are not supported."))
        except httptools.HttpParserError as exc:
            self._reply_and_close(self.app.error(400, "BadRequest", f"Malformed HTTP request: {exc}"))

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        length = self.headers.get("content-length")
        expects_continue = self.headers.get("expect", "").lower() == "100-continue"
        if length is not None and length.isdigit() and int(length) > self.max_body:
            self.oversized = True
            if expects_continue or int(length) > self.max_body * _DISCARD_FACTOR:
                self._reply_and_close(self._too_large())
            return
        if expects_continue and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.oversized:
            if self.body_size > self.max_body * _DISCARD_FACTOR:
                self._reply_and_close(self._too_large())
            return
        if self.body_size > self.max_body:
            self.oversized = True  # chunked body that grew past the limit: discard the rest
            self.body.clear()
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:
            return
        keep_alive = self.parser.should_keep_alive()
        if self.oversized:
            self._reply_and_close(self._too_large())
            return
        path, _, query = self.url.decode("latin-1").partition("?")
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        request = Request(self.parser.get_method().decode("latin-1"), path, query, self.headers, body)
        if self.streaming or self.pending:
            self.pending.append((request, keep_alive))
            return
        self._dispatch(request, keep_alive)

    # --- responses ----------------------------------------------------------------------------

    def _too_large(self) -> Response:
        limit_mb = self.max_body / (1024 * 1024)
        return self.app.error(
            413, "PayloadTooLarge", f"The request body is larger than the {limit_mb:g} MB limit (SAGEMAKER_MAX_PAYLOAD_IN_MB)."
        )

    def _dispatch(self, request: Request, keep_alive: bool) -> None:
        response = self.app.handle(request)
        keep_alive = keep_alive and not response.close
        if isinstance(response.body, bytes):
            self._write(response, keep_alive)
        else:
            self.streaming = True
            self.transport.pause_reading()
            asyncio.get_running_loop().create_task(self._stream(response, keep_alive))

    def _write(self, response: Response, keep_alive: bool) -> None:
        body = response.body
        head = _head(response, len(body), keep_alive)
        if len(body) < 65536:
            self.transport.write(head + body)
        else:
            self.transport.writelines((head, body))
        if not keep_alive:
            self.closed = True
            self.transport.close()

    def _reply_and_close(self, response: Response) -> None:
        if self.closed or self.transport is None:
            return
        self._write(response, keep_alive=False)

    async def _stream(self, response: Response, keep_alive: bool) -> None:
        iterator = response.body
        loop = asyncio.get_running_loop()
        self.transport.write(_head(response, None, keep_alive))
        finished = False
        try:
            while not self.closed:
                chunk = await loop.run_in_executor(None, next, iterator, _END)
                if chunk is _END:
                    finished = True
                    break
                if self.closed:
                    break
                if chunk:
                    self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    if self._writable is not None and not self._writable.is_set():
                        await self._writable.wait()
        except Exception:  # noqa: BLE001 - the status is already sent; cut the stream short
            logger.exception("Streaming the response failed")
        finally:
            if not finished:
                close = getattr(iterator, "close", None)
                if close is not None:
                    await loop.run_in_executor(None, close)
        self.streaming = False
        if self.closed:
            return
        if not finished:
            self.closed = True
            self.transport.close()  # an unterminated chunked body tells the client it was cut short
            return
        self.transport.write(b"0\r\n\r\n")
        if not keep_alive:
            self.closed = True
            self.transport.close()
            return
        self.transport.resume_reading()
        while self.pending and not self.streaming and not self.closed:
            request, keep = self.pending.popleft()
            self._dispatch(request, keep)


async def start_server(app: App, sock: Any) -> asyncio.AbstractServer:
    """Serve ``app`` on an already bound, listening socket."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HttpProtocol(app), sock=sock, backlog=2048)
