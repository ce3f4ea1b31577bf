"""Chat through the gateway: `POST /chat`, the OpenAI-compatible `POST /v1/chat/completions` and `GET /v1/models`.

The provider comes from ``CHAT_PROVIDER`` (bedrock | openai | sagemaker). Left empty: bedrock when
``BEDROCK_MODEL_ID`` is set; else, locally, auto-detection (an OpenAI-compatible server answering on
``CHAT_BASE_URL``, else the chat model on the SageMaker endpoint ``CHAT_ENDPOINT``, default `chat`);
on AWS, an OpenAI-compatible server when ``CHAT_BASE_URL`` is set, else chat is not configured (503).

``stream: true`` answers ``text/event-stream`` where the platform can stream (locally). Under AWS Lambda
(Mangum) responses are buffered by the platform, so the gateway answers the whole reply as JSON with
``"streamed": false`` and the header ``X-Modelport-Streaming: buffered``.
"""

from __future__ import annotations

import functools
import time
from typing import Any, AsyncIterator

import anyio
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from modelport.gateway.chat.openai_facade import chunk, completion, finish_reason, model_list
from modelport.gateway.chat.request import ChatRequest, parse_chat_body, parse_openai_body
from modelport.gateway.chat.stream import EventStreamResponse, sse
from modelport.gateway.errors import ApiError, to_public
from modelport.gateway.logs import get_logger
from modelport.gateway.model_calls import is_json
from modelport.gateway.chat.providers.base import ChatProvider
from modelport.gateway.settings import GatewaySettings

PROVIDERS = ("bedrock", "openai", "sagemaker")
JSON = "application/json"
BUFFERED_NOTE = "buffered: this platform (AWS Lambda behind API Gateway) cannot stream; the whole reply is in one answer"
CHAT_EXAMPLE = {"messages": [{"role": "user", "content": "Hello! What can you do?"}], "maxTokens": 200,
                "temperature": 0.7, "topP": 0.9, "stream": False}


def load_chat_provider(settings: GatewaySettings, backend=None) -> ChatProvider | None:
    """The configured chat provider, or None when chat is not set up; ValueError for a bad setting."""
    choice = settings.chat_provider.strip().lower()
    if choice in ("none", "off"):
        return None
    if choice and choice not in PROVIDERS:
        raise ValueError(f"CHAT_PROVIDER={settings.chat_provider!r} is not known; accepted: {', '.join(PROVIDERS)} (or empty to auto-detect)")
    if choice == "bedrock" or (not choice and settings.bedrock_model_id):
        if not settings.bedrock_model_id:
            raise ValueError("CHAT_PROVIDER=bedrock needs BEDROCK_MODEL_ID (a Bedrock model or inference-profile id)")
        from modelport.gateway.chat.providers.bedrock import BedrockProvider

        return BedrockProvider(settings)
    if choice == "openai":
        if not settings.chat_base_url:
            raise ValueError("CHAT_PROVIDER=openai needs CHAT_BASE_URL (e.g. http://127.0.0.1:11434/v1)")
        from modelport.gateway.chat.providers.openai_compat import OpenAIProvider

        return OpenAIProvider(settings)
    if backend is None:
        from modelport.gateway.backend import SageMakerBackend

        backend = SageMakerBackend(settings)
    from modelport.gateway.chat.providers.sagemaker import SageMakerChatProvider

    if choice == "sagemaker":
        return SageMakerChatProvider(settings, backend)
    if settings.run_mode == "local":
        from modelport.gateway.chat.providers.auto import AutoProvider
        from modelport.gateway.chat.providers.openai_compat import OpenAIProvider

        openai = OpenAIProvider(settings) if settings.chat_base_url else None
        return AutoProvider(openai, SageMakerChatProvider(settings, backend))
    if settings.chat_base_url:
        from modelport.gateway.chat.providers.openai_compat import OpenAIProvider

        return OpenAIProvider(settings)
    return None


def chat_lifespan(provider: ChatProvider | None):
    """An ASGI lifespan that looks for the chat provider in the background at start-up (auto-detection),
    so /health can tell soon whether chat works. Not run under Lambda (no lifespan there)."""
    import asyncio
    from contextlib import asynccontextmanager

    async def detect() -> None:
        try:
            await provider.resolve()
        except Exception:  # noqa: BLE001 - nothing found yet: chat requests will look again
            pass

    @asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(detect()) if provider is not None else None
        yield
        if task is not None:
            task.cancel()

    return lifespan


def chat_not_configured(settings: GatewaySettings, problem: str | None = None) -> ApiError:
    """The 503 every chat route answers while no provider is configured."""
    how = problem or ("set CHAT_PROVIDER (bedrock | openai | sagemaker) with BEDROCK_MODEL_ID, CHAT_BASE_URL "
                      "or CHAT_ENDPOINT")
    return ApiError(503, "chat_not_configured", f"chat is not configured: {how}")


