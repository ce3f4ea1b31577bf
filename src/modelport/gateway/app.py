"""The gateway's ASGI app (FastAPI): health, models, predict, invoke, chat seam, docs and the page.

``create_app()`` reads the settings from the environment; a bad setting becomes a reported
configuration error (``/health``, 503 on the routes it affects), never an exception at import.
POST /predict and /invoke are served by ``HotRoutes`` (plain ASGI) with ``ModelCalls``; the rest by FastAPI.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelport import __version__
from modelport.gateway.auth import ApiKeys
from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.chat.routes import add_chat_routes, chat_lifespan, load_chat_provider
from modelport.gateway.cors import Cors
from modelport.gateway.edge import Edge
from modelport.gateway.errors import STATUS_CODES, ApiError, error_body, error_headers
from modelport.gateway.hot_routes import HotRoutes
from modelport.gateway.logs import get_logger
from modelport.gateway.model_calls import JSON, ModelCalls
from modelport.gateway.model_list import list_models
from modelport.gateway.page import find_page_dir, make_page_app
from modelport.gateway.ratelimit import TokenBuckets
from modelport.gateway.model_table import build_model_table
from modelport.gateway.settings import GatewaySettings, parse_rate_limit, split_list
from modelport.gateway.validation import DIGIT_FORMS, TEXT_FORMS
from modelport.net.asgi_types import ASGIApp, Receive, Scope, Send

DESCRIPTION = (
    "modelport's public API: the same paths locally and on AWS (Lambda behind API Gateway). "
    "Models are reached through the SageMaker Runtime API. Errors are JSON: "
    '`{"error": {"code", "message", "retryable"}, "requestId"}`.'
)
PREDICT_EXAMPLES = {
    "digit-pixels": {"summary": "MNIST digit as 784 floats 0..1", "value": {"pixels": [0.0] * 784}},
    "digit-image": {"summary": "MNIST digit as a base64 PNG", "value": {"image": "iVBORw0KGgo..."}},
    "sentiment": {"summary": "sentiment of a text", "value": {"text": "What a lovely day!"}},
}


class GatewayApp(FastAPI):
    """FastAPI with the gateway's edge in front of it: ``Edge`` → ``HotRoutes`` → FastAPI's own stack.

    ``Edge`` and ``HotRoutes`` sit outside FastAPI's middleware stack (not ``add_middleware``), so the
    hot routes pay for none of the framework's layers; every other request goes on to ``framework``.
    """

    edge: ASGIApp | None = None  # set by create_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.edge or self.framework)(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The plain FastAPI application (its routes, exception handlers and middleware)."""
        await super().__call__(scope, receive, send)


def _load_settings() -> tuple[GatewaySettings, list[str]]:
    """Settings from the environment; on a bad value, the defaults plus the error to report."""
    from pydantic import ValidationError

    try:
        return GatewaySettings(), []
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return GatewaySettings.model_construct(), [f"invalid gateway settings ({problems})"]


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)


def _state(request: Request) -> dict[str, Any]:
    return request.scope.setdefault("state", {})


