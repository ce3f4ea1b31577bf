"""What every chat provider offers, and the helpers they share."""

from __future__ import annotations

from typing import Any, AsyncIterator

from modelport.gateway.chat.request import ChatRequest
from modelport.gateway.errors import ApiError


class ChatProvider:
    """A chat backend. Subclasses implement `stream`; `complete` collects it unless overridden."""

    name = "base"
    model = ""

    def stream(self, request: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        """{"delta": text} events, then one {"done": True, "stopReason", "usage", "model"} event."""
        raise NotImplementedError

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        """The whole reply: {"reply", "stopReason", "usage", "model"}."""
        return await collect(self.stream(request))

    async def models(self) -> list[str]:
        """Model ids this provider serves (for GET /v1/models)."""
        return [self.model]

    def health(self) -> dict[str, Any]:
        """What GET /health says about chat (no backend call)."""
        return {"configured": True, "provider": self.name}

    async def resolve(self) -> "ChatProvider":
        """The provider that answers now (auto-detection picks one; others are themselves)."""
        return self


async def collect(events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """Join a provider's stream into one reply."""
    parts: list[str] = []
    summary: dict[str, Any] | None = None
    try:
        async for event in events:
            if "delta" in event:
                parts.append(event["delta"])
            elif event.get("done"):
                summary = event
    finally:
        await events.aclose()
    if summary is None:
        raise ApiError(502, "chat_stream_incomplete", "the chat model's answer ended before its summary", retryable=True)
    return {"reply": "".join(parts), "stopReason": summary.get("stopReason"), "usage": summary.get("usage"),
            "model": summary.get("model")}


def usage(input_tokens: Any, output_tokens: Any) -> dict[str, int | None]:
    """The usage object of the API."""
    as_int = lambda v: int(v) if isinstance(v, (int, float)) else None  # noqa: E731
    return {"inputTokens": as_int(input_tokens), "outputTokens": as_int(output_tokens)}
