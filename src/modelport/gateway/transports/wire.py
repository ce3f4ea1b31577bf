"""Reading the Runtime API's answers as botocore reads them, for the transports that speak its wire format.

- errors: a non-2xx answer's name, message and fields (:func:`aws_error`) become the gateway's error
  (:func:`runtime_error`, through ``errors.py``'s table);
- response streams: AWS event-stream framing split into messages by botocore's own ``EventStreamBuffer``,
  each ``PayloadPart``'s bytes yielded, an exception or error event raised (:func:`payload_parts`).

The pooled HTTP transport reads these from a socket; the in-process one from hosting's answer directly.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Iterator

import orjson

from modelport.gateway.errors import ApiError
from modelport.gateway.transports.errors import broken_answer, service_error, stream_idle_error
from modelport.net.upstream import UpstreamError


async def payload_parts(status: int, headers: dict[str, str], chunks: AsyncIterator[bytes], endpoint: str,
                        idle_timeout: float) -> AsyncIterator[bytes]:
    """The PayloadPart bytes of a response stream's answer (``headers``: lower-case names), each within
    ``idle_timeout`` of the last (else a 504); a non-2xx answer is read whole and raised as the gateway's error."""
    if status >= 300:
        payload = bytearray()
        while (chunk := await _next_chunk(chunks, idle_timeout, endpoint)) is not None:
            payload += chunk
        raise runtime_error(status, headers, bytes(payload), endpoint)
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    while (chunk := await _next_chunk(chunks, idle_timeout, endpoint)) is not None:
        buffer.add_data(chunk)
        for message in _whole_messages(buffer, endpoint):
            part = stream_event(message.headers, message.payload, endpoint)
            if part is not None:
                yield part


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
    """The gateway's error for a non-2xx Runtime API answer (``headers``: lower-case names)."""
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


def _json_object(data: bytes) -> dict:
    """``data`` parsed as a JSON object, or {} when it is not one."""
    try:
        parsed = orjson.loads(data) if data else {}
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
