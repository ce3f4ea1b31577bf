"""Chat's HTTP routes: ``POST /chat``, the OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

Each handler reads what it needs from the app's state (``settings``, the provider ``chat`` and
``chat_problem``, see ``provider_choice.py``); every chat route answers 503 while no provider is configured.

``stream: true`` answers ``text/event-stream`` where the platform can stream (locally). Under AWS Lambda
(Mangum) responses are buffered by the platform, so the gateway answers the whole reply as JSON with
``"streamed": false`` and the header ``X-Modelport-Streaming: buffered``.

The handlers have no docstring on purpose: FastAPI would publish it in ``/docs`` as the description.
"""

from __future__ import annotations

import functools
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from modelport.gateway.chat.openai_facade import chunk, completion, finish_reason, model_list
from modelport.gateway.chat.providers.base import ChatProvider
from modelport.gateway.chat.request import ChatRequest, parse_chat_body, parse_openai_body
from modelport.gateway.chat.stream import EventStreamResponse, sse
from modelport.gateway.errors import ApiError, to_public
from modelport.gateway.json_io import JSON, is_json, json_response, read_json_body
from modelport.gateway.logs import get_logger
from modelport.gateway.request_state import request_state
from modelport.gateway.settings import GatewaySettings

BUFFERED_NOTE = "buffered: this platform (AWS Lambda behind API Gateway) cannot stream; the whole reply is in one answer"
CHAT_EXAMPLE = {"messages": [{"role": "user", "content": "Hello! What can you do?"}], "maxTokens": 200,
                "temperature": 0.7, "topP": 0.9, "stream": False}
SEND_MESSAGES = '{"messages": [{"role": "user", "content": "..."}]}'  # what an empty body is told to send

router = APIRouter()


def chat_not_configured(problem: str | None = None) -> ApiError:
    """The 503 every chat route answers while no provider is configured."""
    how = problem or ("set CHAT_PROVIDER (bedrock | openai | sagemaker) with BEDROCK_MODEL_ID, CHAT_BASE_URL "
                      "or CHAT_ENDPOINT")
    return ApiError(503, "chat_not_configured", f"chat is not configured: {how}")


def public_errors(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Route decorator: a provider's error leaves in its public form (status included), see errors.py."""

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            raise to_public(exc, request_state(request).get("request_id")) from None

    return route


async def provider_for(request: Request) -> ChatProvider:
    """The provider that answers this request (auto-detection resolved), noted for the access log."""
    provider = request.app.state.chat
    if provider is None:
        raise chat_not_configured(request.app.state.chat_problem)
    source = await provider.resolve()
    state = request_state(request)
    state["model"] = f"chat:{source.name}"
    state["endpoint"] = getattr(source, "endpoint", None) or source.model
    return source


async def chat_json(request: Request) -> Any:
    """The request's JSON (``read_json_body``); a Content-Type that is not JSON is refused before the body is read."""
    content_type = request.headers.get("content-type")
    body = await request.body() if is_json(content_type) else b""
    return read_json_body(content_type, body, SEND_MESSAGES)


def can_stream(request: Request) -> bool:
    """Whether this platform can stream the answer: not under Lambda (Mangum puts the event in the scope)."""
    return "aws.event" not in request.scope


def elapsed_ms(request: Request) -> float:
    """Milliseconds since the gateway received the request (``Edge`` notes when)."""
    started = request_state(request).get("started", time.perf_counter())
    return round((time.perf_counter() - started) * 1000, 3)


def headers_for(chat: ChatRequest, streaming: str) -> dict[str, str]:
    """The chat answer's own headers: how it is streamed, and what was repaired in the history."""
    out = {"x-modelport-streaming": streaming}
    if chat.repairs:
        out["x-modelport-history-repairs"] = ",".join(chat.repairs)
    return out


async def buffered(source: ChatProvider, chat: ChatRequest, settings: GatewaySettings) -> dict[str, Any]:
    """The provider's whole reply, within the backend timeout (504 after it)."""
    try:
        with anyio.fail_after(settings.backend_timeout + 5):
            return await source.complete(chat)
    except TimeoutError:
        raise ApiError(504, "backend_timeout", f"the chat model did not answer within {settings.backend_timeout:g} s",
                       retryable=True) from None


async def opened(source: ChatProvider, chat: ChatRequest) -> tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]:
    """The provider's stream and its first event: errors before any output become HTTP errors."""
    events = source.stream(chat)
    try:
        first = await events.__anext__()
    except StopAsyncIteration:
        raise ApiError(502, "chat_stream_incomplete", "the chat model sent nothing") from None
    except BaseException:
        await events.aclose()
        raise
    return first, events


def error_event(exc: BaseException, request_id: str | None) -> dict[str, Any]:
    """The error event of a stream that already sent its status: the error's public form."""
    if isinstance(exc, ApiError):
        public = to_public(exc, request_id)
        return {"code": public.code, "message": public.message, "retryable": public.retryable}
    get_logger().error("chat stream failed (requestId=%s)", request_id, exc_info=exc)
    return {"code": "internal_error", "message": "the chat stream failed; it is logged under the request id", "retryable": True}


