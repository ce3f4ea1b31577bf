"""ASGI 3 on modelport's HTTP server: the local gateway runs here, with the same limits as runtime and hosting.

``HttpServer(AsgiApp(app, error=...), connection=AsgiConnection)`` serves an ASGI application;
:func:`serve_asgi` adds the lifespan and a graceful stop. What the application sees:

- an ``http`` scope with every standard key (``asgi`` spec 2.3, ``http_version``, ``method``, ``scheme``,
  ``path`` (percent-decoded), ``raw_path``, ``query_string``, ``root_path``, ``headers`` (lower-case
  names, bytes), ``client`` (the socket's peer: no proxy header such as ``X-Forwarded-For`` or
  ``Forwarded`` is trusted, so a client cannot choose its address), ``server``, and ``state`` copied
  from the lifespan's when it has any);
- ``receive()``: ``http.request`` messages with ``more_body`` (the body as it arrives; reading from the
  client pauses while more than a few hundred kB wait unread), then, once the body is read, it waits
  and returns ``http.disconnect`` when the client goes away or the response is complete;
  ``100 Continue`` is sent on the first ``receive()``, so a request refused from its head never has
  its body sent;
- ``send()``: ``http.response.start`` then ``http.response.body`` messages with ``more_body``; the head
  waits for the first body message so a whole response leaves in one write (with ``content-length``
  when the application gave none); a streamed one goes chunked, with back-pressure (``send`` waits
  while the client is not reading); after a disconnect ``send`` does nothing;
- ``lifespan`` startup and shutdown (an application that does not support it is served without).

An application that answers before reading a body still arriving (a 413 from the head) gets
``connection: close`` and the lingering close, so the client reads the answer.

A direct lane (``AsgiApp(direct=...)``) lets an application answer its busiest routes without ASGI: the
hook sees each request's method, path and ``Content-Length`` once its head is read and may claim it;
a claimed request is read whole and handed to the hook's handler as a :class:`DirectRequest`, and the
handler's :class:`~modelport.net.messages.Response` is written in one go. No scope, no messages, no
middleware: the gateway's ``POST /predict`` and ``/invoke`` on this machine (``gateway/edge.py``).
Requests with a chunked body or ``Expect: 100-continue`` are never offered (they stay ASGI's).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import httptools

from modelport.net import wire
from modelport.net.asgi_types import ASGIApp, Message, Scope
from modelport.net.connection import (
    BODY_HIGH_WATER,
    COPY_LIMIT,
    PAUSE_BODY,
    PAUSE_PIPELINE,
    WAIT,
    HttpConnection,
    Refusal,
    content_length,
)
from modelport.net.messages import Response

log = logging.getLogger("modelport.net")

ASGI_VERSION = {"version": "3.0", "spec_version": "2.3"}
_NO_BODY_STATUSES = frozenset({204, 304})
_STATUS_LINES = wire.STATUS_LINES_BYTES


class DirectRequest:
    """A request on an application's direct lane: its head as an ASGI scope gives it, and the whole body.

    ``path`` is percent-decoded and ``query_string`` raw bytes; ``headers`` are ``(name, value)`` byte pairs
    with lower-case names, in the order received; ``client`` is the socket's peer ``(host, port)``.
    """

    __slots__ = ("method", "path", "query_string", "headers", "client", "body")

    def __init__(self, method: str, path: str, query_string: bytes, headers: list[tuple[bytes, bytes]],
                 client: tuple | None, body: bytes = b"") -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.client = client
        self.body = body


DirectHandler = Callable[[DirectRequest], Awaitable[Response]]
# direct(method, path, content_length) -> the handler of a request it claims, else None
DirectHook = Callable[[str, str, int], "DirectHandler | None"]


class AsgiApp:
    """An ASGI application, its error shape (for what the server refuses itself) and its optional direct lane.

    Body limits are the application's own: it refuses from the head (``content-length``) without
    calling ``receive()``, or stops reading a body that grows too large. ``direct`` (see the module's
    docstring) must only claim requests whose ``Content-Length`` it accepts: their body is read whole.
    """

    def __init__(self, app: ASGIApp, error: Callable[[int, str, str], Response] | None = None,
                 direct: DirectHook | None = None) -> None:
        self.app = app
        if error is not None:
            self.error = error
        self.direct = direct
        self.state: dict[str, Any] = {}  # filled by the lifespan


class AsgiHooks:
    """Looked up once per server."""

    def __init__(self, app: AsgiApp) -> None:
        self.app: ASGIApp = app.app
        self.state = app.state
        self.direct = app.direct


class _Waits:
    """A request's wait for its connection: more of the body, its end, or the client going away."""

    __slots__ = ("conn", "waiter")

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until the connection wakes this request (see :meth:`wake`)."""
        self.waiter = self.conn.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


class _Cycle(_Waits):
    """One request and its response, as the application sees them through receive() and send()."""

    __slots__ = ("scope", "body", "buffered", "more_body", "read_all", "expects_continue",
                 "keep_alive", "started", "head_sent", "complete", "disconnected", "status", "headers",
                 "chunked", "remaining", "head_only")
    high_water = BODY_HIGH_WATER  # buffered body bytes beyond which reading pauses until receive()

    def __init__(self, conn: "AsgiConnection", scope: Scope, keep_alive: bool, expects_continue: bool) -> None:
        self.conn = conn
        self.scope = scope
        self.body: list[bytes] = []
        self.buffered = 0
        self.more_body = True
        self.read_all = False  # the last http.request message was returned
        self.waiter: asyncio.Future | None = None
        self.expects_continue = expects_continue
        self.keep_alive = keep_alive
        self.started = False
        self.head_sent = False
        self.complete = False
        self.disconnected = False
        self.status = 200
        self.headers: Any = ()
        self.chunked = False
        self.remaining = -1  # bytes still due under the application's content-length (-1: none given)
        self.head_only = scope["method"] == "HEAD"

    # --- the ASGI interface -------------------------------------------------------------------

    async def receive(self) -> Message:
        conn = self.conn
        if self.expects_continue and not self.started and not conn.transport.is_closing():
            self.expects_continue = False
            conn.transport.write(wire.CONTINUE)
        if not self.read_all:
            while not self.body and self.more_body and not self.disconnected and not self.complete:
                await self.wait()
        else:
            while not self.disconnected and not self.complete:
                await self.wait()
        if self.disconnected or self.complete:
            return {"type": "http.disconnect"}
        parts = self.body
        if not parts:
            data = b""
        elif len(parts) == 1:
            data = parts[0]
        else:
            data = b"".join(parts)
        self.body = []
        self.buffered = 0
        if not self.more_body:
            self.read_all = True
        conn.resume_reading(PAUSE_BODY)
        return {"type": "http.request", "body": data, "more_body": self.more_body}

    async def send(self, message: Message) -> None:
        conn = self.conn
        if conn.write_paused_since and not self.disconnected:
            await conn.drain()
        if self.disconnected or conn.transport.is_closing():
            return
        kind = message["type"]
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got {kind!r}.")
            self.started = True
            self.expects_continue = False
            self.status = message["status"]
            self.headers = message.get("headers", ())
            return  # the head leaves with the first body message
        if self.complete or kind != "http.response.body":
            raise RuntimeError(f"Unexpected ASGI message {kind!r} (the response is "
                               f"{'complete' if self.complete else 'started'}).")
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        transport = conn.transport
        if self.head_sent:
            out = self._frame(body, more_body)
            if out:
                transport.write(out)
        else:
            head = self._head(body, more_body)
            self.head_sent = True
            out = self._frame(body, more_body)
            if len(out) < COPY_LIMIT:
                transport.write(head + out)
            else:
                transport.writelines((head, out))
        if not more_body:
            self.complete = True
            self.wake()
            conn.response_done(self)

    # --- writing ------------------------------------------------------------------------------

    def _head(self, body: bytes, more_body: bool) -> bytes:
        status = self.status
        line = _STATUS_LINES.get(status) or wire.status_line(status).encode("latin-1")
        parts = [line]
        length = -1
        chunked = False
        close_given = False
        for name, value in self.headers:
            lower = name.lower()
            if lower == b"content-length":
                length = content_length(value)
            elif lower == b"transfer-encoding":
                chunked = value.lower() == b"chunked"
            elif lower == b"connection":
                close_given = b"close" in value.lower()
            parts += (name, b": ", value, b"\r\n")
        lines = 2 + len(self.headers)
        if close_given or (self.conn.reading is self and self.more_body):
            self.keep_alive = False  # (answered before the body arrived: linger, then close)
        if not self.keep_alive and not close_given:
            parts.append(b"connection: close\r\n")
            lines += 1
        if length < 0 and not chunked and status not in _NO_BODY_STATUSES:
            if more_body:
                chunked = True
                parts.append(b"transfer-encoding: chunked\r\n")
            else:
                length = len(body)
                parts += (b"content-length: ", str(length).encode(), b"\r\n")
            lines += 1
        parts.append(b"\r\n")
        head = b"".join(parts)
        if head.count(b"\n") != lines or head.count(b"\r") != lines:
            raise RuntimeError("Invalid HTTP header: a name or value contains a line break.")
        self.chunked = chunked
        self.remaining = length
        return head

    def _frame(self, body: bytes, more_body: bool) -> bytes:
        """The body bytes as they go on the wire (none for HEAD, 204, 304; chunk-framed when chunked)."""
        if self.head_only or self.status in _NO_BODY_STATUSES:
            return b""
        if self.chunked:
            out = wire.chunk(body) if body else b""
            return out + wire.LAST_CHUNK if not more_body else out
        if self.remaining >= 0:
            self.remaining -= len(body)
            if self.remaining < 0 or (not more_body and self.remaining):
                log.error("ASGI response body does not match its content-length on %s", self.scope["path"])
                self.keep_alive = False
        return body


class _DirectCycle(_Waits):
    """A request on the direct lane: its body is read whole, then its handler's Response is written in one go.

    It has what the connection reads on an ASGI cycle (body parts, flags, ``wake``), so both kinds share the
    connection's pipelining, disconnects and refusals.
    """

    __slots__ = ("request", "handler", "body", "buffered", "more_body", "keep_alive", "complete", "disconnected")
    high_water = math.inf  # never pause: the body is wanted whole, and its Content-Length was accepted
    started = False  # nothing is written before the whole response

    def __init__(self, conn: "AsgiConnection", request: DirectRequest, handler: DirectHandler, keep_alive: bool) -> None:
        self.conn = conn
        self.request = request
        self.handler = handler
        self.body: list[bytes] = []
        self.buffered = 0
        self.more_body = True
        self.waiter: asyncio.Future | None = None
        self.keep_alive = keep_alive
        self.complete = False
        self.disconnected = False

    @property
    def scope(self) -> dict:
        """The little of a scope the connection's log lines name."""
        return {"method": self.request.method, "path": self.request.path}