async def _read_json(request: Request) -> Any:
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        raise ApiError(415, "unsupported_media_type", f"send JSON with Content-Type: {JSON} (got {content_type})")
    body = await request.body()
    if not body.strip():
        raise ApiError(400, "empty_body", 'the request has no body; send {"messages": [{"role": "user", "content": "..."}]}')
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _elapsed_ms(request: Request) -> float:
    started = request.scope.get("state", {}).get("started", time.perf_counter())
    return round((time.perf_counter() - started) * 1000, 3)


def public_errors(handler):
    """Route decorator: a provider's error leaves in its public form (status included), see errors.py."""

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            raise to_public(exc, request.scope.get("state", {}).get("request_id")) from None

    return route


def add_chat_routes(app: FastAPI, settings: GatewaySettings, provider: ChatProvider | None,
                    problem: str | None = None) -> None:
    """Add the chat routes to `app`, served by `provider` (503 when it is None)."""

    async def provider_for(request: Request) -> ChatProvider:
        """The provider that answers this request (auto-detection resolved), noted for the access log."""
        if provider is None:
            raise chat_not_configured(settings, problem)
        source = await provider.resolve()
        state = request.scope.setdefault("state", {})
        state["model"] = f"chat:{source.name}"
        state["endpoint"] = getattr(source, "endpoint", None) or source.model
        return source

    def headers_for(chat: ChatRequest, streaming: str) -> dict[str, str]:
        out = {"x-modelport-streaming": streaming}
        if chat.repairs:
            out["x-modelport-history-repairs"] = ",".join(chat.repairs)
        return out

    async def buffered(source: ChatProvider, chat: ChatRequest) -> dict[str, Any]:
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

    @app.post(
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
        source = await provider_for(request)
        chat = parse_chat_body(await _read_json(request), settings)
        if chat.stream and "aws.event" not in request.scope:
            first, events = await opened(source, chat)
            return EventStreamResponse(_chat_events(first, events, source, request), headers_for(chat, "sse"))
        result = await buffered(source, chat)
        answer = {"reply": result["reply"], "stopReason": result["stopReason"], "usage": result["usage"],
                  "latencyMs": _elapsed_ms(request), "model": result["model"], "provider": source.name}
        headers = headers_for(chat, "off")
        if chat.stream:
            answer["streamed"] = False
            answer["streamNote"] = BUFFERED_NOTE
            headers["x-modelport-streaming"] = "buffered"
        return Response(orjson.dumps(answer), media_type=JSON, headers=headers)

    async def _chat_events(first, events, source: ChatProvider, request: Request) -> AsyncIterator[bytes]:
        parts: list[str] = []
        try:
            event = first
            while True:
                if "delta" in event:
                    parts.append(event["delta"])
                    yield sse({"delta": event["delta"]})
                elif event.get("done"):
                    yield sse({"done": True, "reply": "".join(parts), "stopReason": event.get("stopReason"),
                               "usage": event.get("usage"), "latencyMs": _elapsed_ms(request),
                               "model": event.get("model"), "provider": source.name})
                try:
                    event = await events.__anext__()
                except StopAsyncIteration:
                    break
        except Exception as exc:  # noqa: BLE001 - the status is sent; the error goes in the stream
            yield sse({"error": error_event(exc, request.scope.get("state", {}).get("request_id"))}, event="error")
        finally:
            await events.aclose()

    @app.post(
        "/v1/chat/completions",
        summary="OpenAI-compatible chat completions over the configured provider (SSE with `stream: true`)",
        description="For OpenAI clients and tools. `system` messages from the client are ignored: the server's "
        "CHAT_SYSTEM_PROMPT applies. Only n=1.",
        openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}}},
    )
    @public_errors
    async def openai_chat(request: Request) -> Response:
        source = await provider_for(request)
        payload = await _read_json(request)
        chat = parse_openai_body(payload, settings)
        request_id = request.scope["state"].get("request_id", "")
        if chat.stream and "aws.event" not in request.scope:
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage")) if isinstance(payload.get("stream_options"), dict) else False
            first, events = await opened(source, chat)
            return EventStreamResponse(_openai_events(first, events, source, request_id, include_usage),
                                       headers_for(chat, "sse"))
        result = await buffered(source, chat)
        result["provider"] = source.name
        headers = headers_for(chat, "buffered" if chat.stream else "off")
        return Response(orjson.dumps(completion(request_id, result)), media_type=JSON, headers=headers)

    async def _openai_events(first, events, source: ChatProvider, request_id: str, include_usage: bool) -> AsyncIterator[bytes]:
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

    @app.get("/v1/models", summary="OpenAI-compatible list of the chat model(s) this gateway fronts")
    @public_errors
    async def openai_models(request: Request) -> Response:
        source = await provider_for(request)
        names = await source.models()
        return Response(orjson.dumps(model_list(names, f"modelport:{source.name}")), media_type=JSON)
