"""Call a ``handle(request) -> Response`` application from code in the same process, without a socket.

:class:`InProcessClient` hands a :class:`~modelport.net.messages.Request` to an application exactly as
:class:`~modelport.net.server.HttpServer` would after reading it from a connection: the body limit from
the application's head hook (``body_limit`` / ``max_body_bytes``; over it, the application's own 413),
then ``handle``; a :class:`~modelport.net.messages.BodyError` becomes the application's error answer and
any other exception its 500, as the server does. What it saves is the HTTP round trip: the client's
write, the server's parse, two socket hops and a process wake-up.

``modelport up`` uses it to let the gateway call hosting's Runtime API in hosting's own process
(``modelport.stack.services``). Only ``async def`` applications (hosting) are supported, and only on the
event loop they serve on: the application is not thread-safe, so a call from any other loop is refused.
The caller owns the answer: it must call :func:`finish` once it has read the body or the stream (the
application releases what the request held, e.g. an instance, in ``on_done``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from typing import Any

from modelport.net.messages import BodyError, BodyTooLarge, Request, Response
from modelport.net.server import error_responder

log = logging.getLogger("modelport.net")


class InProcessClient:
    """Requests to one application on one event loop, through its head hooks, as the HTTP server sends them."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop, client: str = "127.0.0.1") -> None:
        if not inspect.iscoroutinefunction(app.handle):
            raise TypeError("InProcessClient needs an application with an async handle(request)")
        self.handle = app.handle
        self.body_limit = getattr(app, "body_limit", None)
        self.max_body = getattr(app, "max_body_bytes", None)
        if self.body_limit is None and self.max_body is None:
            raise TypeError("the application needs max_body_bytes or body_limit(request)")
        self.error = error_responder(app)
        self.loop = loop
        self.client = client
        self._loop_thread: int | None = None  # the thread a request last found ``loop`` running on

    def _on_own_loop(self) -> bool:
        """Whether the caller runs on ``loop``. ``asyncio.get_running_loop()`` costs a getpid() system call on
        Python 3.11, so once a request has found ``loop`` running on this thread, the next from this thread
        while ``loop`` still runs is on it (a thread runs one loop at a time) and needs no lookup."""
        if self._loop_thread == threading.get_ident() and self.loop.is_running():
            return True
        if asyncio.get_running_loop() is not self.loop:
            return False
        self._loop_thread = threading.get_ident()
        return True

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
                      query: str = "") -> Response:
        """The application's answer to one request (``headers``: lower-case names, as the server gives them).

        The returned response is the caller's until :func:`finish`: read ``body`` or iterate ``stream``.
        """
        if not self._on_own_loop():
            raise RuntimeError("an in-process request must run on the event loop the application serves on")
        request = Request(method, path, query, headers, body, client=self.client)
        limit = self.body_limit(request) if self.body_limit is not None else self.max_body
        if limit is not None and len(body) > limit:
            too_large = BodyTooLarge(limit)
            return self.error(too_large.status, too_large.code, too_large.message, request)
        try:
            return await self.handle(request)
        except BodyError as exc:
            return self.error(exc.status, exc.code, exc.message, request)
        except Exception:  # noqa: BLE001 - the server's last net, the same here
            log.exception("handler failed on %s %s (in process)", method, path)
            return self.error(500, "InternalError", "The server failed on this request; see its log.", request)


def finish(response: Response) -> None:
    """Tell the application its answer was read (or abandoned): ``on_done``, at most once."""
    done, response.on_done = response.on_done, None
    if done is not None:
        done()
