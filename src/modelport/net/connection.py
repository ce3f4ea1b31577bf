"""One client connection: the httptools parser with every limit, the read-side timeouts, flow control,
bounded pipelining and the lingering close. What a request is handed to (a ``handle(request)``
application or an ASGI app) is up to the subclasses in ``handler.py`` and ``asgi.py``.

Limits are enforced as bytes arrive, before anything is stored: the request line (414), the header
count and the head size (431; also a single header line that never ends), and the body (413, from
``Content-Length`` before any of it is read, or as a chunked body grows). An early refusal is answered
once the responses before it are out, then the connection half-closes and keeps reading and discarding
for a bounded time and byte count before closing ("lingering close", as nginx), so a client still
sending its body reads the answer instead of a reset.

The server's sweeper (``server.py``) calls :meth:`HttpConnection.expired` about once a second; the
deadlines come from the connection's read phase, so the hot path only records a phase and a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools

from modelport.net import wire
from modelport.net.messages import BodyTooLarge, Response

if TYPE_CHECKING:
    from modelport.net.server import HttpServer

log = logging.getLogger("modelport.net")

# Read-side phases: what the connection waits for from the client (each has its own deadline).
NEW, IDLE, HEAD, BODY, WAIT, LINGER = range(6)
# Why reading is paused (bits): reading resumes when no reason is left.
PAUSE_PIPELINE, PAUSE_WRITE, PAUSE_BODY, PAUSE_REFUSAL = 1, 2, 4, 8

BODY_HIGH_WATER = 256 * 1024  # a streamed body buffered beyond this stops reading until the app catches up
BODY_LOW_WATER = 64 * 1024
FEED_SLICE = 4096  # parsing step inside a head in pieces or a chunked body (bounds pipelined requests per step)
COPY_LIMIT = 64 * 1024  # bodies below this are copied into the head's write; larger ones go by writelines


class Refusal(Exception):
    """Raised inside a parser callback to stop parsing and answer ``status`` (431, 414, 413, ...).

    ``request`` is the request refused, when its head was read (a body too large or too slow): the
    application's error hook may shape the answer by it.
    """

    def __init__(self, status_code: tuple[int, str], message: str, request: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.request = request


class StopParsing(Exception):
    """Raised inside a parser callback to stop parsing quietly (the connection is closing or draining)."""


class HttpConnection(asyncio.Protocol):
    """Parsing, limits, timeouts and closing shared by every kind of application connection."""

    header_store: type = list  # raw (name, value) pairs; handler.py keeps a dict instead

    def __init__(self, server: "HttpServer") -> None:
        self.server = server
        self.loop = server.loop
        limits = server.limits
        self.max_url = limits.max_url_bytes
        self.max_head = limits.max_header_bytes
        self.max_headers = limits.max_headers
        self.max_pipelined = limits.max_pipelined
        self.transport: asyncio.Transport | None = None
        self.client: tuple | None = None  # the peer's (host, port), from the socket
        self.client_host: str | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.phase = NEW
        self.since = 0.0
        self.closed = False
        self.busy = False  # a response is being produced or written
        self.pending: deque = deque()  # requests read while busy, answered in order
        self.pause_mask = 0
        self.write_paused_since = 0.0
        self.writable: asyncio.Event | None = None
        self.parser_dead = False  # after a refusal or an overflow nothing more is parsed
        self.peer_closed = False
        self.deferred_refusal: Refusal | None = None
        self.linger_left = 0
        # the current request's head
        self.in_head = False
        self.head_seq = 0
        self.head_spill = 0
        self.url = b""
        self.headers = self.header_store()  # the current request's headers, as the subclass keeps them
        self.header_count = 0
        self.head_bytes = 0
        self.body_length = 0  # from Content-Length (0: none or chunked)
        self.body_received = 0
        self.unfed = b""  # bytes read but not parsed while the pipeline queue was full
        self.whole_reads = False  # parse a read in one step when idle (inline handlers: nothing can queue)
        self.feeding_whole = False

    # --- asyncio callbacks --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.since = time.monotonic()
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):  # (a Unix socket's peer is a path, or empty)
            self.client = (peer[0], peer[1])
            self.client_host = peer[0]
        self.server.connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connection_closed(self)
        if self.writable is not None:
            self.writable.set()
        self.lost()

    def eof_received(self) -> bool | None:
        self.peer_closed = True
        if self.phase != LINGER and (self.busy or self.pending):
            return True  # half-closed after sending: answer what was asked, then close
        return None

    def pause_writing(self) -> None:
        self.write_paused_since = time.monotonic()
        if self.writable is None:
            self.writable = asyncio.Event()
        self.writable.clear()
        self.pause_reading(PAUSE_WRITE)  # a client that does not read its answers gets no more read

    def resume_writing(self) -> None:
        self.write_paused_since = 0.0
        if self.writable is not None:
            self.writable.set()
        self.resume_reading(PAUSE_WRITE)

    def data_received(self, data: bytes) -> None:
        if self.parser_dead:
            self._discard(len(data))
            return
        if self.unfed:
            data = self.unfed + data
            self.unfed = b""
        # Fed in steps of at most one request head or one known-length body, so that a read holding
        # many pipelined requests stops (and reading pauses) once the queue is full, without losing
        # the rest; one request in one read costs one or two steps.
        feed = self.parser.feed_data
        view = None
        start, end = 0, len(data)
        try:
            if self.whole_reads and not self.busy and not self.pending:
                # A handler called inline answers each request while it is parsed: nothing queues unless
                # a streamed answer starts mid-read (then the queue is bounded by closing, see handler.py).
                seq, was_in_head = self.head_seq, self.in_head
                self.feeding_whole = True
                feed(data)
                self.feeding_whole = False
                if was_in_head and self.in_head and seq == self.head_seq:
                    self._head_spilled(end)
                return
            while start < end:
                if self.pending and len(self.pending) >= self.max_pipelined:
                    self.unfed = data[start:]
                    self.pause_reading(PAUSE_PIPELINE)
                    return
                if self.phase == BODY and self.body_length > self.body_received:
                    stop = start + self.body_length - self.body_received
                elif self.in_head or self.phase == BODY:  # a head in pieces, or a chunked body
                    stop = start + FEED_SLICE
                else:  # a new request: its head first (then its body length is known)
                    head_end = data.find(b"\r\n\r\n", start)
                    stop = head_end + 4 if head_end >= 0 else end
                if start == 0 and stop >= end:
                    step = data
                else:
                    if view is None:
                        view = memoryview(data)
                    step = view[start:stop]
                seq = self.head_seq
                was_in_head = self.in_head
                feed(step)
                if self.parser_dead:
                    self._discard(end - stop)
                    return
                if was_in_head and self.in_head and seq == self.head_seq and self._head_spilled(stop - start):
                    return
                start = stop
        except httptools.HttpParserCallbackError as exc:
            self.feeding_whole = False
            cause = exc.__context__
            if isinstance(cause, Refusal):
                self.refuse(cause)
            elif isinstance(cause, StopParsing):
                self.parser_dead = True
            else:
                log.error("HTTP parser callback failed", exc_info=cause)
                self.refuse(Refusal(wire.INTERNAL_ERROR, "The server failed while reading the request."))
        except httptools.HttpParserUpgrade:
            self.feeding_whole = False
            self.refuse(Refusal(wire.BAD_REQUEST, "Protocol upgrades (WebSocket, h2c) are not supported."))
        except httptools.HttpParserError as exc:
            self.feeding_whole = False
            self.refuse(Refusal(wire.BAD_REQUEST, f"Malformed HTTP request: {exc}"))

    def _head_spilled(self, size: int) -> bool:
        """A step that began and ended inside the same head was all head bytes, though httptools buffers an
        unfinished header line without calling back: count them, and refuse past the cap (True)."""
        self.head_spill += size
        if self.head_spill > self.max_head:
            self.refuse(self.head_too_large())
            return True
        return False

    def _replay(self) -> None:
        """Parse what was held back while the pipeline queue was full."""
        if self.unfed and not self.pause_mask and not self.closed:
            self.data_received(b"")

    # --- httptools callbacks (subclasses add on_headers_complete, on_body, on_message_complete) --

    def on_message_begin(self) -> None:
        if self.closed:
            raise StopParsing()
        if self.phase != NEW:
            self.since = 0.0  # stamped by the sweeper when it first sees this phase (no clock read per request)
        self.phase = HEAD
        self.in_head = True
        self.head_seq += 1
        self.head_spill = 0
        self.url = b""
        self.headers = self.header_store()
        self.header_count = 0
        self.head_bytes = 0
        self.body_length = 0
        self.body_received = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > self.max_url:
            raise Refusal(wire.URI_TOO_LONG, f"The request target is longer than {self.max_url} bytes "
                                             "(MODELPORT_HTTP_MAX_URL_BYTES); send large inputs in the body.")

    def on_header(self, name: bytes, value: bytes) -> None:
        raw = self.headers
        size = self.head_bytes + len(name) + len(value) + 4
        self.head_bytes = size
        if size > self.max_head or len(raw) >= self.max_headers:
            raise self.head_too_large()
        raw.append((name, value))

    def head_too_large(self) -> Refusal:
        """The 431 refusal."""
        return Refusal(wire.HEADERS_TOO_LARGE, f"The request head is too large: at most {self.max_headers} header "
                       f"lines (MODELPORT_HTTP_MAX_HEADERS) and {self.max_head} bytes (MODELPORT_HTTP_MAX_HEADER_BYTES).")

    def head_complete(self, has_body: bool, length: int) -> None:
        """Called by a subclass when the head is parsed (``length``: Content-Length, 0 if none or chunked)."""
        self.in_head = False
        self.body_length = length
        # the body's time counts from the head's start (a head takes no time unless the client is slow)
        self.phase = BODY if has_body else WAIT

    def body_too_large(self, limit: int, request: Any = None) -> Refusal:
        """The 413 refusal for a body over ``limit`` bytes (of ``request``, when known)."""
        return Refusal(wire.PAYLOAD_TOO_LARGE, BodyTooLarge(limit).message, request)

    # --- what subclasses implement ----------------------------------------------------------

    def lost(self) -> None:
        """The connection is gone (wake whatever waits on it)."""

    def refuse_current(self, refusal: Refusal) -> bool:
        """The refused bytes belong to a request the application already has (its body was streaming):
        tell it; return True when the application answers it, False to have the refusal sent."""
        return False

    def body_request(self) -> Any:
        """The request whose body is being read (for the error hook), if the subclass keeps one."""
        return None

    # --- reading: pause reasons ----------------------------------------------------------------

    def pause_reading(self, reason: int) -> None:
        """Stop reading for ``reason`` (a PAUSE_* bit) until :meth:`resume_reading` clears it."""
        if self.phase == LINGER or self.transport.is_closing():
            return
        if not self.pause_mask:
            self.transport.pause_reading()
        self.pause_mask |= reason

    def resume_reading(self, reason: int) -> None:
        """Clear ``reason``; reading resumes when no reason is left (with fresh time for the deadline)."""
        if not self.pause_mask & reason:
            return
        self.pause_mask &= ~reason
        if not self.pause_mask and not self.transport.is_closing():
            self.since = 0.0  # a fresh deadline from the next sweep
            self.transport.resume_reading()
            if self.unfed:
                self.loop.call_soon(self._replay)

    # --- refusing and closing ------------------------------------------------------------------

    def refuse(self, refusal: Refusal) -> None:
        """Answer a request the server will not read (after the responses before it), then linger."""
        self.parser_dead = True
        if self.refuse_current(refusal):
            return
        if refusal.request is None and self.phase == BODY:
            refusal.request = self.body_request()  # e.g. a malformed chunk in a body being read
        if self.busy or self.pending:
            self.deferred_refusal = refusal
            self.pause_reading(PAUSE_REFUSAL)
            return
        self.write_error(refusal.status_code, refusal.message, refusal.request)
        self.linger()

    def write_error(self, status_code: tuple[int, str], message: str, request: Any = None) -> None:
        """Write the application's error response for ``status_code`` with ``connection: close``.

        The response's own status wins (an application may answer a refusal in its protocol's terms,
        e.g. S3's EntityTooLarge is a 400).
        """
        if self.closed:
            return
        status, code = status_code
        try:
            response = self.server.error(status, code, message, request)
            head = wire.response_head(response.status, response.content_type, response.headers, len(response.body),
                                      False)
        except Exception:  # noqa: BLE001 - the error hook itself failed: still answer in JSON
            log.exception("the application's error hook failed")
            content_type, body = wire.json_error(status, code, message)
            response = Response(status, None, body, content_type=content_type)
            head = wire.response_head(status, content_type, None, len(body), False)
        self.transport.write(head + response.body)

    def linger(self) -> None:
        """Half-close, then read and discard (bounded in time and bytes) until the client closes."""
        limits = self.server.limits
        if self.closed:
            return
        if limits.linger_timeout <= 0 or limits.linger_bytes <= 0:
            self.closed = True
            self.transport.close()
            return
        self.parser_dead = True
        self.closed = True  # no more answers on this connection
        self.phase = LINGER
        self.since = time.monotonic()
        self.linger_left = limits.linger_bytes
        if self.pause_mask:
            self.pause_mask = 0
            self.transport.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()  # after what is buffered: the client sees the answer, then EOF

    def _discard(self, size: int) -> None:
        self.linger_left -= size
        if self.phase == LINGER and self.linger_left < 0:
            self.transport.close()

    def finish_response(self, keep_alive: bool) -> bool:
        """After a response was written: close or linger when it was the last one, else go idle.

        Returns whether the connection stays open for more requests.
        """
        if keep_alive and not self.closed and not self.peer_closed and not self.parser_dead:
            return True
        if self.closed:
            return False
        if not keep_alive or ((self.peer_closed or self.parser_dead) and not self.pending
                              and self.deferred_refusal is None):
            if self.phase in (HEAD, BODY) or self.parser_dead:
                self.linger()  # the client may still be sending: let it finish so it reads the answer
            else:
                self.closed = True
                self.transport.close()
            return False
        return True

    def became_idle(self) -> None:
        """Nothing is in progress or queued: send a deferred refusal, resume reading, start the idle clock."""
        if self.closed:
            return
        if self.deferred_refusal is not None:
            refusal, self.deferred_refusal = self.deferred_refusal, None
            self.pause_mask = 0
            self.write_error(refusal.status_code, refusal.message, refusal.request)
            self.linger()
            return
        if self.pause_mask & PAUSE_PIPELINE:
            self.resume_reading(PAUSE_PIPELINE)
        if self.phase == WAIT:
            self.phase = IDLE
            self.since = 0.0

    async def drain(self) -> None:
        """Wait until the client has read enough of what was written (back-pressure)."""
        writable = self.writable
        if writable is not None and not writable.is_set() and not self.closed:
            await writable.wait()

    # --- timeouts (called by the server's sweeper) ------------------------------------------------

    def expired(self, now: float) -> bool:
        """Whether this connection has outlived the deadline of what it waits for; if so, end it."""
        limits = self.server.limits
        if self.write_paused_since and now - self.write_paused_since > limits.write_timeout:
            self.transport.abort()  # the client stopped reading its answer
            return True
        if self.pause_mask:
            return False
        phase = self.phase
        if phase == NEW or phase == HEAD:
            limit = limits.header_timeout
        elif phase == IDLE:
            limit = limits.keepalive_timeout
        elif phase == BODY:
            limit = limits.body_timeout + self.body_received / limits.min_body_rate
        elif phase == LINGER:
            limit = limits.linger_timeout
        else:
            return False
        if not self.since:
            self.since = now  # first seen in this phase: its deadline runs from here (within one sweep)
            return False
        if now - self.since <= limit:
            return False
        if phase in (HEAD, BODY) and not self.busy and not self.pending:
            what = "head" if phase == HEAD else "body"
            self.write_error(wire.REQUEST_TIMEOUT, f"The request {what} did not arrive in time "
                                                   f"(MODELPORT_HTTP_{what.upper()}_TIMEOUT).",
                             self.body_request() if phase == BODY else None)
        self.closed = True
        self.transport.close()
        return True


def content_length(value: Any) -> int:
    """A Content-Length value as an int (httptools has already refused invalid ones)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
