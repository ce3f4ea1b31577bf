"""Errors as values at the border: one exception type and one JSON shape for every HTTP error.

Shape: ``{"error": {"code": ..., "message": ..., "retryable": ...}, "requestId": ...}``; extra details
(the offending ``field``, the model's ``modelStatus`` / ``modelMessage``) sit inside ``error``.
"""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    """An HTTP error the client should see: status, machine-readable code, human message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.headers = headers or {}
        self.details = details


def error_body(error: ApiError, request_id: str | None) -> bytes:
    """The JSON bytes of an error response."""
    payload: dict[str, Any] = {"code": error.code, "message": error.message, "retryable": error.retryable}
    payload.update(error.details)
    return orjson.dumps({"error": payload, "requestId": request_id})


def error_headers(error: ApiError, body: bytes) -> list[tuple[bytes, bytes]]:
    """Raw ASGI headers of an error response (content type, length and the error's own headers)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items())
    return headers


async def send_error(send, error: ApiError, request_id: str | None) -> None:
    """Send an error response straight on an ASGI `send` (used where no framework is in the way)."""
    body = error_body(error, request_id)
    await send({"type": "http.response.start", "status": error.status, "headers": error_headers(error, body)})
    await send({"type": "http.response.body", "body": body})


# Codes for the statuses the framework itself raises (unknown path, wrong method).
STATUS_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
