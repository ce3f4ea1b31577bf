"""The Runtime API of a hosting that runs in the gateway's own process (``modelport up``), without a socket.

Under ``modelport up`` the gateway's app and hosting share one process and one event loop
(``modelport.stack.services``). This transport hands each InvokeEndpoint to hosting's request handler
directly (:class:`~modelport.net.in_process.InProcessClient`): the same request hosting would read off a
socket — the same path, the ``X-Amzn-SageMaker-*`` headers, hosting's token as a bearer token and a
loopback ``Host`` for its gate — and hosting's own answer, read as the HTTP transport reads it (errors by
``x-amzn-ErrorType``, response streams in event-stream framing: ``wire.py``). So it goes through the
SageMaker Runtime API and imports nothing of hosting; what it saves is an HTTP round trip and a process
hop on every request.

A call that outlives the backend timeout is a 504, as over HTTP. Hosting's handler is cancelled then: it
stops waiting for the instance and releases it as after its own invocation timeout (the worker finishes
the request and its answer is dropped), where over HTTP it would wait on and answer a closed connection.
The limits are kept by one periodic sweep (``net/deadlines.py``), not a timer per call: they hold to
within 0.1 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator

from modelport.gateway.transports.base import STREAM_ACCEPT_HEADER, Invocation, optional_fields
from modelport.gateway.transports.errors import stream_idle_error, timeout_error
from modelport.gateway.transports.wire import payload_parts, runtime_error
from modelport.net.deadlines import Deadlines
from modelport.net.in_process import InProcessClient, finish
from modelport.net.messages import Response


class InProcessTransport:
    """InvokeEndpoint and its response stream, handed to hosting's handler on this event loop."""

    name = "in-process"

    def __init__(self, client: InProcessClient, token: str, timeout: float, host: str = "127.0.0.1") -> None:
        self.client = client
        self.timeout = timeout
        self.deadlines = Deadlines(client.loop)
        self._fixed = {"host": host, **({"authorization": f"Bearer {token}"} if token else {})}

    async def invoke(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, custom_attributes: str | None = None, target_variant: str | None = None, target_model: str | None = None,
    ) -> Invocation:
        """InvokeEndpoint through hosting's handler, bounded by the backend timeout (→ 504)."""
        headers = self._headers(optional_fields(content_type, accept, custom_attributes, target_variant, target_model))
        started = time.perf_counter()
        with self.deadlines.limit(self.timeout, lambda: timeout_error(endpoint, self.timeout)):
            response = await self.client.request("POST", f"/endpoints/{endpoint}/invocations", headers, body)
            try:
                answer = await _whole_body(response)
            finally:
                finish(response)
        response_headers = _lower(response)
        if response.status >= 300:
            raise runtime_error(response.status, response_headers, answer, endpoint)
        return Invocation(
            body=answer,
            content_type=response_headers.get("content-type"),
            variant=response_headers.get("x-amzn-invoked-production-variant"),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def invoke_stream(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, idle_timeout: float, custom_attributes: str | None = None, target_variant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """InvokeEndpointWithResponseStream through hosting's handler; yields each PayloadPart's bytes."""
        fields = optional_fields(content_type, accept, custom_attributes, target_variant)
        headers = self._headers([(p, STREAM_ACCEPT_HEADER if p == "Accept" else h, v) for p, h, v in fields])
        with self.deadlines.limit(idle_timeout, lambda: stream_idle_error(endpoint, idle_timeout)):
            response = await self.client.request(
                "POST", f"/endpoints/{endpoint}/invocations-response-stream", headers, body)
        chunks = _chunks(response)
        try:
            async for part in payload_parts(response.status, _lower(response), chunks, endpoint, idle_timeout):
                yield part
        finally:
            await chunks.aclose()  # stops hosting's stream (and so the model) when the caller stops early
            finish(response)

    def close(self) -> None:
        """Nothing to close: there are no connections."""

    def _headers(self, fields: list[tuple[str, str, str]]) -> dict[str, str]:
        """The request's headers as hosting's handler receives them: lower-case names."""
        return {**{header.lower(): value for _, header, value in fields}, **self._fixed}


def _lower(response: Response) -> dict[str, str]:
    """A response's headers by lower-case name (``content_type`` included when set apart)."""
    headers = {name.lower(): value for name, value in response.headers or ()}
    if response.content_type is not None:
        headers["content-type"] = response.content_type
    return headers


async def _whole_body(response: Response) -> bytes:
    """The answer's body: its bytes, or its stream read to the end."""
    if response.stream is None:
        return bytes(response.body or b"")
    return b"".join([chunk async for chunk in _chunks(response)])


async def _chunks(response: Response) -> AsyncIterator[bytes]:
    """The answer's body as chunks: its stream (async, or a plain iterator pulled in a thread), else its bytes."""
    stream = response.stream
    if stream is None:
        if response.body:
            yield bytes(response.body)
        return
    if hasattr(stream, "__anext__"):
        try:
            async for chunk in stream:
                yield chunk
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return
    iterator = iter(stream)
    end = object()
    try:
        while (chunk := await asyncio.to_thread(next, iterator, end)) is not end:
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
