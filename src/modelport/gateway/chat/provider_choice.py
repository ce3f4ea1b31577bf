"""Which provider answers chat, chosen from the settings, and its detection at start-up.

``CHAT_PROVIDER`` is bedrock | openai | sagemaker. Left empty: bedrock when ``BEDROCK_MODEL_ID`` is set;
else, locally, auto-detection (an OpenAI-compatible server answering on ``CHAT_BASE_URL``, else the chat
model on the SageMaker endpoint ``CHAT_ENDPOINT``, default `chat`); on AWS, an OpenAI-compatible server
when ``CHAT_BASE_URL`` is set, else chat is not configured (503). ``none`` or ``off`` switch chat off.
Providers are imported when chosen (Lambda cold starts).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from modelport.gateway.chat.providers.base import ChatProvider
from modelport.gateway.settings import GatewaySettings

PROVIDERS = ("bedrock", "openai", "sagemaker")


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
