"""The exception-handler table of the gateway's FastAPI stack: every error leaves in the one JSON shape.

``EXCEPTION_HANDLERS`` maps an exception type to its handler, given once to ``FastAPI(exception_handlers=...)``:
``ApiError`` (the gateway's own), Starlette's ``HTTPException`` (an unknown path, a wrong method),
``RequestValidationError`` (a path parameter FastAPI refused) and ``Exception`` (a bug: 500, which
Starlette's outermost layer answers and then re-raises for ``Edge`` to log). The hot routes and ``Edge``
answer their errors with ``errors.send_error``, the same shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelport.gateway.errors import STATUS_CODES, ApiError, error_body, error_headers, internal_error
from modelport.gateway.request_state import request_state

async def api_error(request: Request, exc: ApiError) -> Response:
    """An ``ApiError`` in its public JSON shape, noted for the access log."""
    state = request_state(request)
    state["error_code"] = exc.code
    body = error_body(exc, state.get("request_id"))
    return Response(body, status_code=exc.status, headers={k.decode(): v.decode() for k, v in error_headers(exc, body)})


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's 404 / 405 (and any other ``HTTPException``) with a message that says where to look."""
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    code = STATUS_CODES.get(exc.status_code, "http_error")
    return await api_error(request, ApiError(exc.status_code, code, message, headers=dict(exc.headers or {})))


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's refusal of a parameter, as a 400 naming the field."""
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
    return await api_error(request, ApiError(400, "invalid_field", f"{field}: {first.get('msg', 'invalid')}", field=field))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug in a framework route: a 500 without its details (``Edge`` logs the traceback)."""
    return await api_error(request, internal_error())


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[Response]]] = {
    ApiError: api_error,
    HTTPException: http_error,
    RequestValidationError: validation_error,
    Exception: unexpected_error,
}
