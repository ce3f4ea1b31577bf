"""Time limits for many concurrent calls on one event loop, checked by one periodic sweep.

``asyncio.timeout`` arms a timer of its own for every call and looks the running loop up twice (each
lookup is a ``getpid()`` system call); on the gateway's in-process path that was about 3% of the
services process's CPU (py-spy, c=16). :class:`Deadlines` keeps each call's deadline in a dict and one
timer, armed only while calls are in flight, cancels the task of any call past its deadline. A call
learns that its cancellation was the deadline's from :meth:`Deadlines.expired`, and turns it into its
own timeout error, as ``asyncio.timeout`` would. The price is precision: a call may overrun its limit
by up to ``resolution`` (default 0.1 s), fine for limits of seconds.

    deadlines = Deadlines(loop)
    with deadlines.limit(seconds, lambda: MyTimeout()):   # inside the task that makes the call
        ...                                               # awaits; past the limit: MyTimeout
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadlines:
    """Deadlines of the tasks making calls on ``loop``, enforced by cancelling the late ones."""

    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = 0.1) -> None:
        self.loop = loop
        self.resolution = resolution
        self._due: dict[asyncio.Task, tuple[float, int]] = {}  # task → (deadline, its cancel count before)
        self._late: set[asyncio.Task] = set()  # cancelled by a deadline, until forgotten
        self._sweeping = False

    def limit(self, seconds: float, error: Callable[[], BaseException]) -> "_Limit":
        """A ``with`` block of the current task that may last ``seconds``; past them, it ends with ``error()``
        (a cancellation from elsewhere stays a cancellation)."""
        return _Limit(self, seconds, error)

    def watch(self, seconds: float) -> asyncio.Task:
        """Give the current task ``seconds`` from now; returns the task (for :meth:`expired` and :meth:`forget`)."""
        task = asyncio.current_task(self.loop)
        if task is None:
            raise RuntimeError("Deadlines.watch must be called from a task on its event loop")
        self._due[task] = (self.loop.time() + seconds, task.cancelling())
        if not self._sweeping:
            self._sweeping = True
            self.loop.call_later(self.resolution, self._sweep)
        return task

    def expired(self, task: asyncio.Task) -> bool:
        """Whether ``task``'s CancelledError is its deadline's (and no other cancellation is pending): then the
        cancellation is withdrawn, and the caller raises its timeout instead."""
        if task not in self._late:
            return False
        self._late.discard(task)
        cancelling = self._due.get(task, (0.0, 0))[1]
        return task.uncancel() <= cancelling

    def forget(self, task: asyncio.Task) -> None:
        """The call is over (answered, failed or timed out)."""
        self._due.pop(task, None)
        self._late.discard(task)

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, (deadline, _) in list(self._due.items()):
            if deadline <= now and task not in self._late:
                self._late.add(task)
                task.cancel()
        if self._due:
            self.loop.call_later(self.resolution, self._sweep)
        else:
            self._sweeping = False


class _Limit:
    """One call's limit, as a context manager (see :meth:`Deadlines.limit`)."""

    __slots__ = ("deadlines", "seconds", "error", "task")

    def __init__(self, deadlines: Deadlines, seconds: float, error: Callable[[], BaseException]) -> None:
        self.deadlines = deadlines
        self.seconds = seconds
        self.error = error
        self.task: asyncio.Task | None = None

    def __enter__(self) -> None:
        self.task = self.deadlines.watch(self.seconds)

    def __exit__(self, kind, value, traceback) -> bool:  # noqa: ANN001
        deadlines, task = self.deadlines, self.task
        try:
            if kind is asyncio.CancelledError and deadlines.expired(task):
                raise self.error() from None
        finally:
            deadlines.forget(task)
        return False
