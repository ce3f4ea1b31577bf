"""The Runtime API over pooled keep-alive HTTP/1.1, for a plain ``http://`` Runtime URL (modelport hosting).

It speaks exactly the wire format that boto3's ``sagemaker-runtime`` client speaks: ``POST
/endpoints/{name}/invocations`` and ``/invocations-response-stream`` with the ``X-Amzn-SageMaker-*``
headers; errors named by ``x-amzn-ErrorType`` with ``OriginalStatusCode`` / ``OriginalMessage``; a
response stream in AWS event-stream framing, split into messages by botocore's own
``EventStreamBuffer``. It has no request signing, threads or botocore's per-call machinery, which cost
about 1 ms of CPU per call, so it serves only endpoints that need no AWS signature: hosting takes its
token as ``Authorization: Bearer``. Real SageMaker always goes through boto3.

httptools (under ``net/upstream.py``) is not shipped to Lambda, where this module is never imported.
"""

from __future__ import annotations

import time
from typing import AsyncIterator
from urllib.parse import urlsplit

from modelport.gateway.transports.base import STREAM_ACCEPT_HEADER, Invocation, optional_fields
from modelport.gateway.transports.errors import broken_answer, stream_idle_error, timeout_error, unavailable
from modelport.gateway.transports.wire import payload_parts, runtime_error
from modelport.net.upstream import LoopBoundPool, UpstreamError

MAX_IDLE = 64  # idle keep-alive connections kept per gateway process


class HttpTransport:
    """InvokeEndpoint and its response stream over a pool of keep-alive connections to one base URL
    (per event loop: ``LoopBoundPool``)."""

    name = "http"

    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self.host, self.port, self.prefix = plain_http_address(base_url)
        self.timeout = timeout
        self._auth = bearer(token)
        self._pools = LoopBoundPool(self.host, self.port, max_idle=MAX_IDLE)

    async def invoke(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, custom_attributes: str | None = None, target_variant: str | None = None, target_model: str | None = None,
    ) -> Invocation:
        """POST /endpoints/{endpoint}/invocations, bounded by the backend timeout (→ 504)."""
        fields = optional_fields(content_type, accept, custom_attributes, target_variant, target_model)
        headers = [(header, value) for _, header, value in fields]
        pool = self._pools.get()
        started = time.perf_counter()
        try:
            response = await pool.request("POST", f"{self.prefix}/endpoints/{endpoint}/invocations",
                                          [*headers, *self._auth], body, timeout=self.timeout)
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError since Python 3.11
            raise timeout_error(endpoint, self.timeout) from None
        except UpstreamError as exc:
            raise (broken_answer(endpoint) if exc.answered else unavailable(endpoint)) from None
        except OSError:
            raise unavailable(endpoint) from None
        if response.status >= 300:
            raise runtime_error(response.status, response.headers, response.body, endpoint)
        return Invocation(
            body=response.body,
            content_type=response.headers.get("content-type"),
            variant=response.headers.get("x-amzn-invoked-production-variant"),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def invoke_stream(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, idle_timeout: float, custom_attributes: str | None = None, target_variant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """POST /endpoints/{endpoint}/invocations-response-stream; yields each PayloadPart's bytes."""
        fields = optional_fields(content_type, accept, custom_attributes, target_variant)
        headers = [(STREAM_ACCEPT_HEADER if param == "Accept" else header, value) for param, header, value in fields]
        try:
            response = await self._pools.get().request(
                "POST", f"{self.prefix}/endpoints/{endpoint}/invocations-response-stream", [*headers, *self._auth],
                body, stream=True, timeout=idle_timeout)
        except TimeoutError:
            raise stream_idle_error(endpoint, idle_timeout) from None
        except UpstreamError as exc:
            raise (broken_answer(endpoint) if exc.answered else unavailable(endpoint)) from None
        except OSError:
            raise unavailable(endpoint) from None
        chunks = response.chunks()
        try:
            async for part in payload_parts(response.status, response.headers, chunks, endpoint, idle_timeout):
                yield part
        finally:
            await chunks.aclose()  # not read to its end: hangs up on hosting, which stops the model

    def close(self) -> None:
        """Close the idle connections."""
        self._pools.close()


def plain_http_address(url: str) -> tuple[str, int, str]:
    """(host, port, path prefix) of a plain ``http://`` URL; ValueError for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the http transport needs a plain http:// URL, got {url!r}")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/")


def bearer(token: str) -> list[tuple[str, str]]:
    """The header that presents hosting's token (none when there is no token)."""
    return [("Authorization", f"Bearer {token}")] if token else []
