"""Accept connections on a listening socket: within a per-process cap, backing off when out of resources,
and (for processes sharing one socket) fairly.

- **Cap**: a process holding ``MODELPORT_HTTP_MAX_CONNECTIONS`` connections stops watching the socket
  until one closes; new clients wait in the kernel's backlog.
- **Back-off**: when ``accept()`` fails for want of file descriptors or memory (EMFILE, ENFILE,
  ENOBUFS, ENOMEM) the socket stays readable, so watching it would spin a core; the acceptor stops
  watching for ``MODELPORT_HTTP_ACCEPT_BACKOFF`` seconds (nginx does the same) and tries again.
- **Fairness** (runtime workers): with a shared listening socket the kernel wakes every worker and the first
  one awake would accept every pending connection (a benchmark's 16 keep-alive connections all on one
  worker, the other core idle). With a ``board`` (connection counts shared between the processes) a worker
  takes at once what its fair share allows: the connections held by all workers plus those waiting in the
  accept queue, split evenly. Above its share it lets the others go first: it stops watching for a
  millisecond, and takes one anyway if nobody has within 5 ms while another worker is predicting (it may be
  stuck in a long prediction), or within 50 ms while they are idle (they are only waiting for a core on a
  busy machine). A wait ends when the queue is found empty, so a later connection waits afresh. Taking the
  share in one turn matters under load: a loaded worker's turn lasts a batch or more, so taking one
  connection per turn left the last of a benchmark's 256 new connections waiting ~0.8 s for its first answer.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import time
from typing import Callable, Protocol

log = logging.getLogger("modelport.net")

DEFER_SECONDS = 0.001
MAX_DEFER_SECONDS = 0.005  # how long a connection above this worker's share waits for a worker busy predicting
MAX_DEFER_IDLE_SECONDS = 0.05  # ... when the others are idle (they take it once the kernel schedules them)
ACCEPT_BATCH = 128  # most connections taken per wake-up
_TCP_LISTEN = 10  # tcp_info.tcpi_state of a listening socket
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
WARN_EVERY_SECONDS = 60.0


class ConnectionBoard(Protocol):
    """Where processes sharing a socket publish how many connections each holds."""

    def connections(self, index: int) -> int: ...

    def add_connections(self, index: int, delta: int) -> None: ...

    def serving_connections(self) -> dict[int, int]: ...

    def busy_since(self, index: int) -> float: ...


def waiting_connections(sock: socket.socket) -> int | None:
    """How many connections wait in ``sock``'s accept queue, or None where the kernel does not say.

    Linux reports it in ``TCP_INFO`` of a listening socket (``tcpi_unacked``, as ``ss -l`` shows it in
    Recv-Q).
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 32)
    except (OSError, AttributeError):  # not TCP (a Unix socket in a test), or not Linux
        return None
    if len(info) < 28 or info[0] != _TCP_LISTEN:
        return None
    return struct.unpack_from("I", info, 24)[0]


class Acceptor:
    """Accepts connections on ``sock`` and hands each (non-blocking, TCP_NODELAY) to ``on_accept``."""

    def __init__(
        self,
        sock: socket.socket,
        on_accept: Callable[[socket.socket], None],
        max_connections: int,
        backoff_seconds: float,
        board: ConnectionBoard | None = None,
        index: int = 0,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.sock = sock
        self.on_accept = on_accept
        self.max_connections = max_connections
        self.backoff_seconds = backoff_seconds
        self.board = board
        self.index = index
        self.count = 0
        self.backoffs = 0  # how many times accept() ran out of resources (tests, logs)
        self.deferred_since = 0.0
        self.waiting = False  # backing off or deferring: a timer will watch again
        self.watching = False
        self.closed = False
        self._warned_at = 0.0
        sock.setblocking(False)
        self._update()

    def _update(self) -> None:
        """Watch the socket exactly when accepting is allowed."""
        want = not self.closed and not self.waiting and self.count < self.max_connections
        if want and not self.watching:
            self.loop.add_reader(self.sock.fileno(), self._on_readable)
            self.watching = True
        elif not want and self.watching:
            self.loop.remove_reader(self.sock.fileno())
            self.watching = False

    def _wait(self, seconds: float) -> None:
        self.waiting = True
        self._update()
        self.loop.call_later(seconds, self._resume)

    def _resume(self) -> None:
        self.waiting = False
        if self.deferred_since and waiting_connections(self.sock) == 0:
            # another worker took what this one left: a connection arriving later starts a new wait instead of
            # counting this one's, which would let this worker take it at once above its share
            self.deferred_since = 0.0
        self._update()

    def _on_readable(self) -> None:
        allowance = ACCEPT_BATCH
        if self.board is not None:
            held = self.board.serving_connections() or {self.index: 0}  # read once per wake-up
            allowance = self._fair_allowance(held)
            if allowance <= 0:
                now = time.monotonic()
                if not self.deferred_since:
                    self.deferred_since = now
                if now - self.deferred_since < self._patience(held):
                    self._wait(DEFER_SECONDS)
                    return
                allowance = 1  # nobody took it in time
        self.deferred_since = 0.0
        for _ in range(min(allowance, ACCEPT_BATCH)):
            if self.count >= self.max_connections:
                break
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                break  # nothing left (or another process took it)
            except OSError as exc:
                if exc.errno in RESOURCE_ERRORS:
                    self._out_of_resources(exc)
                break  # e.g. ECONNABORTED: the next wake-up goes on
            conn.setblocking(False)
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not TCP (a Unix socket in a test)
            self.count += 1
            self.on_accept(conn)
            if self.board is not None:
                self.board.add_connections(self.index, 1)
        self._update()

    def _fair_allowance(self, held: dict[int, int]) -> int:
        """How many waiting connections this worker may take now: up to an even split, between the serving
        workers (``held``: their connections by index), of every connection held and waiting (at least one
        waits: the socket is readable)."""
        waiting = waiting_connections(self.sock) or 1
        share = -(-(sum(held.values()) + waiting) // len(held))  # rounded up
        return share - self.board.connections(self.index)

    def _patience(self, held: dict[int, int]) -> float:
        """How long to leave connections above this worker's share to the others: briefly when one of them is
        predicting (it may be stuck in a long prediction), longer when they are idle and merely waiting for a
        core (taking one per 5 ms then would pile a burst onto this worker on a busy machine)."""
        if any(self.board.busy_since(index) for index in held if index != self.index):
            return MAX_DEFER_SECONDS
        return MAX_DEFER_IDLE_SECONDS

    def _out_of_resources(self, exc: OSError) -> None:
        self.backoffs += 1
        now = time.monotonic()
        if now - self._warned_at > WARN_EVERY_SECONDS:
            self._warned_at = now
            log.warning("accept() failed (%s) holding %d connections; pausing accepts for %g s",
                        exc.strerror, self.count, self.backoff_seconds)
        self._wait(self.backoff_seconds)

    def connection_closed(self) -> None:
        """A connection this acceptor accepted has ended."""
        self.count -= 1
        if self.board is not None:
            self.board.add_connections(self.index, -1)
        if self.count == self.max_connections - 1:
            self._update()

    def close(self) -> None:
        """Stop accepting (the socket stays open)."""
        self.closed = True
        self._update()
