"""The workers of asynchronous inference: take queued requests within each endpoint's capacity, stream each
input through an instance into its output object, or write the error to the failure object, then notify.

Capacity is ``MaxConcurrentInvocationsPerInstance`` (else the instance's worker count) × the ready instances of
the endpoint's variants: a request is claimed only when an instance can take it, so with no instance (scaled to
zero) requests wait, and count in ``HasBacklogWithoutCapacity``. The request goes through the Runtime API's own
forwarding (:meth:`~modelport.hosting.runtime_api.RuntimeApi.send`: routing, retries on unreachable instances,
metrics, ModelError); its body is read from the store as it is sent, and the answer is written to a temporary
body as it arrives, put in place (one atomic rename or index update) only when whole, so neither is ever in
memory whole and a request run twice still leaves one output.

After a restart a request that was running is run again (:mod:`.queue`) unless its output or failure object was
already written after it was received: then that result stands (exactly one result per request).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from modelport.hosting.async_inference import notify
from modelport.hosting.async_inference.config import AsyncSettings
from modelport.hosting.async_inference.queue import AsyncQueue, AsyncRequest, Backlog, now
from modelport.hosting.errors import RuntimeApiError
from modelport.hosting.locations import LocationError, Places
from modelport.net.upstream import StreamedBody, UpstreamError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often queues are looked at without a wake-up (capacity that came back, expiries)
IO_CHUNK = 1024 * 1024  # bytes read from an input or written to an output at a time


@dataclass(frozen=True)
class Result:
    """Where one request's result went: its output (ok) or its failure object, and why it failed."""

    ok: bool
    location: str
    content_type: str | None = None
    reason: str | None = None
    expired: bool = False


