"""``GET /health``, ``GET /models`` and ``GET /metrics``: what the gateway is, what it serves and how it goes,
from the app's state.

The handlers have no docstring on purpose: FastAPI would publish it in ``/docs`` as the description;
the decorator's ``summary`` says what each does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from modelport import __version__
from modelport.gateway.errors import ApiError
from modelport.gateway.json_io import json_response
from modelport.gateway.model_list import list_models
from modelport.metrics.series import CONTENT_TYPE as METRICS_CONTENT_TYPE

router = APIRouter()


@router.get("/health", summary="Status, mode, version and what is configured (no backend call)")
async def health(request: Request) -> Response:
    state = request.app.state
    chat, config_errors = state.chat, state.config_errors
    return json_response({
        "status": "degraded" if config_errors else "ok",
        "mode": state.settings.run_mode,
        "version": __version__,
        "models": [{"name": r.name, "kind": r.kind, "configured": r.configured} for r in state.model_table.routes.values()],
        "chat": chat.health() if chat is not None else {"configured": False, "provider": None},
        **({"configErrors": config_errors} if config_errors else {}),
    })


@router.get("/models", summary="Every route, chat included: name, kind, endpoint, labels and live endpoint status")
async def models(request: Request) -> Response:
    state = request.app.state
    listed = await list_models(state.model_table, state.backend, state.chat, state.chat_problem,
                               live_status=state.settings.model_status)
    return json_response({"models": listed})


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Prometheus text format: Invocations, errors and latencies per route, model and endpoint")
async def metrics(request: Request) -> Response:
    counted = request.app.state.metrics
    if counted is None:
        raise ApiError(404, "metrics_off", "metrics are switched off in this gateway (MODELPORT_METRICS=0)")
    return Response(counted.render(), media_type=METRICS_CONTENT_TYPE)
