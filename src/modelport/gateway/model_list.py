"""``GET /models``: every route the gateway answers, with its kind and live status — chat included.

A route of the model table (``model_table.py``) lists its endpoint, labels and, when it has an endpoint, the endpoint's
live status from the SageMaker control API (one concurrent lookup for all). Chat is listed as the route
``chat`` (kind ``chat``) unless the table already has a route of that name: the provider that answers it
(with local auto-detection, ``autoDetected: true`` and its last choice, the chat endpoint until it made one)
and its model; a chat model on a SageMaker endpoint has that endpoint's live status; chat through Bedrock
or an OpenAI-compatible server is ``External``; chat switched off or misconfigured is ``NotConfigured``
with the reason.
"""

from __future__ import annotations

from typing import Any

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.chat.providers.base import ChatProvider
from modelport.gateway.model_table import CHAT, ModelTable

CHAT_ROUTE = "chat"
STATUS_OFF = {"status": "unknown", "reason": "status lookups are switched off"}


def answering(chat: ChatProvider) -> ChatProvider:
    """The provider that answers chat: for local auto-detection, its last choice, else its SageMaker fallback."""
    if chat.name != "auto":
        return chat
    return chat.openai if chat.health().get("provider") == "openai" else chat.sagemaker


def chat_item(chat: ChatProvider | None, problem: str | None) -> dict[str, Any]:
    """The chat route's entry, without live status."""
    item: dict[str, Any] = {"name": CHAT_ROUTE, "kind": CHAT, "endpoint": None, "labels": [], "configured": chat is not None}
    if chat is None:
        item.update(provider=None, status="NotConfigured", reason=problem or "chat is switched off (CHAT_PROVIDER=none), "
                    "or no provider is set for this platform: set CHAT_PROVIDER, BEDROCK_MODEL_ID or CHAT_BASE_URL")
        return item
    provider = answering(chat)
    item.update(provider=provider.name, model=provider.model, autoDetected=chat.name == "auto")
    if provider.name == "sagemaker":
        item["endpoint"] = provider.endpoint
    else:
        where = getattr(provider, "base", None) or getattr(provider, "region", None)
        item.update(status="External", reason=f"answered by {provider.name}" + (f" ({where})" if where else ""))
    return item


async def list_models(table: ModelTable, backend: SageMakerBackend, chat: ChatProvider | None,
                      chat_problem: str | None, *, live_status: bool) -> list[dict[str, Any]]:
    """The ``models`` list of ``GET /models``."""
    items: list[dict[str, Any]] = []
    for route in table.routes.values():
        item = {"name": route.name, "kind": route.kind, "endpoint": route.endpoint, "labels": list(route.labels),
                "configured": route.configured}
        if route.target:
            item["target"] = route.target  # one model of a multi-model endpoint
        if not route.configured:
            item["status"] = "NotConfigured"
        items.append(item)
    if CHAT_ROUTE not in table.routes:
        items.append(chat_item(chat, chat_problem))
    wanted = sorted({item["endpoint"] for item in items if item["endpoint"] and "status" not in item})
    live = await backend.statuses(wanted) if live_status and wanted else {}
    for item in items:
        if "status" not in item:
            item.update(live.get(item["endpoint"], STATUS_OFF))
    return items
