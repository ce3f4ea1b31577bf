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

import asyncio
import time
from typing import AsyncIterator, Iterator
from urllib.parse import urlsplit

import orjson

from modelport.gateway.errors import ApiError
from modelport.gateway.transports.base import STREAM_ACCEPT_HEADER, Invocation, optional_fields
from modelport.gateway.transports.errors import (
    broken_answer, service_error, stream_idle_error, timeout_error, unavailable,
)
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
        from botocore.eventstream import EventStreamBuffer

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
            if response.status >= 300:
                payload = bytearray()
                while (chunk := await _next_chunk(chunks, idle_timeout, endpoint)) is not None:
                    payload += chunk
                raise runtime_error(response.status, response.headers, bytes(payload), endpoint)
            buffer = EventStreamBuffer()
            while (chunk := await _next_chunk(chunks, idle_timeout, endpoint)) is not None:
                buffer.add_data(chunk)
                for message in _whole_messages(buffer, endpoint):
                    part = stream_event(message.headers, message.payload, endpoint)
                    if part is not None:
                        yield part
        finally:
            await chunks.aclose()  # not read to its end: hangs up on hosting, which stops the model

    def close(self) -> None:
        """Close the idle connections."""
        self._pools.close()


async def _next_chunk(chunks: AsyncIterator[bytes], idle_timeout: float, endpoint: str) -> bytes | None:
    """The next chunk of a streamed answer within ``idle_timeout`` (else a 504), None at its end; an
    answer cut short is a 502."""
    try:
        return await asyncio.wait_for(anext(chunks), idle_timeout)
    except StopAsyncIteration:
        return None
    except TimeoutError:
        raise stream_idle_error(endpoint, idle_timeout) from None
    except UpstreamError:
        raise broken_answer(endpoint) from None


def _whole_messages(buffer, endpoint: str) -> Iterator:
    """The event-stream messages complete in ``buffer`` so far (botocore's parser); a bad checksum or
    length is a 502: the framing cannot be trusted any further."""
    from botocore.eventstream import ParserError

    while True:
        try:
            message = next(buffer)
        except StopIteration:
            return
        except ParserError:
            raise broken_answer(endpoint) from None
        yield message


def stream_event(headers: dict, payload: bytes, endpoint: str) -> bytes | None:
    """A response-stream message read as botocore reads it: a PayloadPart's bytes; None for any other
    event (skipped); an ApiError raised for an exception or error message (ModelStreamError, ...)."""
    kind = headers.get(":message-type")
    if kind == "event":
        return payload if headers.get(":event-type") == "PayloadPart" else None
    if kind == "exception":
        fields = _json_object(payload)
        message = str(fields.get("Message", fields.get("message", "")))
        raise service_error(str(headers.get(":exception-type", "")), message, fields, endpoint)
    if kind == "error":
        raise service_error(str(headers.get(":error-code", "")), str(headers.get(":error-message", "")), {}, endpoint)
    return None


def runtime_error(status: int, headers: dict[str, str], body: bytes, endpoint: str) -> ApiError:
    """The gateway's error for a non-2xx Runtime API answer."""
    code, message, fields = aws_error(status, headers, body)
    return service_error(code, message, fields, endpoint)


def aws_error(status: int, headers: dict[str, str], body: bytes) -> tuple[str, str, dict]:
    """(error name, message, fields) of a non-2xx AWS answer, read as botocore reads rest-json and JSON 1.1
    errors: the name from ``x-amzn-ErrorType`` or the body's ``__type`` (namespace dropped)."""
    fields = _json_object(body)
    code = headers.get("x-amzn-errortype", "").split(":", 1)[0]
    code = code or str(fields.get("__type") or fields.get("code") or "").rsplit("#", 1)[-1] or f"HTTP{status}"
    message = str(fields.get("message") or fields.get("Message") or body[:200].decode("utf-8", "replace"))
    return code, message, fields


def plain_http_address(url: str) -> tuple[str, int, str]:
    """(host, port, path prefix) of a plain ``http://`` URL; ValueError for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the http transport needs a plain http:// URL, got {url!r}")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/")


def bearer(token: str) -> list[tuple[str, str]]:
    """The header that presents hosting's token (none when there is no token)."""
    return [("Authorization", f"Bearer {token}")] if token else []


def _json_object(data: bytes) -> dict:
    """``data`` parsed as a JSON object, or {} when it is not one."""
    try:
        parsed = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
