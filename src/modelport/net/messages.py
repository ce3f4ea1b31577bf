"""What an application of ``modelport.net.server`` receives and returns: :class:`Request` and :class:`Response`.

Hosting builds ``Response(status, headers, body, stream=..., on_done=...)``; the runtime builds
:class:`BodyResponse` (``status, body, content_type``), the same thing with its arguments in the order
a model server uses most. A sync handler may also return a :class:`Deferred` and answer later (the runtime's
batching: no task per request).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator


class BodyError(Exception):
    """A streamed request body cannot be read whole; raised by ``request.stream()``.

    A handler that lets it propagate gets the server's answer: ``status`` with the application's error shape.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class BodyTooLarge(BodyError):
    """A request body is larger than the application's limit (413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, "PayloadTooLarge",
                         f"The request body is larger than the {limit / 1048576:g} MB limit ({limit} bytes).")
        self.limit = limit


class Request:
    """One request. ``headers`` maps lower-case names to values (repeated headers joined with ", ").

    ``body`` holds the whole body, unless the application asked to stream this request's body
    (``stream_body``): then ``body`` is empty and ``async for chunk in request.stream()`` reads it.
    ``client`` is the peer's address (IP text) from the socket, or None (not an IP socket); nothing is
    taken from headers such as ``X-Forwarded-For``. ``state`` is the application's own: its head hooks
    (``body_limit``, ``stream_body``) may leave there what they decided, for its handler.
    """

    __slots__ = ("method", "path", "query", "headers", "body", "body_stream", "client", "state")

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes = b"",
                 body_stream: AsyncIterator[bytes] | None = None, client: str | None = None) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.body_stream = body_stream
        self.client = client
        self.state = None

    def stream(self) -> AsyncIterator[bytes]:
        """The body as it arrives (with flow control), or the buffered body as one chunk."""
        if self.body_stream is not None:
            return self.body_stream
        return _once(self.body)


async def _once(body: bytes) -> AsyncIterator[bytes]:
    if body:
        yield body


class Response:
    """A response: ``body`` bytes, or ``stream`` (an async iterator, or an iterator pulled in a thread) sent chunked.

    ``headers`` are ``(name, value)`` pairs; ``content_type``, when set, is sent as ``content-type``.
    ``on_done`` is called once the response was written or abandoned (client gone), whatever happened.
    ``close`` ends the connection after this response.
    """

    __slots__ = ("status", "headers", "body", "stream", "on_done", "close", "content_type")

    def __init__(
        self,
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        stream: AsyncIterator[bytes] | Iterator[bytes] | None = None,
        on_done: Callable[[], None] | None = None,
        close: bool = False,
        content_type: str | None = None,
    ) -> None:
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body
        self.stream = stream
        self.on_done = on_done
        self.close = close
        self.content_type = content_type


class BodyResponse(Response):
    """A response given body first: ``BodyResponse(status, body, content_type, headers, close)``.

    ``body`` is bytes, or an iterator of bytes that the server pulls chunk by chunk in a thread (so the
    event loop stays free) and stops when the client goes away.
    """

    __slots__ = ()

    def __init__(
        self,
        status: int,
        body: bytes | Iterator[bytes],
        content_type: str = "application/json",
        headers: list[tuple[str, str]] | None = None,
        close: bool = False,
    ) -> None:
        self.status = status
        self.headers = headers
        self.content_type = content_type
        self.close = close
        self.on_done = None
        if isinstance(body, bytes):
            self.body = body
            self.stream = None
        else:
            self.body = b""
            self.stream = body


class Deferred:
    """A response a sync handler gives later: ``handle`` returns one and calls ``resolve(response)`` once the
    answer is ready (on the event loop's thread); the connection holds the request until then.

    A Deferred resolved before ``handle`` returned keeps its ``response``: the handler returns that instead.
    """

    __slots__ = ("_then", "response")

    def __init__(self) -> None:
        self._then: Callable[[Response], None] | None = None
        self.response: Response | None = None

    def then(self, callback: Callable[[Response], None]) -> None:
        """Who gets the response (the connection that holds the request)."""
        self._then = callback

    def resolve(self, response: Response) -> None:
        """Hand over the response (only the first call counts)."""
        if self.response is not None:
            return
        self.response = response
        callback, self._then = self._then, None
        if callback is not None:
            callback(response)
