"""Share connections fairly between worker processes that listen on one socket.

With a shared listening socket the kernel wakes every worker, and whichever wakes first accepts
every pending connection: a benchmark's 16 keep-alive connections can all land on one worker and
leave the other core idle. Each worker here accepts one connection per wake-up and lets a worker
holding fewer open connections go first (counts live in the shared board). A worker that defers
stops watching the socket for a millisecond, so nobody spins, and takes the connection anyway if
nobody else has within a few milliseconds (the others may be busy predicting).
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Callable, Protocol

DEFER_SECONDS = 0.001
MAX_DEFER_SECONDS = 0.005


class ConnectionBoard(Protocol):
    """Where workers publish how many connections they hold."""

    def connections(self, index: int) -> int: ...

    def add_connections(self, index: int, delta: int) -> None: ...

    def fewest_connections(self) -> int: ...


class Acceptor:
    """Accepts connections on ``sock`` for this worker, one per wake-up, least-loaded first."""

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        board: ConnectionBoard,
        index: int,
    ):
        self.loop = asyncio.get_running_loop()
        self.sock = sock
        self.protocol_factory = protocol_factory
        self.board = board
        self.index = index
        self.deferred_since = 0.0
        self.watching = False
        self.closed = False
        sock.setblocking(False)
        self._watch()

    def _watch(self) -> None:
        if not self.closed and not self.watching:
            self.loop.add_reader(self.sock.fileno(), self._on_readable)
            self.watching = True

    def _unwatch(self) -> None:
        if self.watching:
            self.loop.remove_reader(self.sock.fileno())
            self.watching = False

    def _resume(self) -> None:
        self._watch()

    def _on_readable(self) -> None:
        mine = self.board.connections(self.index)
        if mine > self.board.fewest_connections():
            now = time.monotonic()
            if not self.deferred_since:
                self.deferred_since = now
            if now - self.deferred_since < MAX_DEFER_SECONDS:
                self._unwatch()
                self.loop.call_later(DEFER_SECONDS, self._resume)
                return
        self.deferred_since = 0.0
        try:
            conn, _ = self.sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker took it
        except OSError:
            return  # e.g. ECONNABORTED, EMFILE: the next wake-up tries again
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.board.add_connections(self.index, 1)
        self.loop.create_task(self._connect(conn))

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.protocol_factory, conn)
        except OSError:
            self.board.add_connections(self.index, -1)
            conn.close()

    def connection_closed(self) -> None:
        """Called by a protocol when its connection ends."""
        self.board.add_connections(self.index, -1)

    def close(self) -> None:
        """Stop accepting."""
        self.closed = True
        self._unwatch()
