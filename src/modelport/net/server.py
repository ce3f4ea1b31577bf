"""modelport's one HTTP/1.1 server (asyncio + httptools), under the runtime's workers, hosting and the local gateway.

::

    server = HttpServer(app)                       # app: handle(request) -> Response (see handler.py)
    port = await server.start("127.0.0.1", 8001)   # or server.serve(sock) on a socket already listening
    ...
    await server.close()                           # or: await server.shutdown(grace_seconds)

``HttpServer(app, connection=AsgiConnection)`` serves an ASGI application instead (see ``asgi.py``).
The limits (``limits.py``, ``MODELPORT_HTTP_*``) hold for every application: head size and count,
URL length, the application's body limit before the body is read, header/body/keep-alive/write
timeouts, a connection cap, accept back-off, bounded pipelining, and a lingering close after early
errors. Modules: ``connection.py`` (parsing, limits, closing), ``handler.py`` and ``asgi.py`` (the two
kinds of application; ``body_stream.py`` and ``lifespan.py`` serve them), ``acceptor.py`` (accepting),
``wire.py`` (bytes), ``messages.py`` (Request and Response).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import time
from typing import Any, Callable

from modelport.net import wire
from modelport.net.acceptor import Acceptor, ConnectionBoard
from modelport.net.busypoll import BusyPoll, busy_poll_of
from modelport.net.connection import IDLE, NEW, HttpConnection
from modelport.net.handler import HandlerConnection
from modelport.net.limits import HttpLimits
from modelport.net.messages import Response

log = logging.getLogger("modelport.net")

BACKLOG = 2048
MAX_SWEEP_SECONDS = 1.0


def bind_socket(host: str, port: int, backlog: int = BACKLOG) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free one); OSError when the port is taken."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class HttpServer:
    """Serves one application on one listening socket in this process (one event loop)."""

    def __init__(
        self,
        app: Any,
        *,
        limits: HttpLimits | None = None,
        busy_poll_seconds: float = 0.0,
        connection: type[HttpConnection] = HandlerConnection,
        board: ConnectionBoard | None = None,
        index: int = 0,
    ) -> None:
        self.app = app
        self.limits = limits if limits is not None else HttpLimits()
        self.connection_type = connection
        self.hooks = connection.hooks_type(app)  # looked up once, not per request
        self._error = error_responder(app)
        self.busy_poll_seconds = busy_poll_seconds
        self.busy_poll: BusyPoll | None = None
        self.board = board
        self.index = index
        self.loop: asyncio.AbstractEventLoop | None = None
        self.connections: set[HttpConnection] = set()
        self.acceptor: Acceptor | None = None
        self.sock: socket.socket | None = None
        self._own_socket = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_due = 0.0
        self._all_closed: asyncio.Event | None = None
        timeouts = [t for t in (self.limits.header_timeout, self.limits.body_timeout, self.limits.keepalive_timeout,
                                self.limits.write_timeout, self.limits.linger_timeout) if t > 0]
        self.sweep_seconds = max(0.02, min(MAX_SWEEP_SECONDS, min(timeouts) / 4))

    # --- starting and stopping ------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Bind ``host:port`` and serve; returns the bound port (useful with port 0)."""
        sock = bind_socket(host, port)
        self.serve(sock, own_socket=True)
        return sock.getsockname()[1]

    def serve(self, sock: socket.socket, own_socket: bool = True) -> None:
        """Serve on a socket that already listens (inherited by a worker, or a duplicate)."""
        self.loop = asyncio.get_running_loop()
        self.sock = sock
        self._own_socket = own_socket
        if self.busy_poll_seconds > 0:
            self.busy_poll = busy_poll_of(self.loop, self.busy_poll_seconds)
        self.acceptor = Acceptor(sock, self._accepted, self.limits.max_connections, self.limits.accept_backoff,
                                 self.board, self.index)
        self._schedule_sweep()

    def stop_accepting(self) -> None:
        """Stop taking new connections (and close the socket if this server opened it)."""
        if self.acceptor is not None:
            self.acceptor.close()
        if self.sock is not None and self._own_socket:
            self.sock.close()
            self.sock = None

    def close(self) -> asyncio.Future:
        """Stop accepting and close every connection now; await the result to wait until they are gone."""
        self.stop_accepting()
        for conn in list(self.connections):
            conn.closed = True
            if conn.transport is not None:
                conn.transport.close()
        return asyncio.ensure_future(self._wait_closed(None))

    async def shutdown(self, grace_seconds: float) -> None:
        """Stop accepting, close idle connections, let requests in progress finish (up to the grace), then close."""
        self.stop_accepting()
        deadline = time.monotonic() + grace_seconds
        while True:
            for conn in list(self.connections):
                if not conn.busy and not conn.pending and conn.phase in (NEW, IDLE) or conn.closed:
                    conn.closed = True
                    conn.transport.close()
            if not self.connections or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        await self.close()

    async def _wait_closed(self, timeout: float | None) -> None:
        if self.connections:
            self._all_closed = asyncio.Event()
            try:
                await asyncio.wait_for(self._all_closed.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    # --- connections ------------------------------------------------------------------------------

    def _accepted(self, sock: socket.socket) -> None:
        self.loop.create_task(self._connect(sock))

    async def _connect(self, sock: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: self.connection_type(self), sock)
        except Exception as exc:  # noqa: BLE001 - never leave an accepted socket open and unanswered
            if not isinstance(exc, OSError):
                log.exception("setting up a connection failed")
            sock.close()
            self.acceptor.connection_closed()

    def connection_opened(self, conn: HttpConnection) -> None:
        """Called by a connection once it is set up."""
        self.connections.add(conn)

    def connection_closed(self, conn: HttpConnection) -> None:
        """Called by a connection when it has ended."""
        self.connections.discard(conn)
        if self.acceptor is not None:
            self.acceptor.connection_closed()
        if self._all_closed is not None and not self.connections:
            self._all_closed.set()

    def error(self, status: int, code: str, message: str, request: Any = None) -> Response:
        """The application's error response (its own shape), or a plain JSON one (:func:`error_responder`)."""
        return self._error(status, code, message, request)

    # --- timeouts ---------------------------------------------------------------------------------

    def _schedule_sweep(self) -> None:
        self._sweep_due = time.monotonic() + self.sweep_seconds
        self._sweeper = self.loop.call_at(self.loop.time() + self.sweep_seconds, self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        # Late by more than a turn: the loop was blocked (a long inline prediction), and bytes that
        # arrived meanwhile are not read yet; judge deadlines on the next turn, after reading them.
        if now - self._sweep_due <= self.sweep_seconds:
            for conn in list(self.connections):
                try:
                    conn.expired(now)
                except Exception:  # noqa: BLE001 - one odd connection must not stop the sweeper
                    log.exception("timeout check failed")
        self._schedule_sweep()


def error_responder(app: Any) -> Callable[..., Response]:
    """``error(status, code, message, request=None)``: the application's error response, or a plain JSON one.

    An application whose ``error`` hook has a ``request`` parameter gets the request the error answers,
    when its head was read (None otherwise), e.g. to answer in the protocol that request speaks.
    """
    hook = getattr(app, "error", None)
    takes_request = hook is not None and _takes_request(hook)

    def error(status: int, code: str, message: str, request: Any = None) -> Response:
        if hook is not None:
            return hook(status, code, message, request=request) if takes_request else hook(status, code, message)
        content_type, body = wire.json_error(status, code, message)
        return Response(status, None, body, content_type=content_type)

    return error


def _takes_request(hook: Any) -> bool:
    try:
        return "request" in inspect.signature(hook).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin)
        return False


def start_server(app: Any, sock: socket.socket, limits: HttpLimits | None = None) -> HttpServer:
    """Serve ``app`` on ``sock`` (already listening; the server closes it when closed). Needs a running loop."""
    server = HttpServer(app, limits=limits)
    server.serve(sock, own_socket=True)
    return server
