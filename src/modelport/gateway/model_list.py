"""``GET /models``: every route the gateway answers, with its kind and live status — chat included.

A route of the table (``routes.py``) lists its endpoint, labels and, when it has an endpoint, the endpoint's
live status from the SageMaker control API (one concurrent lookup for all). Chat is listed as the route
``chat`` (kind ``chat``) unless the table already has a route of that name: its provider and model, and
for a chat model on a SageMaker endpoint (provider ``sagemaker``, or ``auto`` locally) that endpoint's
live status; chat through Bedrock or an OpenAI-compatible server is ``External``; chat switched off or
misconfigured is ``NotConfigured`` with the reason.
"""

from __future__ import annotations

from typing import Any

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.providers.base import ChatProvider
from modelport.gateway.routes import CHAT, RouteTable

CHAT_ROUTE = "chat"
STATUS_OFF = {"status": "unknown", "reason": "status lookups are switched off"}


def chat_endpoint(chat: ChatProvider | None) -> str | None:
    """The SageMaker endpoint behind chat, when chat goes to one (sagemaker, or auto's fallback)."""
    target = getattr(chat, "sagemaker", chat)  # AutoProvider keeps its SageMaker fallback there
    return getattr(target, "endpoint", None) if getattr(target, "name", None) == "sagemaker" else None


def chat_item(chat: ChatProvider | None, problem: str | None) -> dict[str, Any]:
    """The chat route's entry, without live status."""
    item: dict[str, Any] = {"name": CHAT_ROUTE, "kind": CHAT, "endpoint": chat_endpoint(chat), "labels": [],
                            "configured": chat is not None, "provider": chat.name if chat is not None else None}
    if chat is None:
        item.update(status="NotConfigured", reason=problem or "chat is switched off (CHAT_PROVIDER=none), or no "
                    "provider is set for this platform: set CHAT_PROVIDER, BEDROCK_MODEL_ID or CHAT_BASE_URL")
        return item
    item["model"] = chat.model
    if item["endpoint"] is None:
        where = getattr(chat, "base", None) or getattr(chat, "region", None)
        item.update(status="External", reason=f"answered by {chat.name}" + (f" ({where})" if where else ""))
    return item


async def list_models(table: RouteTable, backend: SageMakerBackend, chat: ChatProvider | None,
                      chat_problem: str | None, *, live_status: bool) -> list[dict[str, Any]]:
    """The ``models`` list of ``GET /models``."""
    items: list[dict[str, Any]] = []
    for route in table.routes.values():
        item = {"name": route.name, "kind": route.kind, "endpoint": route.endpoint, "labels": list(route.labels),
                "configured": route.configured}
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
