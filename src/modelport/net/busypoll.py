"""Keep a server's event loop polling for a moment after each answer, instead of sleeping.

Used by runtime workers, hosting and the local gateway.

On virtual machines (and CPUs with deep idle states) a core that goes idle between requests takes
tens of microseconds to wake up again; at low concurrency that wake-up is a large part of a fast
model's latency (measured here: 0.35 ms → 0.25 ms p50 at one connection when the cores were kept
busy). After each response the loop keeps polling its sockets without blocking for a short window
(``MODELPORT_BUSY_POLL_MS``, default 2 ms; 0 switches it off). Under load requests arrive before the
window matters; when idle it costs nothing — at most one window of CPU per request. Spinning steps
aside for any real work (see ``BusyPoll``), so several spinning servers on few cores do not slow
each other down; a turn that follows an answer does not step aside (the loop is busy, not spinning),
so under load the window costs no system calls.
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref

_PARAM = os.sched_param(0)


def _own_policy() -> int | None:
    """This thread's scheduling policy when spinning may drop to SCHED_IDLE and return to it, else None."""
    if not hasattr(os, "SCHED_IDLE"):
        return None
    policy = os.sched_getscheduler(0)
    return policy if policy in (os.SCHED_OTHER, os.SCHED_BATCH) else None


CONTENDED_SHARE = 0.5  # below this share of wall time on the CPU while spinning, others need the cores
PAUSE_SECONDS = 1.0  # how long spinning stays off after contention was seen
CHECK_EVERY = 256  # spins between two contention checks during a long spin


_POLLS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BusyPoll]" = weakref.WeakKeyDictionary()


def busy_poll_of(loop: asyncio.AbstractEventLoop, window_seconds: float) -> "BusyPoll":
    """The one :class:`BusyPoll` of ``loop``, made on first use: servers sharing a loop (hosting and the gateway
    in `modelport up`) share its spinning instead of each spinning the same loop; the longest window applies."""
    poll = _POLLS.get(loop)
    if poll is None:
        poll = _POLLS[loop] = BusyPoll(loop, window_seconds)
    else:
        poll.window = max(poll.window, window_seconds)
    return poll


class BusyPoll:
    """Extends a spin window on every ``kick()``; the loop polls without blocking until it ends.

    Spinning is polite and backs off: each turn steps aside for any other task that wants the core
    (a moment at ``SCHED_IDLE`` priority, so real work anywhere on the machine always wins over a
    spinner; plain ``sched_yield`` where that is not allowed), and when the spinning process got less
    than half of the wall time on a CPU (a loaded machine, or a chain of servers on few cores) it stops
    spinning for a second, since then the cores are not idle and there is no wake-up latency to save.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, window_seconds: float):
        self.loop = loop
        self.window = window_seconds
        self.deadline = 0.0
        self.spinning = False
        self.spins = 0  # how many extra loop turns were taken (for tests and curiosity)
        self.steps_aside = 0  # how many of those turns stepped aside (the others followed an answer)
        self._answered = False  # kick() since the last turn: the loop did real work in between
        self.paused_until = 0.0
        self.pauses = 0  # how many times contention switched spinning off
        self._since_check = 0
        self._wall_start = 0.0
        self._cpu_start = 0.0
        self._own_policy = _own_policy()  # None: step aside with sched_yield instead

    def kick(self) -> None:
        """A request was answered: keep the loop awake for one more window."""
        if self.window <= 0:
            return
        now = time.monotonic()
        if now < self.paused_until:
            return
        self.deadline = now + self.window
        self._answered = True
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
        if self._answered:  # busy serving since the last turn: nothing idle to step aside from (2 syscalls saved)
            self._answered = False
        else:
            self.steps_aside += 1
            self._step_aside()
        self.loop.call_soon(self._spin)

    def _step_aside(self) -> None:
        """Let any runnable task have this core first; come back at our own priority to do work."""
        if self._own_policy is not None:
            try:
                os.sched_setscheduler(0, os.SCHED_IDLE, _PARAM)  # anything runnable here preempts us now
                os.sched_setscheduler(0, self._own_policy, _PARAM)  # back to normal for the next events
                return
            except OSError:  # not allowed here (seccomp, an older kernel): yield instead from now on
                self._own_policy = None
        os.sched_yield()

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

