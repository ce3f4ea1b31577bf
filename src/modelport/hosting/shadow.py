"""Shadow variants (``ShadowProductionVariants``): a sampled copy of live traffic goes to the shadow variant after
the production answer is ready; its answer is discarded, never returned, and never delays or fails the caller.

The share of requests copied is the shadow's weight divided by the production variant's, capped at 100 %
(SageMaker documents only that the shadow's ``InitialVariantWeight`` sets "a user specified portion"; equal
weights copy every request, as in its examples). At most ``MAX_OUTSTANDING`` copies per endpoint are in flight;
beyond that a copy is dropped and counted (``ShadowRequestsDropped``) rather than queued. Each copy is counted in
the shadow variant's own metrics (Invocations, errors, ModelLatency) and, when the production request was
captured, captured under the shadow variant's folder with the same ``eventId`` (and ``inferenceId``).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from modelport.hosting.capture.records import DEFAULT_CONTENT_TYPE, Event
from modelport.hosting.router import NoTarget, Router
from modelport.net.upstream import UpstreamError

MAX_OUTSTANDING = 64  # shadow copies in flight per endpoint


class ShadowTraffic:
    """Copies of one endpoint's production requests sent to its shadow variant."""

    def __init__(self, production: Any, shadow: Any, timeout: float, writer: Any) -> None:
        self.production = production  # VariantFleet
        self.shadow = shadow  # VariantFleet
        self.router = Router([shadow])
        self.timeout = timeout
        self.writer = writer  # CaptureWriter
        self.tasks: set[asyncio.Task] = set()
        self.dropped = 0

    def share(self) -> float:
        """The fraction of production requests copied now (weights may change with UpdateEndpointWeightsAndCapacities)."""
        weight = self.production.weight
        return 1.0 if weight <= 0 else min(1.0, self.shadow.weight / weight)

    def copy(self, forward: list[tuple[str, str]], body: bytes, capture: Event | None) -> None:
        """Maybe send a copy of a request (``capture``: the production event when it was captured)."""
        share = self.share()
        if share < 1.0 and random.random() >= share:
            return
        if len(self.tasks) >= MAX_OUTSTANDING:
            self.dropped += 1
            series = self.shadow.series
            if series is not None:
                series.shadow_dropped += 1
            return
        task = asyncio.get_running_loop().create_task(self._send(forward, body, capture))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _send(self, forward: list[tuple[str, str]], body: bytes, capture: Event | None) -> None:
        series = self.shadow.series
        try:
            _, instance = self.router.pick()
        except NoTarget:
            if series is not None:
                series.refused(503)
            return
        instance.begin()
        sent = time.perf_counter()
        try:
            upstream = await instance.pool.request("POST", "/invocations", forward, body, timeout=self.timeout)
        except UpstreamError as exc:
            if exc.sent:
                instance.died_answering()
                self._measure(instance, 500, sent)
            else:
                instance.not_sent()
                self._measure(instance, 503, sent)
            return
        except asyncio.TimeoutError:
            instance.abandoned()
            self._measure(instance, 504, sent)
            return
        except BaseException:
            instance.abandoned()
            raise
        instance.end()
        self._measure(instance, upstream.status, sent)
        if capture is not None and 200 <= upstream.status < 300:
            self.writer.offer(Event(
                capture.endpoint, self.shadow.name, capture.event_key, capture.inference_id, capture.when,
                capture.input_type, capture.input_body, upstream.headers.get("content-type", DEFAULT_CONTENT_TYPE),
                upstream.body, capture.settings))

    def _measure(self, instance: Any, status: int, sent: float) -> None:
        self.shadow.count(status >= 500)
        series = self.shadow.series
        if series is not None:
            seconds = time.perf_counter() - sent
            series.record(status, seconds, seconds)
            if instance.series is not None:
                instance.series.invocations += 1

    async def close(self) -> None:
        """Cancel the copies in flight (their answers were going to be discarded anyway)."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
