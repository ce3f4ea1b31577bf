"""What ``POST /predict/{model}`` and ``POST /invoke/{endpoint}`` do, free of any web framework.

Each call takes the path name, the request headers it needs and the raw body, and returns the answer
as ``(body bytes, response headers)`` or raises ``ApiError`` (a backend's in its public form,
``errors.to_public``, so both adapters send the same status). Two thin adapters use them: the hot
path (``hot_routes.py``, plain ASGI, what serves these routes) and the FastAPI routes in
``model_routes.py`` (which give ``/docs`` its schema). Per-request facts for the access log go into the
ASGI ``state``. The body is parsed by ``json_io.read_json_body``, as every JSON route's is.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.errors import ApiError, to_public
from modelport.gateway.json_io import JSON, read_json_body
from modelport.gateway.model_table import (
    CHAT,
    ENDPOINT_NAME_RE,
    IMAGE_CLASSIFIER,
    TEXT_CLASSIFIER,
    ModelTable,
    Route,
    target_problem,
)
from modelport.gateway.validation import DIGIT_FORMS, TEXT_FORMS, validate_predict_body

_JSON_HEADERS = {"content-type": JSON}
BODY_FORMS = {IMAGE_CLASSIFIER: DIGIT_FORMS, TEXT_CLASSIFIER: TEXT_FORMS}  # what an empty body is told to send


def check_target(target: str) -> None:
    """A 400 for a TargetModel no endpoint would take (SageMaker's length and pattern)."""
    problem = target_problem(target)
    if problem:
        raise ApiError(400, "invalid_field", problem, field="target")


class ModelCalls:
    """Predict through the model table, or pass through to an allowed endpoint, via the backend."""

    def __init__(self, table: ModelTable, backend: SageMakerBackend, invoke_allow: list[str], config_errors: list[str]) -> None:
        self.table = table
        self.backend = backend
        self.invoke_allow = invoke_allow
        self.config_errors = config_errors  # shared list: read at call time, for 503 messages

    def route_for_predict(self, name: str) -> Route:
        """The configured non-chat route called `name`; 404 / 400 / 503 otherwise."""
        route = self.table.get(name)
        if route is None:
            known = ", ".join(sorted(self.table.routes)) or "none"
            raise ApiError(404, "unknown_model", f"no model named {name!r}; known models: {known}")
        if route.kind == CHAT:
            raise ApiError(400, "wrong_route", f"{name!r} is a chat model; use POST /chat")
        if not route.configured:
            how = f"set {route.env_var}" if route.env_var else "give it an endpoint in MODELPORT_ROUTES"
            problems = f" (configuration errors: {'; '.join(self.config_errors)})" if self.config_errors else ""
            raise ApiError(503, "model_not_configured", f"model {name!r} is not configured: {how}{problems}")
        return route

    def is_open(self, endpoint: str) -> bool:
        """Whether ``POST /invoke/{endpoint}`` may reach ``endpoint`` (MODELPORT_INVOKE_ENDPOINTS)."""
        return "*" in self.invoke_allow or endpoint in self.invoke_allow

    def binary_route(self, endpoint: str) -> str:
        """Where a /predict body that is not JSON (``.npy``, an image) can go: the endpoint's /invoke, if open."""
        if not self.is_open(endpoint):
            return ""
        return f"other content types (application/x-npy, images, CSV) go to the model as they are through POST /invoke/{endpoint}"

    async def predict(self, model: str, content_type: str | None, body: bytes, state: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        """Check the body for the model's kind, invoke its endpoint, add model/endpoint/latencyMs."""
        state["model"] = model
        route = self.route_for_predict(model)
        state["endpoint"] = route.endpoint
        payload = read_json_body(content_type, body, BODY_FORMS.get(route.kind, "a JSON body"),
                                 elsewhere=lambda: self.binary_route(route.endpoint))
        forward = validate_predict_body(route.kind, payload, body) or body
        try:
            result = await self.backend.invoke(route.endpoint, forward, JSON, JSON, target_model=route.target)
        except ApiError as exc:
            raise to_public(exc, state.get("request_id")) from None
        state["model_latency_ms"] = result.latency_ms
        try:
            answer = orjson.loads(result.body)
        except orjson.JSONDecodeError:
            raise ApiError(502, "bad_model_response", f"endpoint {route.endpoint} did not answer JSON ({result.content_type})") from None
        if not isinstance(answer, dict):
            answer = {"predictions": answer}
        started = state.get("started")
        total = round((time.perf_counter() - started) * 1000, 3) if started else result.latency_ms
        answer.update(model=model, endpoint=route.endpoint, latencyMs={"model": result.latency_ms, "total": total})
        return orjson.dumps(answer), {**_JSON_HEADERS, "server-timing": f"model;dur={result.latency_ms}"}

    async def invoke(self, endpoint: str, headers: dict[str, str], body: bytes, state: dict[str, Any],
                     target: str | None = None) -> tuple[bytes, dict[str, str]]:
        """Forward body, Content-Type, Accept and SageMaker's custom headers to `endpoint` as they are; ``target``
        (``?target=NAME``, else the X-Amzn-SageMaker-Target-Model header) is a multi-model endpoint's TargetModel."""
        state["endpoint"] = endpoint
        if not ENDPOINT_NAME_RE.match(endpoint):
            raise ApiError(400, "invalid_field", f"{endpoint!r} is not a valid endpoint name (letters, digits, hyphens; at most 63)", field="endpoint")
        target = target if target is not None else headers.get("x-amzn-sagemaker-target-model")
        if target is not None:
            check_target(target)
        if not self.is_open(endpoint):
            reason = (
                "POST /invoke is switched off (MODELPORT_INVOKE_ENDPOINTS is empty)" if not self.invoke_allow
                else f"endpoint {endpoint} is not open through this gateway (MODELPORT_INVOKE_ENDPOINTS)"
            )
            raise ApiError(404, "unknown_endpoint", reason)
        try:
            result = await self.backend.invoke(
                endpoint, body, headers.get("content-type"), headers.get("accept"),
                custom_attributes=headers.get("x-amzn-sagemaker-custom-attributes"),
                target_variant=headers.get("x-amzn-sagemaker-target-variant"), target_model=target,
            )
        except ApiError as exc:
            if exc.code == "endpoint_not_found":
                raise ApiError(404, "unknown_endpoint", exc.message) from None
            raise to_public(exc, state.get("request_id")) from None
        state["model_latency_ms"] = result.latency_ms
        out = {
            "content-type": result.content_type or "application/octet-stream",
            "x-modelport-endpoint": endpoint,
            "server-timing": f"model;dur={result.latency_ms}",
        }
        if result.variant:
            out["x-amzn-invoked-production-variant"] = result.variant
        return result.body, out
