"""What the gateway is made of, built from its settings: the model table, the backend, the chat
provider, the model calls, the rate limit, the page, the metrics, and every configuration problem found on
the way.

A bad setting never raises here: it becomes an entry of ``config_errors`` (reported by ``/health``,
503 on the routes it affects) and the part falls back to its default or to "not configured".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.chat.provider_choice import load_chat_provider
from modelport.gateway.chat.providers.base import ChatProvider
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.model_calls import ModelCalls
from modelport.gateway.model_table import ModelTable, build_model_table
from modelport.gateway.page import find_page_dir
from modelport.gateway.settings import GatewaySettings, RateLimit, parse_rate_limit, split_list
from modelport.gateway.transports import RuntimeTransport


@dataclass
class GatewayParts:
    """The gateway's parts; ``create_app`` puts each on the app's state under the same name."""

    settings: GatewaySettings
    model_table: ModelTable
    backend: SageMakerBackend
    chat: ChatProvider | None
    chat_problem: str | None  # why chat is not configured, when a setting is bad
    calls: ModelCalls
    rate_limit: RateLimit | None
    page_dir: Path | None
    config_errors: list[str]
    metrics: GatewayMetrics | None = None  # None: MODELPORT_METRICS=0


def load_settings() -> tuple[GatewaySettings, list[str]]:
    """Settings from the environment; on a bad value, the defaults plus the error to report."""
    from pydantic import ValidationError

    try:
        return GatewaySettings(), []
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return GatewaySettings.model_construct(), [f"invalid gateway settings ({problems})"]


def build_parts(settings: GatewaySettings | None = None, backend: SageMakerBackend | None = None,
                transport: RuntimeTransport | None = None) -> GatewayParts:
    """Every part from `settings` (default: read from the environment now) and an optional backend (or the
    Runtime API transport for the backend to use instead of the settings' choice)."""
    config_errors: list[str] = []
    if settings is None:
        settings, config_errors = load_settings()
    table = build_model_table(settings)
    config_errors += table.errors
    try:
        rate_limit = parse_rate_limit(settings.rate_limit)
    except ValueError as exc:
        config_errors.append(str(exc))
        rate_limit = None
    backend = backend or SageMakerBackend(settings, transport)
    if backend.config_error:
        config_errors.append(backend.config_error)
    chat_problem = None
    try:
        chat = load_chat_provider(settings, backend)
    except ValueError as exc:
        chat, chat_problem = None, str(exc)
        config_errors.append(chat_problem)
    calls = ModelCalls(table, backend, split_list(settings.invoke_endpoints), config_errors)
    return GatewayParts(settings, table, backend, chat, chat_problem, calls, rate_limit,
                        find_page_dir(settings.page_dir), config_errors,
                        GatewayMetrics() if settings.metrics else None)
