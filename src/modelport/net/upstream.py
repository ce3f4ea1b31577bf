"""Pooled keep-alive HTTP/1.1 connections to one server: hosting's to each runtime instance, and the
gateway's HTTP transport to hosting (gateway/transports/http_transport.py).

A request's body bytes are written as received and the response bytes are read back as they
come: nothing is re-encoded. Idle connections are kept for the next request, so the common case
costs one write and one read on an open socket.

A failure says whether the request may have reached the server (``UpstreamError.sent``): a
connection that could not be opened, or a pooled one found closed before anything was written,
never carried the request, so it can be retried anywhere; a request written on a connection that
then died may have run (and may have killed the server), so it must not be sent again. Pooled
connections are therefore checked before reuse, and retired before the server's keep-alive idle
timeout can close them under a request.

A body may also be streamed (:class:`StreamedBody`: a length and chunks, written as they come with the
socket's flow control), and a streamed response is read with flow control too (reading pauses while
:data:`PAUSE_CHUNKS` chunks wait), so neither a large request nor a large answer is held in memory whole.
"""

from __future__ import annotations

import asyncio
import select
from collections import deque
from collections.abc import AsyncIterator

import httptools

# Pooled connections idle longer than this are closed instead of reused. modelport's own servers close
# idle keep-alive connections after MODELPORT_HTTP_KEEPALIVE_TIMEOUT (15 s by default, net/limits.py), so
# a connection can reach that age just as the server closes it: reuse first checks it for a hang-up
# (stale()) and a request on a connection found closed before anything was written is retried.
MAX_IDLE_SECONDS = 15.0
PAUSE_CHUNKS = 64  # a streamed response's chunks read ahead of its consumer before reading pauses
RESUME_CHUNKS = 16  # and below which reading resumes
_CLOSED_EVENTS = select.POLLIN | select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)


class UpstreamError(ConnectionError):
    """The instance could not be reached, or the connection died before a whole answer came back.

    ``sent`` says whether the request was written to a connection (it may have run: never resend
    it); ``answered`` whether a response had started. A request with ``sent`` False may be retried
    on another instance.
    """

    def __init__(self, message: str, answered: bool = False, sent: bool = True) -> None:
        super().__init__(message)
        self.answered = answered
        self.sent = sent or answered


class StreamedBody:
    """A request body sent as it is read: ``length`` bytes from the async iterator ``chunks``."""

    __slots__ = ("length", "chunks")

    def __init__(self, length: int, chunks: AsyncIterator[bytes]) -> None:
        self.length = length
        self.chunks = chunks


