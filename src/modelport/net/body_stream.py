"""A request body read as it arrives (``stream_body`` applications): flow control between the client and the handler."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from modelport.net import wire
from modelport.net.connection import BODY_HIGH_WATER, BODY_LOW_WATER, PAUSE_BODY

if TYPE_CHECKING:
    from modelport.net.connection import HttpConnection


class BodyStream:
    """A request body read as it arrives: ``async for chunk in request.stream()``, with flow control.

    Reading from the client pauses while more than ``BODY_HIGH_WATER`` bytes wait here and resumes when
    the application has taken them. ``100 Continue`` is sent when the application first asks for a chunk.
    """

    def __init__(self, conn: HttpConnection, expects_continue: bool) -> None:
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future | None = None
        self._expects_continue = expects_continue

    def feed(self, data: bytes) -> None:
        """A body chunk arrived."""
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > BODY_HIGH_WATER:
            self._conn.pause_reading(PAUSE_BODY)
        self._wake()

    def finish(self) -> None:
        """The body is complete."""
        self._done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        """The body will not complete (too large, connection lost)."""
        if not self._done:
            self._error = error
            self._wake()

    @property
    def complete(self) -> bool:
        """Whether the whole body has arrived (read or not)."""
        return self._done

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._expects_continue:
            self._expects_continue = False
            if not self._conn.closed:
                self._conn.transport.write(wire.CONTINUE)
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                raise StopAsyncIteration
            self._waiter = self._conn.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._buffered < BODY_LOW_WATER:
            self._conn.resume_reading(PAUSE_BODY)
        return data
