"""A chat model on a SageMaker endpoint (locally: modelport hosting; on AWS: SageMaker), e.g. the bundled one.

Streamed with InvokeEndpointWithResponseStream; buffered with InvokeEndpoint. The endpoint's contract
(the bundled model's ``inference.py`` follows it): request JSON ``{"messages", "system", "maxTokens",
"temperature", "topP"}``; answer JSON lines ``{"delta": "..."}`` then ``{"done": true, "stopReason",
"usage", "model"}``. Stopping early (client gone) closes the response stream, which stops the model.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, AsyncIterator

import orjson

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.chat.request import ChatRequest
from modelport.gateway.errors import ApiError
from modelport.gateway.chat.providers.base import ChatProvider, usage
from modelport.gateway.settings import GatewaySettings

JSON_LINES = "application/jsonlines"


def endpoint_body(request: ChatRequest) -> bytes:
    """The request the chat endpoint receives."""
    body: dict[str, Any] = {"messages": request.messages, "system": request.system, "maxTokens": request.max_tokens}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["topP"] = request.top_p
    return orjson.dumps(body)


class JsonLines:
    """Splits a byte stream into JSON objects, one per line (chunks may cut lines anywhere)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.pending = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The complete lines in `data` (plus what was pending), parsed."""
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        return [self._parse(line) for line in lines if line.strip()]

    def finish(self) -> list[dict[str, Any]]:
        """What is left once the stream ended."""
        rest, self.pending = self.pending, b""
        return [self._parse(rest)] if rest.strip() else []

    def _parse(self, line: bytes) -> dict[str, Any]:
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            item = None
        if not isinstance(item, dict):
            raise ApiError(502, "bad_model_response", f"endpoint {self.endpoint} did not answer chat JSON lines "
                           '({"delta": ...} then {"done": true, ...}); is it a chat model?')
        return item


class SageMakerChatProvider(ChatProvider):
    """Chat with a model deployed on a SageMaker endpoint (CHAT_ENDPOINT, default `chat`)."""

    name = "sagemaker"

    def __init__(self, settings: GatewaySettings, backend: SageMakerBackend) -> None:
        self.endpoint = settings.chat_endpoint or "chat"
        self.model = settings.chat_model or self.endpoint
        self.backend = backend
        self.stream_timeout = settings.chat_timeout

    def _error(self, error: ApiError) -> ApiError:
        if error.code == "endpoint_not_found":
            error.message += " (deploy the bundled chat model: `modelport train chat`, then deploy it as endpoint " \
                             f"{self.endpoint}; or set CHAT_PROVIDER / CHAT_BASE_URL)"
        return error

    def _events(self, item: dict[str, Any]) -> dict[str, Any] | None:
        if isinstance(item.get("delta"), str):
            return {"delta": item["delta"]} if item["delta"] else None
        if item.get("done"):
            self.model = item.get("model") or self.model
            tokens = item.get("usage") or {}
            return {"done": True, "stopReason": item.get("stopReason"), "model": self.model,
                    "usage": usage(tokens.get("inputTokens"), tokens.get("outputTokens"))}
        if item.get("error"):
            raise ApiError(502, "model_error", f"the chat model on endpoint {self.endpoint} failed: {item['error']}")
        return None

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        """InvokeEndpoint; the JSON lines of the answer joined into one reply."""
        result = await self.backend.invoke(self.endpoint, endpoint_body(request), "application/json", JSON_LINES)
        lines = JsonLines(self.endpoint)
        parts, summary = [], None
        for item in lines.feed(result.body) + lines.finish():
            event = self._events(item)
            if event and "delta" in event:
                parts.append(event["delta"])
            elif event:
                summary = event
        if summary is None:
            raise ApiError(502, "chat_stream_incomplete", f"endpoint {self.endpoint} answered without a summary line")
        return {"reply": "".join(parts), "stopReason": summary["stopReason"], "usage": summary["usage"],
                "model": summary["model"], "modelLatencyMs": result.latency_ms}

    async def stream(self, request: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        """InvokeEndpointWithResponseStream, read as JSON lines."""
        parts = self.backend.invoke_stream(self.endpoint, endpoint_body(request), "application/json", JSON_LINES,
                                           idle_timeout=self.stream_timeout)
        lines = JsonLines(self.endpoint)
        finished = False
        try:
            async with aclosing(parts):
                async for part in parts:
                    for item in lines.feed(part):
                        out = self._events(item)
                        if out:
                            finished = finished or "done" in out
                            yield out
            for item in lines.finish():
                out = self._events(item)
                if out:
                    finished = finished or "done" in out
                    yield out
        except ApiError as exc:
            raise self._error(exc) from None
        if not finished:
            raise ApiError(502, "chat_stream_incomplete", f"the chat model on endpoint {self.endpoint} stopped before its summary")