class UpstreamResponse:
    """Status, headers (lower-case names) and either the whole body or a chunk iterator."""

    __slots__ = ("status", "headers", "body", "_conn")

    def __init__(self, status: int, headers: dict[str, str], body: bytes, conn: "_UpstreamConnection | None") -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._conn = conn

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (streaming responses only)."""
        conn = self._conn
        if conn is None:
            if self.body:
                yield self.body
            return
        finished = False
        try:
            while True:
                chunk = await conn.chunks.get()
                if chunk is None:
                    finished = True
                    break
                if isinstance(chunk, Exception):
                    raise chunk
                if conn.reading_paused and conn.chunks.qsize() <= RESUME_CHUNKS and conn.transport is not None:
                    conn.reading_paused = False
                    conn.transport.resume_reading()
                yield chunk
        finally:
            if not finished and conn.transport is not None:
                # The client went away mid-stream: hang up on the instance too, so the model's
                # generator is closed instead of running to its end for nobody.
                conn.transport.close()


class _UpstreamConnection(asyncio.Protocol):
    """One socket to the instance, parsing one response at a time."""

    def __init__(self) -> None:
        # asyncio.get_running_loop() costs a getpid() system call: look the loop up once per connection
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.streaming = False
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.got_bytes = False
        self.headers_done: asyncio.Future | None = None
        self.done: asyncio.Future | None = None
        self.chunks: asyncio.Queue = asyncio.Queue()
        self.idle_since = 0.0
        self.reading_paused = False
        self.body_unsent = False  # a streamed body was cut short (the answer came first): never reuse
        self.writable = asyncio.Event()  # cleared while the socket's write buffer is full (StreamedBody)
        self.writable.set()
        self._poll: select.poll | None = None

    def begin(self, streaming: bool) -> None:
        """Prepare for the next response."""
        loop = self.loop
        self.streaming = streaming
        self.headers = {}
        self.body = bytearray()
        self.got_bytes = False
        self.body_unsent = False
        self.headers_done = loop.create_future() if streaming else None
        self.done = loop.create_future()
        if streaming:
            self.chunks = asyncio.Queue()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._poll = select.poll()
            self._poll.register(sock.fileno(), _CLOSED_EVENTS)

    def stale(self) -> bool:
        """Whether this idle connection can no longer carry a request: closed, or readable (an idle
        connection has nothing to read unless the server hung up; the loop may not have seen it yet)."""
        if self.closed:
            return True
        return bool(self._poll is not None and self._poll.poll(0))

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def eof_received(self) -> None:
        self.closed = True  # the server hung up: never reuse this connection (connection_lost follows)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"malformed response from the instance: {exc}", answered=True))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.writable.set()  # a body being written stops (it sees ``closed``)
        self._fail(UpstreamError("the instance closed the connection", answered=self.got_bytes))

    def _fail(self, exc: Exception) -> None:
        for fut in (self.headers_done, self.done):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
        if self.streaming and self.done is not None:
            self.chunks.put_nowait(exc)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_result(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        if self.streaming:
            self.chunks.put_nowait(body)
            if not self.reading_paused and self.chunks.qsize() >= PAUSE_CHUNKS:
                self.reading_paused = True
                self.transport.pause_reading()
        else:
            self.body += body

    def on_message_complete(self) -> None:
        if self.streaming:
            self.chunks.put_nowait(None)
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.should_keep_alive())


async def _write_body(conn: _UpstreamConnection, body: StreamedBody, waiting: asyncio.Future) -> None:
    """Write a streamed body as it is read, waiting while the socket's buffer is full; stop early when the
    answer (an early refusal), a timeout or a lost connection settled the exchange already."""
    written = 0
    async for chunk in body.chunks:
        if waiting.done():
            conn.body_unsent = True
            return
        if conn.closed:
            raise UpstreamError("the instance closed the connection while the request body was being sent")
        conn.transport.write(chunk)
        written += len(chunk)
        if not conn.writable.is_set():
            await conn.writable.wait()
    if written != body.length:
        conn.transport.close()
        raise UpstreamError(f"the request body had {written} bytes where {body.length} were announced")


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(asyncio.TimeoutError())


class UpstreamPool:
    """Keep-alive connections to one ``host:port``; at most ``max_idle`` kept open between requests."""

    def __init__(self, host: str, port: int, max_idle: int = 64, max_idle_seconds: float = MAX_IDLE_SECONDS) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.max_idle_seconds = max_idle_seconds
        self._idle: deque[_UpstreamConnection] = deque()
        self._host_header = f"Host: {host}:{port}\r\n".encode("latin-1")

    async def _connect(self) -> _UpstreamConnection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(_UpstreamConnection, self.host, self.port)
        except OSError as exc:
            raise UpstreamError(f"cannot connect to the instance at {self.host}:{self.port}: {exc}",
                                sent=False) from exc
        return conn

    def _release(self, conn: _UpstreamConnection, keep_alive: bool) -> None:
        idle = self._idle
        if keep_alive and not conn.closed and not conn.body_unsent:
            if len(idle) >= self.max_idle:  # make room: drop the ones the server closed
                self._idle = idle = deque(c for c in idle if not c.closed)
            if len(idle) < self.max_idle:
                conn.idle_since = conn.loop.time()
                idle.append(conn)
                return
        if conn.transport is not None:
            conn.transport.close()

    def _encode(self, method: str, path: str, headers: list[tuple[str, str]], body: "bytes | StreamedBody") -> bytes:
        head = bytearray(f"{method} {path} HTTP/1.1\r\n".encode("latin-1"))
        head += self._host_header
        for name, value in headers:
            head += f"{name}: {value}\r\n".encode("latin-1")
        if isinstance(body, StreamedBody):  # the head alone; the body follows as it is read
            head += b"Content-Length: %d\r\n\r\n" % body.length
            return bytes(head)
        head += b"Content-Length: %d\r\n\r\n" % len(body)
        head += body
        return bytes(head)

    async def request(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        body: "bytes | StreamedBody" = b"",
        *,
        stream: bool = False,
        timeout: float | None = None,
    ) -> UpstreamResponse:
        """Send one request; return the whole response, or (``stream=True``) its chunk iterator.

        Idle connections found closed (or idle too long) are dropped before anything is written and
        a fresh one is opened instead; a request written on a connection that then dies is not
        resent (:class:`UpstreamError` with ``sent`` True).
        """
        data = self._encode(method, path, headers or [], body)
        idle = self._idle
        while idle:
            # newest first: the connection released last belongs to a worker that just became free (and is
            # cache-warm); taking the oldest cycled requests over every worker and cost 20% at one client
            conn = idle.pop()
            if conn.stale() or conn.loop.time() - conn.idle_since > self.max_idle_seconds:
                if conn.transport is not None:
                    conn.transport.close()
                continue
            return await self._exchange(conn, data, stream, timeout, body)
        conn = await self._connect()
        return await self._exchange(conn, data, stream, timeout, body)

    async def _exchange(self, conn: _UpstreamConnection, data: bytes, stream: bool, timeout: float | None,
                        body: "bytes | StreamedBody" = b"") -> UpstreamResponse:
        conn.begin(stream)
        conn.transport.write(data)
        waiting = conn.headers_done if stream else conn.done
        # a timer that fails the one future we wait on (cheaper than asyncio.wait_for per request)
        timer = None
        if timeout is not None:
            timer = conn.loop.call_later(timeout, _expire, waiting)
        try:
            if isinstance(body, StreamedBody):
                await _write_body(conn, body, waiting)
            result = await waiting
        except BaseException:  # timeout, cancellation, lost connection, a broken body: this socket is done
            for future in (conn.headers_done, conn.done):  # nobody waits for them any more
                if future is not None and not future.done():
                    future.cancel()
            conn.transport.close()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if stream:
            response = UpstreamResponse(result, conn.headers, b"", conn)
            self._watch_stream(conn)
            return response
        keep_alive = result
        status = conn.parser.get_status_code()
        response = UpstreamResponse(status, conn.headers, bytes(conn.body), None)
        self._release(conn, keep_alive)
        return response

    def _watch_stream(self, conn: _UpstreamConnection) -> None:
        """Return a streaming connection to the pool once its response is complete."""

        def finished(fut: asyncio.Future) -> None:
            if fut.cancelled() or fut.exception() is not None:
                if conn.transport is not None:
                    conn.transport.close()
                return
            self._release(conn, fut.result())

        conn.done.add_done_callback(finished)

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is not None:
                conn.transport.close()


class LoopBoundPool:
    """An :class:`UpstreamPool` for the running event loop, for clients that outlive one loop.

    Connections belong to the loop that opened them; once that loop is closed (a new ``asyncio.run``, as
    in tests) the next :meth:`get` starts a fresh pool, and the closed loop's connections, which cannot
    even be closed any more, are dropped with their old pool.
    """

    def __init__(self, host: str, port: int, max_idle: int = 64) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self._pool: UpstreamPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> UpstreamPool:
        """The pool of the running loop (call from a coroutine)."""
        if self._loop is None or self._loop.is_closed():  # (get_running_loop() costs a getpid() call)
            self._pool = UpstreamPool(self.host, self.port, max_idle=self.max_idle)
            self._loop = asyncio.get_running_loop()
        return self._pool

    def close(self) -> None:
        """Close the idle connections."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            self._loop = None
