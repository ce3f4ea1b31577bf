"""Any OpenAI-compatible server (Ollama, vLLM, llama.cpp server, LM Studio, another modelport gateway).

``POST {CHAT_BASE_URL}/chat/completions`` (``/v1`` is added when the base URL lacks it) with httpx; the
stream is read as Server-Sent Events up to ``[DONE]``. ``CHAT_MODEL`` names the model (default: the first
of ``GET /v1/models``); ``CHAT_API_KEY``, when set, is sent as a bearer token.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import httpx
import orjson

from modelport.gateway.chat.request import ChatRequest
from modelport.gateway.errors import ApiError
from modelport.gateway.chat.providers.base import ChatProvider, usage
from modelport.gateway.settings import GatewaySettings

FINISH_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "content_filtered"}


def api_base(url: str) -> str:
    """The base URL that `/chat/completions` and `/models` hang from (ends in /v1)."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def openai_messages(request: ChatRequest) -> list[dict[str, str]]:
    """The request's messages in OpenAI's form, the server's system prompt first."""
    system = [{"role": "system", "content": request.system}] if request.system else []
    return system + [{"role": m["role"], "content": m["content"]} for m in request.messages]


class OpenAIProvider(ChatProvider):
    """Chat through an OpenAI-compatible `/v1/chat/completions`."""

    name = "openai"

    def __init__(self, settings: GatewaySettings) -> None:
        self.base = api_base(settings.chat_base_url)
        self.model = settings.chat_model
        self.timeout = settings.backend_timeout
        self.stream_timeout = settings.chat_timeout
        self.headers = {"Authorization": f"Bearer {settings.chat_api_key}"} if settings.chat_api_key else {}
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """A pooled client (made on first use)."""
        if self._client is None:
            self._client = httpx.AsyncClient(headers=self.headers, timeout=httpx.Timeout(self.timeout, connect=5.0))
        return self._client

    async def models(self) -> list[str]:
        """The server's models (GET /v1/models)."""
        try:
            answer = await self.client().get(f"{self.base}/models", timeout=5.0)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        if answer.status_code != 200:
            raise self._status_error(answer.status_code, answer.text)
        data = answer.json().get("data") or []
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def _model(self) -> str:
        if not self.model:
            names = await self.models()
            if not names:
                raise ApiError(502, "backend_misconfigured", f"the chat server at {self.base} lists no models; set CHAT_MODEL")
            self.model = names[0]
        return self.model

    def _body(self, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "messages": openai_messages(request), "max_tokens": request.max_tokens,
                                "stream": stream}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _transport_error(self, exc: Exception) -> ApiError:
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return ApiError(504, "backend_timeout", f"the chat server at {self.base} did not answer in time", retryable=True)
        return ApiError(503, "backend_unavailable", f"the chat server at {self.base} is not reachable (CHAT_BASE_URL)",
                        retryable=True, headers={"Retry-After": "2"})

    def _status_error(self, status: int, text: str) -> ApiError:
        detail = text[:300]
        try:
            error = orjson.loads(text).get("error")
            detail = error.get("message", detail) if isinstance(error, dict) else str(error or detail)
        except (orjson.JSONDecodeError, AttributeError):
            pass
        if status == 429:
            return ApiError(429, "backend_throttled", f"the chat server is busy: {detail}", retryable=True,
                            headers={"Retry-After": "2"})
        if status in (401, 403):
            return ApiError(502, "backend_misconfigured", f"the chat server refused the key ({status}): {detail}; check CHAT_API_KEY")
        if status == 404:
            return ApiError(502, "backend_misconfigured", f"the chat server at {self.base} has no such model or path: {detail}; check CHAT_MODEL and CHAT_BASE_URL")
        if status in (400, 422):
            return ApiError(400, "backend_rejected", f"the chat server refused the request: {detail}")
        return ApiError(502, "backend_error", f"the chat server failed ({status}): {detail}", retryable=status >= 500)

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        """One buffered completion."""
        model = await self._model()
        try:
            answer = await self.client().post(f"{self.base}/chat/completions", json=self._body(request, model, False))
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        if answer.status_code != 200:
            raise self._status_error(answer.status_code, answer.text)
        try:
            data = answer.json()
            choice = data["choices"][0]
            reply = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ApiError(502, "bad_model_response", f"the chat server at {self.base} sent an answer that is not a chat completion") from None
        tokens = data.get("usage") or {}
        return {"reply": reply, "stopReason": FINISH_REASONS.get(choice.get("finish_reason"), choice.get("finish_reason")),
                "usage": usage(tokens.get("prompt_tokens"), tokens.get("completion_tokens")),
                "model": data.get("model") or model}

    async def stream(self, request: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        """The streamed completion, read as SSE until [DONE]."""
        model = await self._model()
        finish, tokens, answered_model = None, {}, model
        timeout = httpx.Timeout(self.timeout, read=self.stream_timeout, connect=5.0)
        try:
            async with self.client().stream("POST", f"{self.base}/chat/completions",
                                            json=self._body(request, model, True), timeout=timeout) as answer:
                if answer.status_code != 200:
                    raise self._status_error(answer.status_code, (await answer.aread()).decode("utf-8", "replace"))
                async for line in answer.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = orjson.loads(data)
                    except orjson.JSONDecodeError:
                        raise ApiError(502, "bad_model_response", "the chat server sent a malformed stream event") from None
                    if chunk.get("error"):
                        raise self._status_error(502, data)
                    answered_model = chunk.get("model") or answered_model
                    tokens = chunk.get("usage") or tokens
                    for choice in chunk.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield {"delta": text}
                        finish = choice.get("finish_reason") or finish
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        yield {"done": True, "stopReason": FINISH_REASONS.get(finish, finish),
               "usage": usage(tokens.get("prompt_tokens"), tokens.get("completion_tokens")), "model": answered_model}

    async def reachable(self, timeout: float = 1.0) -> bool:
        """Whether an OpenAI-compatible server answers GET /v1/models (auto-detection)."""
        try:
            answer = await self.client().get(f"{self.base}/models", timeout=timeout)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200