class AsgiConnection(HttpConnection):
    """One connection to an ASGI application."""

    hooks_type = AsgiHooks

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        hooks: AsgiHooks = server.hooks
        self.asgi: ASGIApp = hooks.app
        self.app_state = hooks.state
        self.direct: DirectHook | None = hooks.direct
        self.local: tuple | None = None
        self.current: _Cycle | None = None  # being answered
        self.reading: _Cycle | None = None  # being read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # self.client: the socket's peer (never X-Forwarded-For)
        local = transport.get_extra_info("sockname")
        self.local = (local[0], local[1]) if isinstance(local, tuple) else None

    # --- httptools callbacks ------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        headers = []
        length = 0
        chunked = False
        expects_continue = False
        for name, value in self.headers:
            name = name.lower()
            if name == b"content-length":
                length = content_length(value)
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"expect":
                expects_continue = value.lower() == b"100-continue"
            headers.append((name, value))
        url = self.url
        if url[:1] == b"/":
            raw_path, _, query = url.partition(b"?")
            raw_path = raw_path.partition(b"#")[0]
        else:  # absolute form (a proxy-style request) or "*"
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise Refusal(wire.BAD_REQUEST, "The request target is not a valid URL.") from None
            raw_path, query = parsed.path or b"/", parsed.query or b""
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = unquote(path, encoding="latin-1")
        parser = self.parser
        method = parser.get_method().decode("latin-1")
        has_body = chunked or length > 0
        handler = None
        if self.direct is not None and not chunked and not expects_continue:
            handler = self.direct(method, path, length)
        if handler is not None:
            request = DirectRequest(method, path, query, headers, self.client)
            cycle = _DirectCycle(self, request, handler, parser.should_keep_alive())
        else:
            version = parser.get_http_version()
            scope: Scope = {
                "type": "http",
                "asgi": ASGI_VERSION,
                "http_version": version if version in ("1.1", "1.0") else "1.1",
                "method": method,
                "scheme": "http",
                "path": path,
                "raw_path": raw_path,
                "query_string": query,
                "root_path": "",
                "headers": headers,
                "client": self.client,
                "server": self.local,
            }
            if self.app_state:
                scope["state"] = self.app_state.copy()
            cycle = _Cycle(self, scope, parser.should_keep_alive(), expects_continue and has_body)
        self.head_complete(has_body, length)
        if not has_body:
            cycle.more_body = False
        self.reading = cycle
        if self.current is None:
            self._start(cycle)
        else:
            self.pending.append(cycle)
            if len(self.pending) >= self.max_pipelined:
                self.pause_reading(PAUSE_PIPELINE)

    def on_body(self, body: bytes) -> None:
        self.body_received += len(body)
        cycle = self.reading
        if cycle.complete or cycle.disconnected:
            return  # answered already: the rest of the body is not wanted
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > cycle.high_water:
            self.pause_reading(PAUSE_BODY)
        cycle.wake()

    def on_message_complete(self) -> None:
        self.phase = WAIT
        cycle = self.reading
        cycle.more_body = False
        cycle.wake()
        self.reading = None

    def lost(self) -> None:
        for cycle in (self.current, *self.pending):
            if cycle is not None:
                cycle.disconnected = True
                cycle.wake()
        self.pending.clear()

    def refuse_current(self, refusal: Refusal) -> bool:
        cycle = self.reading
        if cycle is not None and cycle is self.current:
            # its body broke off (malformed chunk): the application sees a disconnect; the refusal is
            # sent when it returns, unless it has begun a response (then the connection is cut)
            cycle.disconnected = True
            cycle.wake()
            self.reading = None
        return False

    # --- running the application --------------------------------------------------------------

    def _start(self, cycle: "_Cycle | _DirectCycle") -> None:
        self.current = cycle
        self.busy = True
        self.loop.create_task(self._run_direct(cycle) if cycle.__class__ is _DirectCycle else self._run(cycle))

    async def _run(self, cycle: _Cycle) -> None:
        try:
            await self.asgi(cycle.scope, cycle.receive, cycle.send)
        except asyncio.CancelledError:
            self._ended(cycle, None)
            raise
        except Exception:  # noqa: BLE001 - a bug in the application: a JSON 500, or a cut connection
            log.exception("ASGI application failed on %s %s", cycle.scope["method"], cycle.scope["path"])
            self._ended(cycle, "The server failed on this request; see its log.")
        else:
            self._ended(cycle, "The server produced no response; see its log.")

    async def _run_direct(self, cycle: "_DirectCycle") -> None:
        request = cycle.request
        try:
            while cycle.more_body and not cycle.disconnected:
                await cycle.wait()
            if cycle.disconnected:  # gone (or its body broke off) before it was read whole
                self._ended(cycle, "The request's body was not received whole.")
                return
            parts = cycle.body
            request.body = parts[0] if len(parts) == 1 else b"".join(parts)
            cycle.body = []
            response = await cycle.handler(request)
        except asyncio.CancelledError:
            self._ended(cycle, None)
            raise
        except Exception:  # noqa: BLE001 - a bug in the handler: a JSON 500
            log.exception("direct handler failed on %s %s", request.method, request.path)
            self._ended(cycle, "The server failed on this request; see its log.")
            return
        self._write_direct(cycle, response)

    def _write_direct(self, cycle: "_DirectCycle", response: Response) -> None:
        """Write a direct handler's response in one go, then go on as after an ASGI response."""
        if cycle.disconnected or self.transport.is_closing():
            self._ended(cycle, None)
            return
        body = response.body
        keep_alive = cycle.keep_alive and not response.close
        try:
            head = wire.response_head(response.status, response.content_type, response.headers, len(body), keep_alive)
        except (wire.HeaderInjection, UnicodeEncodeError, TypeError, ValueError) as exc:
            log.error("invalid response from the direct handler (%s): %r", exc, response.headers)
            self._ended(cycle, "The server produced an invalid response header; see its log.")
            return
        if len(body) < COPY_LIMIT:
            self.transport.write(head + body)
        else:
            self.transport.writelines((head, body))
        cycle.complete = True
        cycle.keep_alive = keep_alive
        self.response_done(cycle)

    def _ended(self, cycle: _Cycle, failure: str | None) -> None:
        """The application returned: unless its response completed, answer or cut the connection."""
        if cycle.complete:
            return
        cycle.complete = True
        cycle.wake()
        self.current = None
        self.busy = False
        if cycle.started or failure is None:
            if cycle.started and not cycle.disconnected:
                log.error("ASGI response on %s was not completed", cycle.scope["path"])
            self.closed = True
            self.transport.close()  # a response cut short: the client must not take it as whole
        elif self.deferred_refusal is not None and not self.pending:
            self.became_idle()  # the refusal is this request's answer
        elif not cycle.disconnected:
            log.error("ASGI application gave no response on %s", cycle.scope["path"])
            self.write_error(wire.INTERNAL_ERROR, failure)
            self.finish_response(False)
        else:
            self.closed = True
            self.transport.close()

    def response_done(self, cycle: _Cycle) -> None:
        """A response is complete: close or linger, or answer the next queued request."""
        self.current = None
        self.busy = False
        if not self.finish_response(cycle.keep_alive):
            return
        if self.pending:
            self.resume_reading(PAUSE_PIPELINE)
            self._start(self.pending.popleft())
        else:
            self.became_idle()


async def serve_asgi(
    app: AsgiApp,
    sock: Any,
    stop: asyncio.Event,
    *,
    limits: Any = None,
    busy_poll_seconds: float = 0.0,
    grace_seconds: float = 5.0,
    lifespan: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run the lifespan, serve ``app`` on the listening ``sock`` until ``stop`` is set, then stop gracefully."""
    from modelport.net.lifespan import Lifespan
    from modelport.net.server import HttpServer

    lifespan_runner = Lifespan(app)
    if lifespan:
        await lifespan_runner.startup()
    server = HttpServer(app, limits=limits, busy_poll_seconds=busy_poll_seconds, connection=AsgiConnection)
    server.serve(sock, own_socket=False)
    if on_ready is not None:
        on_ready()
    started = time.monotonic()
    try:
        await stop.wait()
    finally:
        await server.shutdown(grace_seconds)
        await lifespan_runner.shutdown()
        log.debug("served for %.1f s", time.monotonic() - started)
