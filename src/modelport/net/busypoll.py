"""Keep a worker's event loop polling for a moment after each request, instead of sleeping.

On virtual machines (and CPUs with deep idle states) a core that goes idle between requests takes
tens of microseconds to wake up again; at low concurrency that wake-up is a large part of a fast
model's latency (measured here: 0.35 ms → 0.25 ms p50 at one connection when the cores were kept
busy). After each response the loop keeps polling its sockets without blocking for a short window
(``MODELPORT_BUSY_POLL_MS``, default 2 ms; 0 switches it off). Under load requests arrive before the
window matters; when idle it costs nothing — at most one window of CPU per request.
"""

from __future__ import annotations

import asyncio
import os
import time


CONTENDED_SHARE = 0.5  # below this share of wall time on the CPU while spinning, others need the cores
PAUSE_SECONDS = 1.0  # how long spinning stays off after contention was seen
CHECK_EVERY = 256  # spins between two contention checks during a long spin


class BusyPoll:
    """Extends a spin window on every ``kick()``; the loop polls without blocking until it ends.

    Spinning is polite and backs off: each turn yields the core (``sched_yield``) to any other task
    waiting for it, and when the spinning process got less than half of the wall time on a CPU (other
    processes needed the cores: a loaded machine, or a chain of servers on few cores) it stops spinning
    for a second, since then the cores are not idle and there is no wake-up latency to save.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, window_seconds: float):
        self.loop = loop
        self.window = window_seconds
        self.deadline = 0.0
        self.spinning = False
        self.spins = 0  # how many extra loop turns were taken (for tests and curiosity)
        self.paused_until = 0.0
        self.pauses = 0  # how many times contention switched spinning off
        self._since_check = 0
        self._wall_start = 0.0
        self._cpu_start = 0.0

    def kick(self) -> None:
        """A request was answered: keep the loop awake for one more window."""
        if self.window <= 0:
            return
        now = time.monotonic()
        if now < self.paused_until:
            return
        self.deadline = now + self.window
        if not self.spinning:
            self.spinning = True
            self._since_check = 0
            self._wall_start, self._cpu_start = now, time.thread_time()
            self.loop.call_soon(self._spin)

    def _spin(self) -> None:
        # A pending callback makes the loop poll its sockets with a zero timeout instead of sleeping.
        now = time.monotonic()
        self._since_check += 1
        ended = now >= self.deadline
        if ended or self._since_check >= CHECK_EVERY:
            if self._contended(now) or ended:
                self.spinning = False
                return
        self.spins += 1
        os.sched_yield()
        self.loop.call_soon(self._spin)

    def _contended(self, now: float) -> bool:
        """Whether this thread got too little CPU since the last check; if so, pause spinning."""
        cpu = time.thread_time()
        wall = now - self._wall_start
        share = (cpu - self._cpu_start) / wall if wall > 0 else 1.0
        self._since_check = 0
        self._wall_start, self._cpu_start = now, cpu
        if wall > 0.0005 and share < CONTENDED_SHARE:
            self.paused_until = now + PAUSE_SECONDS
            self.pauses += 1
            return True
        return False
