"""Connections for ``handle(request) -> Response`` applications (the runtime's workers, hosting).

An application is an object with:

- ``handle(request)``: returns a :class:`~modelport.net.messages.Response`, either directly (a plain
  function, called inline on the event loop: the runtime's hot path, no task per request) or as a
  coroutine (``async def``: hosting; one task per burst of requests on a connection); a plain function
  may also return a :class:`~modelport.net.messages.Deferred` and resolve it later (the runtime's
  batching: requests wait for their batch without a task each);
- ``error(status, code, message)``: the application's error response, used for what the server
  refuses itself (400, 408, 413, 414, 431, 500), so every error has the application's JSON shape;
  with a ``request`` parameter it also gets the request refused when its head was read (a body too
  large or too slow), to answer in that request's protocol;
- ``max_body_bytes`` or ``body_limit(request)``: the body limit, for all requests or chosen from each
  request's head (method, path, headers);
- optionally ``stream_body(request) -> bool``: True hands the request over right after its head, with
  an empty ``body``; the handler reads ``async for chunk in request.stream()`` with flow control (the
  server stops reading while a few hundred kB wait unread), e.g. to write an upload to disk. Async
  handlers only.

A body within the limit is read whole before ``handle`` runs (the default, and the fastest path).
Responses are written with one ``transport.write`` (``writelines`` for bodies over 64 kB); a stream
(async iterator, or a plain iterator pulled in a thread so the loop stays free) goes out chunked with
back-pressure and is closed when the client goes away. Pipelined requests are answered in order.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from modelport.net import wire
from modelport.net.connection import (
    BODY,
    COPY_LIMIT,
    IDLE,
    PAUSE_PIPELINE,
    WAIT,
    HttpConnection,
    Refusal,
    StopParsing,
)
from modelport.net.body_stream import BodyStream
from modelport.net.messages import BodyError, BodyTooLarge, Deferred, Request, Response

if TYPE_CHECKING:
    import asyncio

    from modelport.net.server import HttpServer

log = logging.getLogger("modelport.net")
_END = object()


class HandlerHooks:
    """What the server looked up once on the application (so no request pays for ``getattr``)."""

    def __init__(self, app: Any) -> None:
        self.handle = app.handle
        self.is_async = inspect.iscoroutinefunction(app.handle)
        self.body_limit = getattr(app, "body_limit", None)
        self.max_body = getattr(app, "max_body_bytes", None)
        if self.body_limit is None and self.max_body is None:
            raise TypeError("the application needs max_body_bytes or body_limit(request)")
        self.stream_body = getattr(app, "stream_body", None)
        if self.stream_body is not None and not self.is_async:
            raise TypeError("stream_body needs an async handle(request)")


class HandlerConnection(HttpConnection):
    """One connection to a ``handle(request) -> Response`` application."""

    hooks_type = HandlerHooks
    header_store = dict

    def __init__(self, server: "HttpServer") -> None:
        super().__init__(server)
        hooks: HandlerHooks = server.hooks
        self.handle = hooks.handle
        self.is_async = hooks.is_async
        self.body_limit = hooks.body_limit
        self.max_body = hooks.max_body
        self.stream_body = hooks.stream_body
        self.busy_poll = server.busy_poll
        self.whole_reads = not self.is_async
        self.request: Request | None = None
        self.keep_alive = True
        self.limit = 0
        self.body_parts: list[bytes] = []
        self.body_stream: BodyStream | None = None
        self.repeated: dict[str, list[str]] | None = None

    # --- httptools callbacks ------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        # (the base class's checks, inlined: this runs for every header of every request)
        size = self.head_bytes + len(name) + len(value) + 4
        self.head_bytes = size
        self.header_count += 1
        if size > self.max_head or self.header_count > self.max_headers:
            raise self.head_too_large()
        key = name.decode("latin-1").lower()
        headers = self.headers
        if key in headers:
            self._repeat(key, value.decode("latin-1"))
        else:
            headers[key] = value.decode("latin-1")

    def _repeat(self, key: str, text: str) -> None:
        """A header seen again: its values are joined with ", " once the head is complete (linear time)."""
        if self.repeated is None:
            self.repeated = {}
        values = self.repeated.get(key)
        if values is None:
            self.repeated[key] = [self.headers[key], text]
        else:
            values.append(text)

    def on_headers_complete(self) -> None:
        headers = self.headers
        if self.repeated:
            for key, values in self.repeated.items():
                headers[key] = ", ".join(values)
            self.repeated = None
        path, _, query = self.url.decode("latin-1").partition("?")
        request = Request(self.parser.get_method().decode("latin-1"), path, query, headers, client=self.client_host)
        self.request = request
        self.keep_alive = self.parser.should_keep_alive()
        limit = self.body_limit(request) if self.body_limit is not None else self.max_body
        self.limit = limit
        length = headers.get("content-length")  # (httptools has refused one that is not a number)
        size = int(length) if length is not None else 0
        if size > limit:
            raise self.body_too_large(limit, request)  # refused before a byte of the body is read
        has_body = size > 0 or "transfer-encoding" in headers
        # (head_complete, inlined: this runs per request)
        self.in_head = False
        self.body_length = size
        self.phase = BODY if has_body else WAIT
        expects_continue = has_body and "expect" in headers and headers["expect"].lower() == "100-continue"
        if has_body:
            self.body_parts = []
        if self.stream_body is not None and self.stream_body(request):
            stream = BodyStream(self, expects_continue)
            request.body_stream = stream
            self.body_stream = stream
            if not has_body:
                stream.finish()
            self._enqueue(request, self.keep_alive)
            return
        self.body_stream = None
        if expects_continue and not self.busy and not self.pending:
            self.transport.write(wire.CONTINUE)  # (behind an unanswered request the client's own timer sends it)

    def on_body(self, body: bytes) -> None:
        size = self.body_received + len(body)
        self.body_received = size
        stream = self.body_stream
        if size > self.limit:
            if stream is None:
                raise self.body_too_large(self.limit, self.request)
            stream.fail(BodyTooLarge(self.limit))  # the handler answers (413 unless it catches it)
            raise StopParsing()
        if stream is None:
            self.body_parts.append(body)
        else:
            stream.feed(body)

    def on_message_complete(self) -> None:
        self.phase = WAIT
        stream = self.body_stream
        if stream is not None:
            stream.finish()
            self.body_stream = None
            return
        request = self.request
        if self.body_received:
            parts = self.body_parts
            request.body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._enqueue(request, self.keep_alive)

    def lost(self) -> None:
        if self.body_stream is not None:
            self.body_stream.fail(ConnectionError("the client closed the connection"))

    def body_request(self) -> Request | None:
        return self.request

    def refuse_current(self, refusal: Refusal) -> bool:
        stream = self.body_stream
        if stream is None:
            return False
        self.body_stream = None
        stream.fail(BodyError(*refusal.status_code, refusal.message))  # the handler answers it
        return True

    # --- dispatch -----------------------------------------------------------------------------

    def _enqueue(self, request: Request, keep_alive: bool) -> None:
        if self.busy or self.pending:
            self.pending.append((request, keep_alive))
            if len(self.pending) >= self.max_pipelined:
                self.pause_reading(PAUSE_PIPELINE)
                if self.feeding_whole:
                    # a read parsed whole behind a streamed answer holds more requests than the queue
                    # takes: answer those queued, then close (the client may send the rest again)
                    raise StopParsing()
        elif self.is_async:
            self.busy = True
            self.loop.create_task(self._serve_async(request, keep_alive))
        else:
            self._respond_sync(request, keep_alive)
            if not self.busy and not self.pending and not self.closed:
                if self.phase == WAIT and not self.pause_mask and self.deferred_refusal is None:
                    self.phase = IDLE  # (became_idle's common case, inlined: this runs per request)
                    self.since = 0.0
                else:
                    self.became_idle()

    def _respond_sync(self, request: Request, keep_alive: bool) -> None:
        try:
            response = self.handle(request)
        except Exception:  # noqa: BLE001 - the application answers its own errors; this is the last net
            log.exception("handler failed on %s %s", request.method, request.path)
            response = self.server.error(500, "InternalError", "The server failed on this request; see its log.",
                                         request)
        if response.__class__ is Deferred:
            self.busy = True
            response.then(lambda answer: self._answer_deferred(answer, request, keep_alive))
            return
        keep_alive = keep_alive and not response.close
        head_only = request.method == "HEAD"
        if response.stream is not None:
            self.busy = True
            self.loop.create_task(self._stream_sync(response, keep_alive, head_only))
            return
        keep_alive = self._write_whole(response, keep_alive, head_only)
        if keep_alive and not self.peer_closed and not self.parser_dead:
            return  # the common case, without finish_response's call (this path runs per request)
        self.finish_response(keep_alive)

    def _answer_deferred(self, response: Response, request: Request, keep_alive: bool) -> None:
        """A Deferred resolved: write its response, then go on with requests pipelined behind it."""
        self.busy = False
        if self.closed:
            return  # the client went away meanwhile
        keep_alive = keep_alive and not response.close
        head_only = request.method == "HEAD"
        if response.stream is not None:
            self.busy = True
            self.loop.create_task(self._stream_sync(response, keep_alive, head_only))
            return
        if not self.finish_response(self._write_whole(response, keep_alive, head_only)):
            return
        while self.pending and not self.busy and not self.closed:
            request, keep = self.pending.popleft()
            self.resume_reading(PAUSE_PIPELINE)
            self._respond_sync(request, keep)
        if not self.busy and not self.pending and not self.closed:
            self.became_idle()

    async def _stream_sync(self, response: Response, keep_alive: bool, head_only: bool) -> None:
        finished = await self._write_stream(response, keep_alive, head_only)
        self.busy = False
        if not self.finish_response(keep_alive and finished):
            return
        while self.pending and not self.busy and not self.closed:
            request, keep = self.pending.popleft()
            self.resume_reading(PAUSE_PIPELINE)
            self._respond_sync(request, keep)
        if not self.busy and not self.pending:
            self.became_idle()

    async def _serve_async(self, request: Request, keep_alive: bool) -> None:
        try:
            while True:
                try:
                    response = await self.handle(request)
                except BodyError as exc:
                    response = self.server.error(exc.status, exc.code, exc.message, request)
                except Exception:  # noqa: BLE001 - the application answers its own errors; this is the last net
                    log.exception("handler failed on %s %s", request.method, request.path)
                    response = self.server.error(500, "InternalError", "The server failed on this request; see its log.",
                                                 request)
                keep_alive = keep_alive and not response.close
                stream = request.body_stream
                if stream is not None and not stream.complete:
                    keep_alive = False  # answered before the body was read: stop reading it, linger, close
                head_only = request.method == "HEAD"
                try:
                    if response.stream is None:
                        keep_alive = self._write_whole(response, keep_alive, head_only)
                    else:
                        keep_alive = await self._write_stream(response, keep_alive, head_only) and keep_alive
                finally:
                    if response.on_done is not None:
                        response.on_done()
                if self.busy_poll is not None:
                    self.busy_poll.kick()
                if not self.finish_response(keep_alive) or not self.pending:
                    break
                request, keep_alive = self.pending.popleft()
                self.resume_reading(PAUSE_PIPELINE)
        finally:
            self.busy = False
        if not self.pending:
            self.became_idle()

    # --- writing ------------------------------------------------------------------------------

    def _write_whole(self, response: Response, keep_alive: bool, head_only: bool) -> bool:
        """Write a response with a body in bytes; returns whether the connection may stay open.

        The body's length is the server's to state, except in an answer to HEAD: there a Content-Length the
        application set (S3's HeadObject: the object's size) is kept, and no body is sent either way.
        """
        if self.closed:
            return False
        transport = self.transport
        body = response.body
        try:
            length = len(body)
            if head_only and wire.declared_length(response.headers) is not None:
                length = wire.DECLARED
            head = wire.response_head(response.status, response.content_type, response.headers, length, keep_alive)
        except (wire.HeaderInjection, UnicodeEncodeError, TypeError, ValueError) as exc:
            log.error("invalid response from the application (%s): %r", exc, response.headers)
            self.write_error(wire.INTERNAL_ERROR, "The server produced an invalid response header; see its log.")
            return False
        if head_only or not body:
            transport.write(head)
        elif len(body) < COPY_LIMIT:
            transport.write(head + body)
        else:
            transport.writelines((head, body))  # one writev: cheaper than copying megabytes into the head
        return keep_alive

    async def _write_stream(self, response: Response, keep_alive: bool, head_only: bool) -> bool:
        """Write a streamed response; returns whether it ended properly (else the connection is closed).

        It goes chunked, unless the application set a Content-Length (S3's GetObject of a large object):
        then the bytes go as they are, and a stream that ends short of (or beyond) that length closes the
        connection so the client cannot take it as whole.
        """
        transport = self.transport
        stream = response.stream
        finished = False
        left = None  # bytes still due under a declared Content-Length
        try:
            if transport.is_closing():
                return False
            try:
                left = wire.declared_length(response.headers)
                length = None if left is None else wire.DECLARED
                head = wire.response_head(response.status, response.content_type, response.headers, length, keep_alive)
            except (wire.HeaderInjection, UnicodeEncodeError, TypeError, ValueError) as exc:
                log.error("invalid response from the application (%s): %r", exc, response.headers)
                self.write_error(wire.INTERNAL_ERROR, "The server produced an invalid response header; see its log.")
                return False
            transport.write(head)
            if head_only:
                return True
            frame = wire.chunk if left is None else bytes
            chunks = stream if hasattr(stream, "__anext__") else _InThreads(stream, self.loop)
            async for data in chunks:
                if transport.is_closing():
                    break
                if data:
                    if left is not None:
                        left -= len(data)
                    transport.write(frame(data))
                    if self.write_paused_since:
                        await self.drain()
            else:
                finished = True
        except Exception:  # noqa: BLE001 - the status is already sent; cut the stream short
            log.exception("streaming the response failed")
        finally:
            await _close_stream(stream, finished, self.loop)
        if transport.is_closing():
            return False
        if finished and left:
            log.error("a streamed response ended %d bytes %s its Content-Length", abs(left),
                      "short of" if left > 0 else "beyond")
            finished = False
        if not finished:
            self.closed = True
            transport.close()  # an unterminated body tells the client it was cut short
            return False
        if left is None:
            transport.write(wire.LAST_CHUNK)
        return True


class _InThreads:
    """A plain (blocking) iterator as an async one: each item is taken in the default thread pool."""

    def __init__(self, iterator: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.iterator = iterator
        self.loop = loop

    def __aiter__(self) -> _InThreads:
        return self

    async def __anext__(self) -> Any:
        item = await self.loop.run_in_executor(None, next, self.iterator, _END)
        if item is _END:
            raise StopAsyncIteration
        return item


async def _close_stream(stream: Any, finished: bool, loop) -> None:  # noqa: ANN001
    """Close an async iterator always (its clean-up runs), a plain iterator in a thread when cut short."""
    try:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
        elif not finished:
            close = getattr(stream, "close", None)
            if close is not None:
                await loop.run_in_executor(None, close)
    except Exception:  # noqa: BLE001 - clean-up of a stream must not take the connection with it
        log.exception("closing the response stream failed")
