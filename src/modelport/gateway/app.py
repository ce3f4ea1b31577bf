"""The gateway's ASGI app (FastAPI): health, models, predict, invoke, chat seam, docs and the page.

``create_app()`` reads the settings from the environment; a bad setting becomes a reported
configuration error (``/health``, 503 on the routes it affects), never an exception at import.
Handlers read raw bytes and answer raw bytes (orjson): no per-request validation models on the hot path.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelport import __version__
from modelport.gateway.auth import ApiKeys
from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.chat import add_chat_routes, chat_lifespan, load_chat_provider
from modelport.gateway.cors import Cors
from modelport.gateway.edge import Edge
from modelport.gateway.errors import STATUS_CODES, ApiError, error_body, error_headers
from modelport.gateway.logs import get_logger
from modelport.gateway.page import find_page_dir, make_page_app
from modelport.gateway.ratelimit import TokenBuckets
from modelport.gateway.routes import CHAT, ENDPOINT_NAME_RE, IMAGE_CLASSIFIER, TEXT_CLASSIFIER, Route, build_route_table
from modelport.gateway.settings import GatewaySettings, parse_rate_limit, split_list
from modelport.gateway.validation import DIGIT_FORMS, TEXT_FORMS, validate_predict_body

JSON = "application/json"
DESCRIPTION = (
    "modelport's public API: the same paths locally (uvicorn) and on AWS (Lambda behind API Gateway). "
    "Models are reached through the SageMaker Runtime API. Errors are JSON: "
    '`{"error": {"code", "message", "retryable"}, "requestId"}`.'
)
PREDICT_EXAMPLES = {
    "digit-pixels": {"summary": "MNIST digit as 784 floats 0..1", "value": {"pixels": [0.0] * 784}},
    "digit-image": {"summary": "MNIST digit as a base64 PNG", "value": {"image": "iVBORw0KGgo..."}},
    "sentiment": {"summary": "sentiment of a text", "value": {"text": "What a lovely day!"}},
}


def _load_settings() -> tuple[GatewaySettings, list[str]]:
    """Settings from the environment; on a bad value, the defaults plus the error to report."""
    from pydantic import ValidationError

    try:
        return GatewaySettings(), []
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return GatewaySettings.model_construct(), [f"invalid gateway settings ({problems})"]


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # a missing Content-Type is read as JSON (forgiving, e.g. plain `curl --data`)
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == JSON or mime.endswith("+json")


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)


def _state(request: Request) -> dict[str, Any]:
    return request.scope.setdefault("state", {})


def create_app(settings: GatewaySettings | None = None, *, backend: SageMakerBackend | None = None) -> FastAPI:
    """Build the gateway app from settings (default: read from the environment now)."""
    config_errors: list[str] = []
    if settings is None:
        settings, config_errors = _load_settings()
    table = build_route_table(settings)
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

    app = FastAPI(title="modelport gateway", version=__version__, description=DESCRIPTION, lifespan=chat_lifespan(chat))
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

    app.add_exception_handler(ApiError, api_error)
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

    @app.get("/models", summary="Every route: name, kind, endpoint, labels and live endpoint status")
    async def models() -> Response:
        routes = list(table.routes.values())
        configured = [r.endpoint for r in routes if r.endpoint]
        live = await backend.statuses(configured) if settings.model_status and configured else {}
        items = []
        for r in routes:
            item = {"name": r.name, "kind": r.kind, "endpoint": r.endpoint, "labels": list(r.labels), "configured": r.configured}
            if not r.configured:
                item["status"] = "NotConfigured"
            else:
                item.update(live.get(r.endpoint, {"status": "unknown", "reason": "status lookups are switched off"}))
            items.append(item)
        return _json_response({"models": items})

    def _route_for_predict(name: str) -> Route:
        route = table.get(name)
        if route is None:
            known = ", ".join(sorted(table.routes)) or "none"
            raise ApiError(404, "unknown_model", f"no model named {name!r}; known models: {known}")
        if route.kind == CHAT:
            raise ApiError(400, "wrong_route", f"{name!r} is a chat model; use POST /chat")
        if not route.configured:
            how = f"set {route.env_var}" if route.env_var else "give it an endpoint in MODELPORT_ROUTES"
            problems = f" (configuration errors: {'; '.join(config_errors)})" if config_errors else ""
            raise ApiError(503, "model_not_configured", f"model {name!r} is not configured: {how}{problems}")
        return route

    @app.post(
        "/predict/{model}",
        summary="Predict with a named model (JSON in, the model's JSON out plus model, endpoint, latencyMs)",
        description=f"Digits (mnist-*): {DIGIT_FORMS}. Sentiment: {TEXT_FORMS}.",
        openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}, "examples": PREDICT_EXAMPLES}}}},
    )
    async def predict(model: str, request: Request) -> Response:
        state = _state(request)
        state["model"] = model
        route = _route_for_predict(model)
        state["endpoint"] = route.endpoint
        content_type = request.headers.get("content-type")
        if not _is_json(content_type):
            raise ApiError(415, "unsupported_media_type", f"send JSON with Content-Type: {JSON} (got {content_type})")
        body = await request.body()
        if not body.strip():
            forms = DIGIT_FORMS if route.kind == IMAGE_CLASSIFIER else TEXT_FORMS if route.kind == TEXT_CLASSIFIER else "a JSON body"
            raise ApiError(400, "empty_body", f"the request has no body; send {forms}")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
        forward = validate_predict_body(route.kind, payload) or body
        result = await backend.invoke(route.endpoint, forward, JSON, JSON)
        state["model_latency_ms"] = result.latency_ms
        try:
            answer = orjson.loads(result.body)
        except orjson.JSONDecodeError:
            raise ApiError(502, "bad_model_response", f"endpoint {route.endpoint} did not answer JSON ({result.content_type})") from None
        if not isinstance(answer, dict):
            answer = {"predictions": answer}
        total = round((time.perf_counter() - state.get("started", time.perf_counter())) * 1000, 3)
        answer.update(model=model, endpoint=route.endpoint, latencyMs={"model": result.latency_ms, "total": total})
        return _json_response(answer, headers={"Server-Timing": f"model;dur={result.latency_ms}"})

    @app.post(
        "/invoke/{endpoint}",
        summary="Pass-through to any deployed endpoint: body, Content-Type and Accept forwarded as is",
        openapi_extra={"requestBody": {"required": True, "content": {"*/*": {"schema": {}}}}},
    )
    async def invoke(endpoint: str, request: Request) -> Response:
        state = _state(request)
        state["endpoint"] = endpoint
        if not ENDPOINT_NAME_RE.match(endpoint):
            raise ApiError(400, "invalid_field", f"{endpoint!r} is not a valid endpoint name (letters, digits, hyphens; at most 63)", field="endpoint")
        if "*" not in invoke_allow and endpoint not in invoke_allow:
            reason = "POST /invoke is switched off (MODELPORT_INVOKE_ENDPOINTS is empty)" if not invoke_allow else f"endpoint {endpoint} is not open through this gateway (MODELPORT_INVOKE_ENDPOINTS)"
            raise ApiError(404, "unknown_endpoint", reason)
        body = await request.body()
        headers = request.headers
        try:
            result = await backend.invoke(
                endpoint, body, headers.get("content-type"), headers.get("accept"),
                custom_attributes=headers.get("x-amzn-sagemaker-custom-attributes"),
                target_variant=headers.get("x-amzn-sagemaker-target-variant"),
            )
        except ApiError as exc:
            if exc.code == "endpoint_not_found":
                raise ApiError(404, "unknown_endpoint", exc.message) from None
            raise
        state["model_latency_ms"] = result.latency_ms
        out = {
            "content-type": result.content_type or "application/octet-stream",
            "x-modelport-endpoint": endpoint,
            "server-timing": f"model;dur={result.latency_ms}",
        }
        if result.variant:
            out["x-amzn-invoked-production-variant"] = result.variant
        return Response(result.body, headers=out)

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
    app.add_middleware(
        Edge,
        cors=Cors(split_list(settings.allowed_origins)),
        keys=ApiKeys(split_list(settings.api_keys)),
        buckets=buckets,
        max_body_bytes=settings.max_body_bytes,
        logger=logger,
        access_log=settings.access_log,
    )
    return app