def create_app(settings: GatewaySettings | None = None, *, backend: SageMakerBackend | None = None) -> FastAPI:
    """Build the gateway app from settings (default: read from the environment now)."""
    config_errors: list[str] = []
    if settings is None:
        settings, config_errors = _load_settings()
    table = build_model_table(settings)
    config_errors += table.errors
    try:
        rate_limit = parse_rate_limit(settings.rate_limit)
    except ValueError as exc:
        config_errors.append(str(exc))
        rate_limit = None
    backend = backend or SageMakerBackend(settings)
    if backend.config_error:
        config_errors.append(backend.config_error)
    chat_problem = None
    try:
        chat = load_chat_provider(settings, backend)
    except ValueError as exc:
        chat, chat_problem = None, str(exc)
        config_errors.append(chat_problem)
    invoke_allow = split_list(settings.invoke_endpoints)
    logger = get_logger()

    app = GatewayApp(title="modelport gateway", version=__version__, description=DESCRIPTION, lifespan=chat_lifespan(chat))
    app.state.settings = settings
    app.state.routes = table
    app.state.backend = backend
    app.state.config_errors = config_errors
    app.state.chat = chat

    # ---- errors: always the JSON shape ----------------------------------------------------------
    async def api_error(request: Request, exc: ApiError) -> Response:
        _state(request)["error_code"] = exc.code
        body = error_body(exc, _state(request).get("request_id"))
        return Response(body, status_code=exc.status, headers={k.decode(): v.decode() for k, v in error_headers(exc, body)})

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        code = STATUS_CODES.get(exc.status_code, "http_error")
        return await api_error(request, ApiError(exc.status_code, code, message, headers=dict(exc.headers or {})))

    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return await api_error(request, ApiError(400, "invalid_field", f"{field}: {first.get('msg', 'invalid')}", field=field))

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        # FastAPI's outermost layer calls this for a bug in a framework route, then re-raises for Edge to log
        return await api_error(request, ApiError(
            500, "internal_error", "the gateway failed on this request; it is logged under the request id", retryable=True,
        ))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)

    # ---- routes ---------------------------------------------------------------------------------
    @app.get("/health", summary="Status, mode, version and what is configured (no backend call)")
    async def health() -> Response:
        return _json_response({
            "status": "degraded" if config_errors else "ok",
            "mode": settings.run_mode,
            "version": __version__,
            "models": [{"name": r.name, "kind": r.kind, "configured": r.configured} for r in table.routes.values()],
            "chat": chat.health() if chat is not None else {"configured": False, "provider": None},
            **({"configErrors": config_errors} if config_errors else {}),
        })

    @app.get("/models", summary="Every route, chat included: name, kind, endpoint, labels and live endpoint status")
    async def models() -> Response:
        return _json_response({"models": await list_models(table, backend, chat, chat_problem, live_status=settings.model_status)})

    calls = ModelCalls(table, backend, invoke_allow, config_errors)
    app.state.calls = calls

    # POST /predict and /invoke are answered by HotRoutes (plain ASGI) before FastAPI's router sees
    # them; these declarations give /docs their schema and run the same ModelCalls code if reached.
    @app.post(
        "/predict/{model}",
        summary="Predict with a named model (JSON in, the model's JSON out plus model, endpoint, latencyMs)",
        description=f"Digits (mnist-*): {DIGIT_FORMS}. Sentiment: {TEXT_FORMS}.",
        openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}, "examples": PREDICT_EXAMPLES}}}},
    )
    async def predict(model: str, request: Request) -> Response:
        body, headers = await calls.predict(model, request.headers.get("content-type"), await request.body(), _state(request))
        return Response(body, headers=headers)

    @app.post(
        "/invoke/{endpoint}",
        summary="Pass-through to any deployed endpoint: body, Content-Type and Accept forwarded as is",
        openapi_extra={"requestBody": {"required": True, "content": {"*/*": {"schema": {}}}}},
    )
    async def invoke(endpoint: str, request: Request) -> Response:
        body, headers = await calls.invoke(endpoint, dict(request.headers), await request.body(), _state(request))
        return Response(body, headers=headers)

    # ---- chat: POST /chat, POST /v1/chat/completions, GET /v1/models (chat.py) --------------------------
    add_chat_routes(app, settings, chat, chat_problem)

    # ---- the page, for GETs no route claims --------------------------------------------------------
    app.state.page_dir = find_page_dir(settings.page_dir)
    page_app = make_page_app(app.state.page_dir)

    async def not_found(scope, receive, send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await page_app(scope, receive, send)
            return
        raise ApiError(404, "not_found", f"no route {scope['method']} {scope['path']}; see /docs for the API")

    app.router.default = not_found

    buckets = TokenBuckets(rate_limit) if rate_limit else None
    app.edge = Edge(
        HotRoutes(app.framework, calls=calls),
        cors=Cors(split_list(settings.allowed_origins)),
        keys=ApiKeys(split_list(settings.api_keys)),
        buckets=buckets,
        max_body_bytes=settings.max_body_bytes,
        logger=logger,
        access_log=settings.access_log,
        # in Lambda the function's time is billed until the handler returns: never spin there
        busy_poll_seconds=settings.busy_poll_ms / 1000 if settings.run_mode == "local" else 0.0,
    )
    return app
