"""Local auto-detection: an OpenAI-compatible server on CHAT_BASE_URL when one answers, else the chat
endpoint (CHAT_ENDPOINT, default `chat`) when it is deployed and in service, else 503 chat_not_configured.

The choice is made on a chat request (not at start-up: the gateway must start fast and a server may come
up later); a found provider is kept for ``RECHECK_S`` seconds. ``/health`` reports the last choice
(it calls no backend), so before the first chat request it says not configured.
"""

from __future__ import annotations

import time
from contextlib import aclosing
from typing import Any, AsyncIterator


from modelport.gateway.chat.request import ChatRequest
from modelport.gateway.errors import ApiError
from modelport.gateway.chat.providers.base import ChatProvider
from modelport.gateway.chat.providers.openai_compat import OpenAIProvider
from modelport.gateway.chat.providers.sagemaker import SageMakerChatProvider

RECHECK_S = 30.0


class AutoProvider(ChatProvider):
    """Picks the OpenAI-compatible server when it answers, else the SageMaker chat endpoint."""

    name = "auto"

    def __init__(self, openai: OpenAIProvider | None, sagemaker: SageMakerChatProvider) -> None:
        self.openai = openai
        self.sagemaker = sagemaker
        self._chosen: ChatProvider | None = None
        self._checked = 0.0

    @property
    def model(self) -> str:  # type: ignore[override]
        return (self._chosen or self.sagemaker).model

    async def resolve(self) -> ChatProvider:
        """The provider to use now."""
        now = time.monotonic()
        if self._chosen is not None and now - self._checked <= RECHECK_S:
            return self._chosen
        self._chosen = None
        tried = []
        if self.openai is not None:
            if await self.openai.reachable():
                self._chosen, self._checked = self.openai, now
                return self.openai
            tried.append(f"no OpenAI-compatible server answers on CHAT_BASE_URL ({self.openai.base})")
        endpoint = self.sagemaker.endpoint
        status = await self.sagemaker.backend.status(endpoint)
        if status.get("status") in ("InService", "Updating"):
            self._chosen, self._checked = self.sagemaker, now
            return self.sagemaker
        tried.append(f"the chat endpoint {endpoint} is {status.get('status')}"
                     + (f" ({status['reason']})" if status.get("reason") else ""))
        raise ApiError(
            503, "chat_not_configured",
            "chat is not configured: " + "; ".join(tried) + ". Start an OpenAI-compatible server and set CHAT_BASE_URL, "
            f"or train and deploy the bundled chat model as endpoint {endpoint} (`modelport train chat`), "
            "or set CHAT_PROVIDER",
            retryable=True,
        )

    def health(self) -> dict[str, Any]:
        """The last choice (no backend call)."""
        chosen = self._chosen
        return {"configured": chosen is not None, "provider": chosen.name if chosen else None}

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        return await (await self.resolve()).complete(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[dict[str, Any]]:
        provider = await self.resolve()
        async with aclosing(provider.stream(request)) as events:
            async for event in events:
                yield event

    async def models(self) -> list[str]:
        return await (await self.resolve()).models()
