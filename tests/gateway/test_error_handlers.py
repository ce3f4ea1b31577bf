"""The gateway's exception-handler table: each type it maps answers in the one JSON error shape, and
``create_app`` gives FastAPI exactly this table (the routes' behaviour is checked through HTTP in
test_gateway_http.py)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from modelport.gateway.app import create_app
from modelport.gateway.error_handlers import EXCEPTION_HANDLERS
from modelport.gateway.errors import ApiError
from modelport.gateway.settings import GatewaySettings


def request(method: str = "GET", path: str = "/somewhere") -> Request:
    """A real Starlette request for a scope as Edge leaves it (with the request id in its state)."""
    return Request({"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
                    "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "headers": [],
                    "state": {"request_id": "rid-1"}})


CASES = [
    (ApiError(429, "throttled", "slow down", retryable=True, headers={"Retry-After": "3"}), "GET", 429, "throttled", "slow down"),
    (HTTPException(404), "GET", 404, "not_found", "no route GET /somewhere; see /docs for the API"),
    (HTTPException(405, headers={"Allow": "POST"}), "PUT", 405, "method_not_allowed", "method PUT is not allowed on /somewhere"),
    (RequestValidationError([{"loc": ("path", "model"), "msg": "too long", "type": "x"}]), "POST", 400, "invalid_field", "model: too long"),
    (KeyError("a bug"), "GET", 500, "internal_error", "the gateway failed on this request; it is logged under the request id"),
]


def test_the_table_maps_each_type_the_gateway_answers():
    assert set(EXCEPTION_HANDLERS) == {ApiError, HTTPException, RequestValidationError, Exception}


@pytest.mark.parametrize(("exc", "method", "status", "code", "message"), CASES,
                         ids=["api-error", "not-found", "method-not-allowed", "validation", "bug"])
def test_each_handler_answers_the_one_json_shape(exc, method, status, code, message):
    handler = next(EXCEPTION_HANDLERS[t] for t in type(exc).__mro__ if t in EXCEPTION_HANDLERS)
    req = request(method)
    response = asyncio.run(handler(req, exc))
    body = orjson.loads(response.body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert body == {"error": {**body["error"], "code": code, "message": message}, "requestId": "rid-1"}
    assert req.scope["state"]["error_code"] == code  # for the access log
    if status == 429:
        assert response.headers["retry-after"] == "3" and body["error"]["retryable"] is True
    if status == 405:
        assert response.headers["allow"] == "POST"
    if status == 400:
        assert body["error"]["field"] == "model"


def test_create_app_gives_fastapi_this_table():
    app = create_app(GatewaySettings(mode="local", region="us-east-1", page_dir=None, chat_provider="none"))
    for exc_type, handler in EXCEPTION_HANDLERS.items():
        assert app.exception_handlers[exc_type] is handler
