"""Errors as values at the border: one exception type and one JSON shape for every HTTP error.

Shape: ``{"error": {"code": ..., "message": ..., "retryable": ...}, "requestId": ...}``; extra details
(the offending ``field``, the model's ``modelStatus`` / ``modelError`` / ``modelMessage``) sit inside
``error``.

What a public client sees of an error is decided here, once (``public_error``), for every answer
(``error_body`` and ``send_error`` apply it; code that raises a backend's error on towards the
framework converts it first with ``to_public``, so that the status sent is the public one too):

- The gateway's own 4xx messages (400s naming the field, 404, 413, 415, 429) are kept as they are.
- A model that refused the request (its status 4xx) wrote its message for the caller: it is kept, as
  ``modelMessage`` too, with file paths and any traceback removed and at most 300 characters; and the
  answer has the model's status, not 502, since it is the request that was bad, not a server.
- A model that failed (5xx, no status, a timeout) raised an exception: its text — file paths,
  tracebacks, library internals — is of no use to the caller and tells an attacker about the host.
  The answer says the model failed, with its status and error code (``modelStatus``,
  ``modelError``), not its message.
- Any other 5xx message, and what backends said in a 4xx, is kept with paths and tracebacks removed.

Whatever is removed is logged in full (event ``error_detail``) under the request id, which every
error answer carries as ``requestId``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

from modelport.gateway.logs import get_logger, log_json
from modelport.net.asgi_types import Send

MAX_PUBLIC_TEXT = 300
# 4xx codes whose message carries what a backend (SageMaker, a chat server, Bedrock) said
_BACKEND_CLIENT_CODES = frozenset({"backend_rejected", "backend_throttled"})
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|\n\s*File \"")
# an absolute path of two or more segments (not inside a URL or a word), ~/..., or C:\...
_PATH = re.compile(r"(?<![\w.:/~-])(?:~|/[^\s/'\"()<>,;:]+)(?:/[^\s/'\"()<>,;:]+)+/?|\b[A-Za-z]:\\[^\s'\"]+")


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
        self.public = False  # True once it is the form a public client may see (public_error)


def scrub(text: str) -> str:
    """``text`` without a traceback (cut where it starts) or file paths (``<path>``), capped in length."""
    match = _TRACEBACK.search(text)
    if match:
        text = text[: match.start()].rstrip()
    text = _PATH.sub("<path>", text).strip()
    return text if len(text) <= MAX_PUBLIC_TEXT else text[: MAX_PUBLIC_TEXT - 1] + "…"


def public_error(error: ApiError) -> ApiError:
    """The error as a public client may see it (the rules are in this module's docstring)."""
    if error.public:
        return error
    if error.code == "model_error":
        return _model_failure(error)
    if error.status >= 500 or error.code in _BACKEND_CLIENT_CODES:
        message = scrub(error.message)
        if message != error.message:
            return _copy(error, message, error.details)
    error.public = True
    return error


def _model_failure(error: ApiError) -> ApiError:
    status = error.details.get("modelStatus")
    model_code, model_text = _model_said(error.details.get("modelMessage"))
    details: dict[str, Any] = {"modelStatus": status}
    if model_code:
        details["modelError"] = model_code
    if isinstance(status, int) and 400 <= status < 500:
        details["modelMessage"] = scrub(model_text)
        message = f"the model refused the request ({status})" + (f": {details['modelMessage']}" if details["modelMessage"] else "")
        return _copy(error, message, details, status=status)
    if status == 0:
        message = "the model did not answer within its invocation timeout"
    else:
        what = ", ".join(str(x) for x in (status, model_code) if x is not None) or "no status"
        message = f"the model failed ({what}); its error is in the gateway's log under this requestId"
    return _copy(error, message, details)


def _model_said(text: Any) -> tuple[str | None, str]:
    """(error code, message) of what a model answered: the runtime's JSON ``{"error", "message"}``, or plain text."""
    if not isinstance(text, str):
        return None, ""
    if text.startswith("{"):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
            code = parsed.get("error") if isinstance(parsed.get("error"), str) else None
            return code, parsed["message"]
    return None, text


def _copy(error: ApiError, message: str, details: dict[str, Any], status: int | None = None) -> ApiError:
    public = ApiError(status or error.status, error.code, message, retryable=error.retryable, headers=error.headers, **details)
    public.public = True
    return public


def to_public(error: ApiError, request_id: str | None) -> ApiError:
    """``public_error(error)``; what it left out is logged in full under ``request_id``."""
    public = public_error(error)
    if public is not error:
        log_json(
            get_logger(), logging.WARNING, "error_detail",
            requestId=request_id, status=error.status, code=error.code, message=error.message,
            details=error.details or None,
        )
    return public


def error_body(error: ApiError, request_id: str | None) -> bytes:
    """The JSON bytes of an error response, in its public form."""
    public = to_public(error, request_id)
    payload: dict[str, Any] = {"code": public.code, "message": public.message, "retryable": public.retryable}
    payload.update(public.details)
    return orjson.dumps({"error": payload, "requestId": request_id})


def error_parts(error: ApiError, request_id: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    """An error response in its public form: status, headers (lower-case names, no Content-Length) and body."""
    public = to_public(error, request_id)
    return public.status, _headers_of(public), error_body(public, request_id)


def _headers_of(error: ApiError) -> list[tuple[str, str]]:
    """An error response's headers: JSON, and the error's own (Retry-After, ...) by lower-case name."""
    return [("content-type", "application/json"), *((k.lower(), v) for k, v in error.headers.items())]


def raw_headers(headers: list[tuple[str, str]], body: bytes) -> list[tuple[bytes, bytes]]:
    """Response headers as ASGI sends them: Content-Length for ``body`` first, then ``headers`` encoded."""
    raw = [(b"content-length", b"%d" % len(body))]
    raw.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers)
    return raw


def error_headers(error: ApiError, body: bytes) -> list[tuple[bytes, bytes]]:
    """Raw ASGI headers of an error response (content type, length and the error's own headers)."""
    return raw_headers(_headers_of(error), body)


def internal_error() -> ApiError:
    """The 500 for a bug in the gateway: no details (the log has them, under the request id)."""
    return ApiError(500, "internal_error", "the gateway failed on this request; it is logged under the request id", retryable=True)


async def send_error(send: Send, error: ApiError, request_id: str | None) -> None:
    """Send an error response, in its public form, straight on an ASGI `send` (no framework in the way)."""
    status, headers, body = error_parts(error, request_id)
    await send({"type": "http.response.start", "status": status, "headers": raw_headers(headers, body)})
    await send({"type": "http.response.body", "body": body})


# Codes for the statuses the framework itself raises (unknown path, wrong method).
STATUS_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}
