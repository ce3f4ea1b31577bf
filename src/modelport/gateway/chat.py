"""The seam where chat providers plug in (issue 6: bedrock | openai | sagemaker).

Until a provider exists, ``load_chat_provider`` returns None and ``POST /chat``, ``POST
/v1/chat/completions`` and ``GET /v1/models`` answer 503 ``chat_not_configured`` in the gateway's JSON
error shape. A provider implements ``ChatProvider``; the app's chat routes call it.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Protocol

from modelport.gateway.errors import ApiError
from modelport.gateway.settings import GatewaySettings


class ChatProvider(Protocol):
    """What the chat routes need from a provider (to be filled in by the chat issue)."""

    name: str
    model: str

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """One buffered reply: {reply, stopReason, usage, latencyMs, model, provider}."""

    def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Reply deltas ({"delta": ...}) then a final summary event."""


def load_chat_provider(settings: GatewaySettings) -> ChatProvider | None:
    """The configured chat provider, or None when chat is not set up (no provider exists yet)."""
    return None


def chat_not_configured(settings: GatewaySettings) -> ApiError:
    """The 503 every chat route answers while no provider is configured."""
    wanted = f" (CHAT_PROVIDER={settings.chat_provider} is not available in this version)" if settings.chat_provider else ""
    return ApiError(503, "chat_not_configured", f"chat is not configured{wanted}")
