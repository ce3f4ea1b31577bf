"""Adaptive batching inside one worker process: when to release the requests that wait for a predict.

A worker's event loop parses requests and runs predictions on the same thread, so nothing is parsed while
a predict runs: requests that came in meanwhile are read in the loop pass right after it. Requests
therefore "arrive together" when they are read in the same loop pass; the batcher collects them and
decides at the end of that pass (``call_soon``):

- ``full``: ``max_size`` requests wait, or every connection this worker holds has a request waiting (no
  other request can come);
- ``idle``: the requests came while the queue was empty and the model idle (not right after a batch):
  released at once, so a lone request at low load pays no delay. When the worker holds only that
  request's connection, nothing else can join it in this pass, so it is predicted inside ``submit`` and
  answered directly, as with batching off (no loop pass, no Deferred);
- ``delay``: otherwise (they came while a batch ran, or joined a waiting batch) the batch waits for more
  until the oldest request has waited ``max_delay`` seconds.

Requests read in the loop pass right after a batch count as having come while it ran. ``submit`` returns a
:class:`~modelport.net.messages.Deferred` that ``run`` resolves (the connection holds the request without a
task), or the response itself when ``run`` answered it inside ``submit``. ``on_batch(size, reason, waits)`` is
called once per released batch with each request's queue wait in seconds (the metrics hook; None: nothing
is called).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from modelport.net.messages import Deferred

logger = logging.getLogger("modelport.runtime")

FULL, DELAY, IDLE = "full", "delay", "idle"
_SETTLE_PASSES = 1  # loop passes after a batch whose arrivals count as "came while it ran"


class Waiting:
    """One request waiting in the queue: what it carries, its answer, when it came, and whether a batch
    had just run when it came."""

    __slots__ = ("payload", "answer", "since", "after_batch")

    def __init__(self, payload: Any, answer: Deferred, since: float, after_batch: bool) -> None:
        self.payload = payload
        self.answer = answer
        self.since = since
        self.after_batch = after_batch


class Batcher:
    """Collects requests and hands them to ``run(batch)`` in batches; ``run`` resolves each ``answer``."""

    on_batch: Callable[[int, str, list[float]], None] | None = None

    def __init__(self, run: Callable[[list[Waiting]], None], max_size: int, max_delay: float,
                 connections: Callable[[], int]) -> None:
        self.run = run
        self.max_size = max_size
        self.max_delay = max_delay
        self.connections = connections  # how many connections this worker holds now
        self.queue: list[Waiting] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self._flush_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._batches = 0
        self._after_batch = False

    def submit(self, payload: Any) -> Any:
        """Queue ``payload``; ``run`` resolves the answer once its batch has been predicted. Returns the Deferred,
        or the response when the request was alone on this worker's only connection and was answered at once."""
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        answer = Deferred()
        self.queue.append(Waiting(payload, answer, loop.time(), self._after_batch))
        if len(self.queue) == 1 and not self._after_batch and self._timer is None and self.connections() <= 1:
            self._release(IDLE)  # alone, and no other connection can bring a request to join it
            if answer.response is not None:
                return answer.response
            return answer
        if not self._flush_due:
            self._flush_due = True
            loop.call_soon(self._flush)
        return answer

    def _flush(self) -> None:
        """End of a loop pass: release what is due, else make sure the oldest request's delay is timed."""
        self._flush_due = False
        released = False
        while len(self.queue) >= self.max_size:
            self._release(FULL)
            released = True
        queue = self.queue
        if not queue:
            return
        if self._timer is None and not released and not any(w.after_batch for w in queue):
            self._release(IDLE)
        elif len(queue) >= self.connections():
            self._release(FULL)
        elif self._timer is None:
            self._timer = self.loop.call_at(queue[0].since + self.max_delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.queue:
            self._release(DELAY)
        if self.queue and not self._flush_due:
            self._flush_due = True
            self.loop.call_soon(self._flush)

    def _release(self, reason: str) -> None:
        """Predict the oldest ``max_size`` waiting requests (fewer if fewer wait) as one batch."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        size = self.max_size
        batch, self.queue = self.queue[:size], self.queue[size:]
        if self.on_batch is not None:
            now = self.loop.time()
            try:
                self.on_batch(len(batch), reason, [now - w.since for w in batch])
            except Exception:  # noqa: BLE001 - statistics must never fail a batch
                logger.exception("the on_batch hook failed")
        self.run(batch)
        self._batches += 1
        self._after_batch = True
        self.loop.call_soon(self._settle, self._batches, _SETTLE_PASSES)

    def _settle(self, batch_number: int, passes: int) -> None:
        if batch_number != self._batches:
            return  # a later batch keeps the window open
        if passes > 1:
            self.loop.call_soon(self._settle, batch_number, passes - 1)
        else:
            self._after_batch = False