@router.post(
    "/chat",
    summary="Chat: JSON reply, or Server-Sent Events with `stream: true` (buffered JSON under Lambda)",
    description="Stateless: send the whole history. Roles are user/assistant; the server repairs the history "
    "(alternating roles, first and last user, no empty turns, newest turns within a budget), applies its system "
    "prompt (CHAT_SYSTEM_PROMPT) and caps maxTokens at CHAT_MAX_TOKENS. Stream events: `{\"delta\": \"...\"}`, then "
    "`{\"done\": true, \"reply\", \"stopReason\", \"usage\", \"latencyMs\", \"model\", \"provider\"}`.",
    openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}, "example": CHAT_EXAMPLE}}}},
)
@public_errors
async def chat_route(request: Request) -> Response:
    settings = request.app.state.settings
    source = await provider_for(request)
    chat = parse_chat_body(await chat_json(request), settings)
    if chat.stream and can_stream(request):
        first, events = await opened(source, chat)
        return EventStreamResponse(chat_events(first, events, source, request), headers_for(chat, "sse"))
    result = await buffered(source, chat, settings)
    answer = {"reply": result["reply"], "stopReason": result["stopReason"], "usage": result["usage"],
              "latencyMs": elapsed_ms(request), "model": result["model"], "provider": source.name}
    headers = headers_for(chat, "off")
    if chat.stream:
        answer["streamed"] = False
        answer["streamNote"] = BUFFERED_NOTE
        headers["x-modelport-streaming"] = "buffered"
    return json_response(answer, headers=headers)


async def chat_events(first: dict[str, Any], events: AsyncIterator[dict[str, Any]], source: ChatProvider,
                      request: Request) -> AsyncIterator[bytes]:
    """``POST /chat``'s Server-Sent Events: deltas, then the summary (or an error event)."""
    parts: list[str] = []
    try:
        event = first
        while True:
            if "delta" in event:
                parts.append(event["delta"])
                yield sse({"delta": event["delta"]})
            elif event.get("done"):
                yield sse({"done": True, "reply": "".join(parts), "stopReason": event.get("stopReason"),
                           "usage": event.get("usage"), "latencyMs": elapsed_ms(request),
                           "model": event.get("model"), "provider": source.name})
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                break
    except Exception as exc:  # noqa: BLE001 - the status is sent; the error goes in the stream
        yield sse({"error": error_event(exc, request_state(request).get("request_id"))}, event="error")
    finally:
        await events.aclose()


@router.post(
    "/v1/chat/completions",
    summary="OpenAI-compatible chat completions over the configured provider (SSE with `stream: true`)",
    description="For OpenAI clients and tools. `system` messages from the client are ignored: the server's "
    "CHAT_SYSTEM_PROMPT applies. Only n=1.",
    openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}}},
)
@public_errors
async def openai_chat(request: Request) -> Response:
    settings = request.app.state.settings
    source = await provider_for(request)
    payload = await chat_json(request)
    chat = parse_openai_body(payload, settings)
    request_id = request_state(request).get("request_id", "")
    if chat.stream and can_stream(request):
        options = payload.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        first, events = await opened(source, chat)
        return EventStreamResponse(openai_events(first, events, source, request_id, include_usage),
                                   headers_for(chat, "sse"))
    result = await buffered(source, chat, settings)
    result["provider"] = source.name
    headers = headers_for(chat, "buffered" if chat.stream else "off")
    return json_response(completion(request_id, result), headers=headers)


async def openai_events(first: dict[str, Any], events: AsyncIterator[dict[str, Any]], source: ChatProvider,
                        request_id: str, include_usage: bool) -> AsyncIterator[bytes]:
    """``POST /v1/chat/completions``' stream: ``chat.completion.chunk`` events, then ``[DONE]``."""
    created = int(time.time())
    model = source.model
    try:
        yield sse(chunk(request_id, created, model, {"role": "assistant", "content": ""}))
        event = first
        while True:
            if "delta" in event:
                yield sse(chunk(request_id, created, model, {"content": event["delta"]}))
            elif event.get("done"):
                model = event.get("model") or model
                yield sse(chunk(request_id, created, model, {}, finish_reason(event.get("stopReason"))))
                if include_usage:
                    yield sse(chunk(request_id, created, model, {}, usage=event.get("usage") or {}))
            try:
                event = await events.__anext__()
            except StopAsyncIteration:
                break
        yield sse("[DONE]")
    except Exception as exc:  # noqa: BLE001 - the status is sent; the error goes in the stream
        yield sse({"error": {**error_event(exc, request_id), "type": "server_error"}})
    finally:
        await events.aclose()


@router.get("/v1/models", summary="OpenAI-compatible list of the chat model(s) this gateway fronts")
@public_errors
async def openai_models(request: Request) -> Response:
    source = await provider_for(request)
    names = await source.models()
    return json_response(model_list(names, f"modelport:{source.name}"))
