"""``POST /predict/{model}`` and ``POST /invoke/{endpoint}`` as FastAPI routes: their ``/docs`` schema.

``HotRoutes`` (plain ASGI) answers these two paths before FastAPI's router sees them; these
declarations give ``/docs`` their schema and run the same ``ModelCalls`` code if they are reached
(tests take the hot path out to compare both).

The handlers have no docstring on purpose: FastAPI would publish it in ``/docs`` as the description;
the decorator's ``summary`` says what each does.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.gateway.json_io import JSON
from modelport.gateway.request_state import request_state
from modelport.gateway.validation import DIGIT_FORMS, TEXT_FORMS

PREDICT_EXAMPLES = {
    "digit-pixels": {"summary": "MNIST digit as 784 floats 0..1", "value": {"pixels": [0.0] * 784}},
    "digit-image": {"summary": "MNIST digit as a base64 PNG", "value": {"image": "iVBORw0KGgo..."}},
    "sentiment": {"summary": "sentiment of a text", "value": {"text": "What a lovely day!"}},
}

router = APIRouter()


@router.post(
    "/predict/{model}",
    summary="Predict with a named model (JSON in, the model's JSON out plus model, endpoint, latencyMs)",
    description=f"Digits (mnist-*): {DIGIT_FORMS}. Sentiment: {TEXT_FORMS}.",
    openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}, "examples": PREDICT_EXAMPLES}}}},
)
async def predict(model: str, request: Request) -> Response:
    calls = request.app.state.calls
    body, headers = await calls.predict(model, request.headers.get("content-type"), await request.body(), request_state(request))
    return Response(body, headers=headers)


@router.post(
    "/invoke/{endpoint}",
    summary="Pass-through to any deployed endpoint: body, Content-Type and Accept forwarded as is",
    openapi_extra={"requestBody": {"required": True, "content": {"*/*": {"schema": {}}}}},
)
async def invoke(endpoint: str, request: Request) -> Response:
    calls = request.app.state.calls
    body, headers = await calls.invoke(endpoint, dict(request.headers), await request.body(), request_state(request),
                                       request.query_params.get("target"))
    return Response(body, headers=headers)
