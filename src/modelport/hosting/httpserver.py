"""A lean asyncio HTTP/1.1 server (httptools parser) for the hosting APIs.

Hosting forwards bytes; a framework would add per-request layers it does not need. This server
parses a request, hands a :class:`Request` to one async handler and writes its :class:`Response`
(a whole body with ``Content-Length``, or an async iterator sent with chunked encoding). Keep-alive
and pipelined requests are served in order on each connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httptools

from modelport.net.busypoll import BusyPoll

log = logging.getLogger(__name__)

_REASONS = {
    200: b"OK", 202: b"Accepted", 204: b"No Content", 400: b"Bad Request", 404: b"Not Found",
    405: b"Method Not Allowed", 413: b"Payload Too Large", 424: b"Failed Dependency",
    429: b"Too Many Requests", 500: b"Internal Server Error", 503: b"Service Unavailable",
}
# Bodies above this are not kept: the handler sees ``too_large`` and answers with an error.
DEFAULT_MAX_BODY = 6 * 1024 * 1024
_COPY_LIMIT = 64 * 1024


@dataclass(slots=True)
class Request:
    """One parsed request; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    too_large: bool = False


@dataclass(slots=True)
class Response:
    """A response: ``body`` bytes, or ``stream`` (an async iterator of chunks) sent chunked.

    ``on_done`` is called once the response was written or abandoned (client gone), whatever happened.
    """

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    on_done: Callable[[], None] | None = None


Handler = Callable[[Request], Awaitable[Response]]


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


class _Connection(asyncio.Protocol):
    """One client connection: parse requests, run the handler, write responses in order."""

    def __init__(self, handler: Handler, max_body: int, connections: set, busy_poll: BusyPoll | None = None) -> None:
        self._handler = handler
        self._max_body = max_body
        self._connections = connections
        self._busy_poll = busy_poll
        # asyncio.get_running_loop() costs a getpid() system call: look the loop up once per connection
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body = bytearray()
        self._too_large = False
        self._pending: deque[tuple[Request, bool]] = deque()
        self._busy = False
        self._closing = False
        self._can_write = asyncio.Event()
        self._can_write.set()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._closing = True
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._write_simple(400, b"upgrade not supported")
            self.close()
        except httptools.HttpParserError:
            self._write_simple(400, b"malformed HTTP request")
            self.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = bytearray()
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self._headers.get(key)
        self._headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        # curl and other clients wait (up to 1 s) for this before sending a larger body
        if self._headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        if len(self._body) + len(body) > self._max_body:
            self._too_large = True
            self._body = bytearray()
            return
        self._body += body

    def on_message_complete(self) -> None:
        url = self._url.decode("latin-1")
        path, _, query = url.partition("?")
        request = Request(
            self._parser.get_method().decode("ascii"), path, query, self._headers, bytes(self._body), self._too_large
        )
        self._pending.append((request, self._parser.should_keep_alive()))
        if not self._busy:
            self._busy = True
            self._loop.create_task(self._serve_pending())

    # serving
    async def _serve_pending(self) -> None:
        try:
            while self._pending and not self._closing:
                request, keep_alive = self._pending.popleft()
                try:
                    response = await self._handler(request)
                except Exception:  # the handler should answer every error itself; this is the last net
                    log.exception("hosting handler failed on %s %s", request.method, request.path)
                    response = Response(500, [("Content-Type", "application/json")],
                                        b'{"__type":"InternalFailure","message":"internal error in modelport hosting"}')
                try:
                    await self._write(response, keep_alive, request.method == "HEAD")
                finally:
                    if response.on_done is not None:
                        response.on_done()
                if self._busy_poll is not None:
                    self._busy_poll.kick()
                if not keep_alive:
                    self.close()
        finally:
            self._busy = False

    def _head(self, status: int, headers: list[tuple[str, str]], extra: bytes) -> bytearray:
        out = bytearray(b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Status")))
        for name, value in headers:
            out += f"{name}: {value}\r\n".encode("latin-1")
        out += extra
        return out

    async def _write(self, response: Response, keep_alive: bool, head_only: bool = False) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        conn = b"" if keep_alive else b"Connection: close\r\n"
        # S3 (HEAD of an object, GET of a large one) needs a Content-Length set by the handler: a HEAD
        # answer carries it without a body, and a stream with it is sent as is, not chunked.
        declared = any(name.lower() == "content-length" for name, _ in response.headers)
        if head_only or (declared and response.stream is not None):
            length = b"" if declared else b"Content-Length: %d\r\n" % len(response.body)
            transport.write(self._head(response.status, response.headers, length + conn + b"\r\n"))
            aclose = getattr(response.stream, "aclose", None)
            try:
                async for chunk in (response.stream if not head_only and response.stream else _nothing()):
                    if self._closing:
                        break
                    transport.write(chunk)
                    if not self._can_write.is_set():
                        await self._can_write.wait()
            except Exception:  # the promised length cannot be met: end the connection, not the client's wait
                log.exception("hosting stream failed after its head was sent")
                self.close()
            finally:
                if aclose is not None:
                    await aclose()
            return
        if response.stream is None:
            head = self._head(response.status, response.headers,
                              b"Content-Length: %d\r\n%s\r\n" % (len(response.body), conn))
            if len(response.body) > _COPY_LIMIT:  # large bodies: two writes beat copying megabytes
                transport.writelines((head, response.body))
            else:
                head += response.body
                transport.write(head)
            return
        transport.write(self._head(response.status, response.headers,
                                   b"Transfer-Encoding: chunked\r\n%s\r\n" % conn))
        try:
            async for chunk in response.stream:
                if self._closing:
                    break
                if chunk:
                    transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    if not self._can_write.is_set():
                        await self._can_write.wait()
        finally:
            aclose = getattr(response.stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if not self._closing:
            transport.write(b"0\r\n\r\n")

    def _write_simple(self, status: int, message: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._head(status, [("Content-Type", "text/plain")],
                                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(message)) + message)

    def close(self) -> None:
        """Close the connection (after what was written is flushed)."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()


class HttpServer:
    """Serve ``handler`` on ``host:port`` until :meth:`close`."""

    def __init__(self, handler: Handler, max_body: int = DEFAULT_MAX_BODY, busy_poll_seconds: float = 0.0) -> None:
        self._handler = handler
        self._max_body = max_body
        self._busy_poll_seconds = busy_poll_seconds
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Connection] = set()

    async def start(self, host: str, port: int) -> int:
        """Start listening; return the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        busy_poll = BusyPoll(loop, self._busy_poll_seconds) if self._busy_poll_seconds > 0 else None
        self._server = await loop.create_server(
            lambda: _Connection(self._handler, self._max_body, self._connections, busy_poll), host, port, reuse_address=True
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                conn.close()
            await self._server.wait_closed()
            self._server = None