class AsyncInference:
    """The queue and workers of every asynchronous endpoint of one hosting (started and stopped with it)."""

    def __init__(self, hosting: Any, runtime: Any) -> None:
        self.hosting, self.runtime = hosting, runtime
        self.settings = hosting.settings
        self.queue = AsyncQueue(hosting.registry.path, owner=uuid.uuid4().hex)
        self.running: dict[str, int] = {}  # endpoint → requests being processed now
        self.metrics = hosting.metrics  # None: MODELPORT_METRICS=0
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        if hosting.metrics is not None:
            hosting.metrics.backlog = self.gauges

    def places(self) -> Places:
        """What requests may read and write (hosting's S3, the allowed folders)."""
        return self.hosting.transforms.places()

    # lifetime
    def start(self) -> None:
        """Take up what a previous run left (running requests run again, notifications are sent again), then serve."""
        recovered = self.queue.recover()
        if recovered:
            log.warning("async inference: %d requests interrupted by the last stop are queued again", recovered)
        self._wake = asyncio.Event()
        self._loop_task = asyncio.create_task(self._run())
        for request_id, notice in self.queue.notices():
            self._spawn(self._notify(request_id, notice))

    async def stop(self) -> None:
        """Stop taking requests; those in progress stay in the queue and run again after the next start."""
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.queue.close()

    def wake(self) -> None:
        """A request was queued: look at the queues now."""
        if self._wake is not None:
            self._wake.set()

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # what autoscaling and /metrics read
    def backlogs(self) -> dict[str, Backlog]:
        """Every endpoint's requests queued or running."""
        return self.queue.backlogs()

    def gauges(self) -> dict[str, tuple[float, float, float, int]]:
        """``/metrics``' backlog gauges of every asynchronous endpoint (:data:`~modelport.hosting.metrics.BacklogGauges`)."""
        backlogs = self.backlogs()
        endpoints = {name for name, live in self.hosting.live.items() if any(f.async_config for f in live.fleets)}
        at, out = now(), {}
        for endpoint in sorted(endpoints | set(backlogs)):
            backlog, instances = backlogs.get(endpoint), self.instances(endpoint)
            size = backlog.size if backlog else 0
            out[endpoint] = (size, size / max(1, instances), max(0.0, at - backlog.oldest) if backlog else 0.0,
                             int(size > 0 and instances == 0))
        return out

    def instances(self, endpoint: str) -> int:
        """Instances of ``endpoint``'s variants (ready or starting)."""
        live = self.hosting.live.get(endpoint)
        return sum(len(f.instances) for f in live.fleets if not f.shadow) if live is not None else 0

    # dispatching
    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                self._dispatch()
            except Exception:  # noqa: BLE001 - one failed look must not end the workers
                log.exception("async inference: dispatching failed")

    def _dispatch(self) -> None:
        for request in self.queue.claim_expired(now()):
            live = self.hosting.live.get(request.endpoint)
            config = next((f.async_config for f in live.fleets if f.async_config), None) if live else None
            self._start(request, AsyncSettings.of(config) if config else None)
        for endpoint in self.queue.queued_endpoints():
            live = self.hosting.live.get(endpoint)
            if live is None:
                if self.hosting.registry.get_endpoint(endpoint) is None:  # deleted: its queue goes with it
                    self.queue.drop_endpoint(endpoint)
                continue
            config = next((f.async_config for f in live.fleets if f.async_config), None)
            if live.router is None or config is None:
                continue
            settings = AsyncSettings.of(config)
            free = _capacity(live, settings) - self.running.get(endpoint, 0)
            while free > 0 and (request := self.queue.claim(endpoint)) is not None:
                free -= 1
                self._start(request, settings)

    def _start(self, request: AsyncRequest, settings: AsyncSettings | None) -> None:
        self.running[request.endpoint] = self.running.get(request.endpoint, 0) + 1
        self._spawn(self._process(request, settings))

    # one request
    async def _process(self, request: AsyncRequest, settings: AsyncSettings | None) -> None:
        try:
            result = await asyncio.to_thread(self._earlier_result, request) if request.attempts > 1 else None
            if result is None:
                result = await self._answer(request)
            if result is None:  # back in the queue
                return
            self._count(request.endpoint, result)
            notice = self._notice(request, result, settings)
            self.queue.answered(request.id, notice)
            if notice is not None:
                await self._notify(request.id, notice)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - e.g. the failure object could not be written: run again after a restart
            log.exception("async inference: request %s of %s failed unexpectedly", request.inference_id,
                          request.endpoint)
        finally:
            self.running[request.endpoint] -= 1
            self.wake()

    async def _answer(self, request: AsyncRequest) -> Result | None:
        """Run the request and write its result; None when it went back in the queue (no instance could take it)."""
        if now() > request.expires:
            waited = now() - request.received
            failed = await self._fail(request, f"Request expired: it waited {waited:.0f} s in the queue, longer than "
                                               f"its RequestTTLSeconds ({request.expires - request.received:.0f} s).")
            return replace(failed, expired=True)
        try:
            return await asyncio.wait_for(self._invoke(request), request.timeout)
        except asyncio.TimeoutError:
            return await self._fail(request, f"The invocation timed out: the model did not answer within "
                                             f"{request.timeout:g} s (InvocationTimeoutSeconds).")
        except RuntimeApiError as exc:
            if exc.code == "ServiceUnavailable":  # no instance ready (scaled in, restarting): wait for one
                self.queue.release(request.id)
                return None
            return await self._fail(request, str(exc.extra.get("OriginalMessage") or exc.message))
        except LocationError as exc:
            return await self._fail(request, str(exc))
        except UpstreamError as exc:  # the answer's stream broke off
            return await self._fail(request, f"The model server's worker died while answering ({exc}); see "
                                             f"`modelport logs {request.endpoint}`.")

    async def _invoke(self, request: AsyncRequest) -> Result:
        places = self.places()
        handle: BinaryIO | None = None
        if request.input_location is not None:
            size = await asyncio.to_thread(places.size, request.input_location, "InputLocation")
            handle = await asyncio.to_thread(places.open, request.input_location)
            body = StreamedBody(size, _read(handle))
        else:
            body = StreamedBody(len(request.body or b""), _once(request.body or b""))
        out = None
        try:
            out = await asyncio.to_thread(places.writer, request.output_location, "OutputLocation", None)
            _, instance, upstream = await self.runtime.send(request.endpoint, request.headers, body, request.timeout)
            out.content_type = upstream.headers.get("content-type")
            answer = upstream.chunks()
            finished = False
            try:
                pending = bytearray()
                async for chunk in answer:
                    pending += chunk
                    if len(pending) >= IO_CHUNK:
                        await asyncio.to_thread(out.write, bytes(pending))
                        pending.clear()
                if pending:
                    await asyncio.to_thread(out.write, bytes(pending))
                finished = True
            finally:
                await answer.aclose()  # unfinished: hangs up on the instance
                if finished:
                    instance.end()
                else:
                    instance.abandoned()
            await asyncio.to_thread(out.commit)
            out = None
            return Result(True, request.output_location, upstream.headers.get("content-type"))
        finally:
            if out is not None:
                out.discard()
            if handle is not None:
                handle.close()

    async def _fail(self, request: AsyncRequest, reason: str) -> Result:
        def write() -> None:
            out = self.places().writer(request.failure_location, "FailureLocation", "text/plain; charset=utf-8")
            try:
                out.write(reason.encode())
                out.commit()
            except BaseException:
                out.discard()
                raise

        await asyncio.to_thread(write)
        return Result(False, request.failure_location, reason=reason)

    def _earlier_result(self, request: AsyncRequest) -> Result | None:
        """The result an interrupted run already put in place for this request, if any."""
        places = self.places()
        for ok, location in ((True, request.output_location), (False, request.failure_location)):
            modified = places.modified(location)
            if modified is not None and modified >= request.received:
                return Result(ok, location, reason=None if ok else "see the failure object")
        return None

    def _count(self, endpoint: str, result: Result) -> None:
        if self.metrics is not None:
            series = self.metrics.async_endpoint(endpoint)
            series.processed += 1
            series.failures += not result.ok
            series.expired += result.expired

    # notifications
    def _notice(self, request: AsyncRequest, result: Result, settings: AsyncSettings | None) -> dict[str, Any] | None:
        url = self.settings.async_notify_url
        if not url:
            return None
        sent_type = next((value for name, value in request.headers if name == "Content-Type"), None)
        return notify.message(
            region=self.settings.region, endpoint=request.endpoint, inference_id=request.inference_id,
            received=request.received, input_location=request.input_location, content_type=sent_type,
            ok=result.ok, location=result.location, response_type=result.content_type, reason=result.reason,
            notification=settings.notification if settings is not None else {})

    async def _notify(self, request_id: str, notice: dict[str, Any]) -> None:
        url = self.settings.async_notify_url
        if url and not await asyncio.to_thread(notify.post, url, notice) and self.metrics is not None:
            self.metrics.async_endpoint(notice["requestParameters"]["endpointName"]).notification_failures += 1
        self.queue.finish(request_id)


def _capacity(live: Any, settings: AsyncSettings) -> int:
    """Requests the endpoint's ready instances may run at once."""
    return sum((settings.per_instance or fleet.workers) * fleet.ready_count for fleet in live.fleets if not fleet.shadow)


async def _read(handle: BinaryIO) -> AsyncIterator[bytes]:
    while True:
        data = await asyncio.to_thread(handle.read, IO_CHUNK)
        if not data:
            return
        yield data


async def _once(body: bytes) -> AsyncIterator[bytes]:
    if body:
        yield body
