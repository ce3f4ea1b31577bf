"""Gateway settings, read from environment variables (one place for configuration).

Every field names the variable it comes from. Values that need parsing (routes, rate limit, lists) are
kept as plain strings here and parsed by small functions below, so that a bad value becomes a clear
configuration error reported by the running gateway, never a crash at import (Lambda cold start).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from modelport.settings import BusyPollSetting, HostingTokenSetting, MetricsSetting

DEFAULT_BACKEND_TIMEOUT_S = 25.0  # below API Gateway's 29 s integration timeout
DEFAULT_MAX_BODY_MB = 6.0  # Lambda's synchronous payload limit and SageMaker's 6 MB body limit


class GatewaySettings(BusyPollSetting, MetricsSetting, HostingTokenSetting):
    """Everything the gateway reads from the environment (MODELPORT_BUSY_POLL_MS, MODELPORT_METRICS and
    MODELPORT_HOSTING_TOKEN are the shared fields of ``modelport.settings``)."""

    model_config = SettingsConfigDict(populate_by_name=True, case_sensitive=False)

    routes: str = Field(
        default="",
        validation_alias=AliasChoices("MODELPORT_ROUTES", "routes"),
        description="MODELPORT_ROUTES: extra or overriding routes, JSON or `name=endpoint,...`.",
    )
    mnist_sklearn_endpoint: str = Field(
        default="", validation_alias=AliasChoices("MNIST_SKLEARN_ENDPOINT", "mnist_sklearn_endpoint"),
        description="MNIST_SKLEARN_ENDPOINT: endpoint behind the route `mnist-sklearn`.",
    )
    mnist_pytorch_endpoint: str = Field(
        default="", validation_alias=AliasChoices("MNIST_PYTORCH_ENDPOINT", "mnist_pytorch_endpoint"),
        description="MNIST_PYTORCH_ENDPOINT: endpoint behind the route `mnist-pytorch`.",
    )
    sentiment_endpoint: str = Field(
        default="", validation_alias=AliasChoices("SENTIMENT_ENDPOINT", "sentiment_endpoint"),
        description="SENTIMENT_ENDPOINT: endpoint behind the route `sentiment`.",
    )
    allowed_origins: str = Field(
        default="*", validation_alias=AliasChoices("ALLOWED_ORIGINS", "allowed_origins"),
        description="ALLOWED_ORIGINS: comma-separated exact origins allowed by CORS, or `*`.",
    )
    api_keys: str = Field(
        default="", validation_alias=AliasChoices("MODELPORT_API_KEYS", "api_keys"),
        description="MODELPORT_API_KEYS: comma-separated keys; when set, API routes need `x-api-key`.",
    )
    rate_limit: str = Field(
        default="", validation_alias=AliasChoices("MODELPORT_RATE_LIMIT", "rate_limit"),
        description="MODELPORT_RATE_LIMIT: token bucket per API key (or per client IP), e.g. `5/s` or `300/min:50`.",
    )
    backend_timeout: float = Field(
        default=DEFAULT_BACKEND_TIMEOUT_S, gt=0,
        validation_alias=AliasChoices("MODELPORT_BACKEND_TIMEOUT", "backend_timeout"),
        description="MODELPORT_BACKEND_TIMEOUT: seconds to wait for a model before answering 504.",
    )
    max_body_mb: float = Field(
        default=DEFAULT_MAX_BODY_MB, gt=0,
        validation_alias=AliasChoices("MODELPORT_MAX_BODY_MB", "max_body_mb"),
        description="MODELPORT_MAX_BODY_MB: request bodies above this many MiB get 413.",
    )
    invoke_endpoints: str = Field(
        default="*", validation_alias=AliasChoices("MODELPORT_INVOKE_ENDPOINTS", "invoke_endpoints"),
        description="MODELPORT_INVOKE_ENDPOINTS: endpoints reachable by POST /invoke/{endpoint}: `*`, a comma list, or empty to switch it off.",
    )
    access_log: bool = Field(
        default=True, validation_alias=AliasChoices("MODELPORT_ACCESS_LOG", "access_log"),
        description="MODELPORT_ACCESS_LOG: one structured JSON log line per request (never bodies or keys).",
    )
    model_status: bool = Field(
        default=True, validation_alias=AliasChoices("MODELPORT_MODEL_STATUS", "model_status"),
        description="MODELPORT_MODEL_STATUS: GET /models asks the SageMaker control API for live endpoint status.",
    )
    page_dir: Path | None = Field(
        default=None, validation_alias=AliasChoices("MODELPORT_PAGE_DIR", "page_dir"),
        description="MODELPORT_PAGE_DIR: built web page served at `/` (default: the one installed with modelport, a checkout's page/dist).",
    )
    mode: str = Field(
        default="", validation_alias=AliasChoices("MODELPORT_MODE", "mode"),
        description="MODELPORT_MODE: `local` or `aws`; default `aws` inside Lambda, else `local`.",
    )
    runtime_endpoint_url: str = Field(
        default="", validation_alias=AliasChoices("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "runtime_endpoint_url"),
        description="AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME: SageMaker Runtime API URL (locally: hosting).",
    )
    control_endpoint_url: str = Field(
        default="", validation_alias=AliasChoices("AWS_ENDPOINT_URL_SAGEMAKER", "control_endpoint_url"),
        description="AWS_ENDPOINT_URL_SAGEMAKER: SageMaker control API URL (defaults to the runtime URL when that is set).",
    )
    region: str = Field(
        default="", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION", "region"),
        description="AWS_REGION / AWS_DEFAULT_REGION (locally defaults to us-east-1).",
    )
    runtime_client: str = Field(
        default="auto", validation_alias=AliasChoices("MODELPORT_RUNTIME_CLIENT", "runtime_client"),
        description="MODELPORT_RUNTIME_CLIENT: how the Runtime API is called: `auto` (default: under `modelport up`, "
        "`in-process`, hosting's handler called in the same process; else `http` for a local gateway whose runtime "
        "URL is plain http://, as hosting's is, else `boto3`), `boto3`, `http` (pooled keep-alive HTTP with hosting's "
        "token; plain http:// URLs only) or `in-process` (only under `modelport up`).",
    )
    chat_provider: str = Field(
        default="", validation_alias=AliasChoices("CHAT_PROVIDER", "chat_provider"),
        description="CHAT_PROVIDER: bedrock | openai | sagemaker; empty: bedrock when BEDROCK_MODEL_ID is set, "
        "else locally auto-detect (an OpenAI-compatible server on CHAT_BASE_URL, else the bundled model on CHAT_ENDPOINT).",
    )
    chat_base_url: str = Field(
        default="", validation_alias=AliasChoices("CHAT_BASE_URL", "chat_base_url"),
        description="CHAT_BASE_URL: an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 (Ollama).",
    )
    chat_model: str = Field(
        default="", validation_alias=AliasChoices("CHAT_MODEL", "chat_model"),
        description="CHAT_MODEL: the model name sent to the OpenAI-compatible server (default: the first it lists).",
    )
    chat_api_key: str = Field(
        default="", validation_alias=AliasChoices("CHAT_API_KEY", "chat_api_key"),
        description="CHAT_API_KEY: bearer key for the OpenAI-compatible server (optional).",
    )
    chat_endpoint: str = Field(
        default="chat", validation_alias=AliasChoices("CHAT_ENDPOINT", "chat_endpoint"),
        description="CHAT_ENDPOINT: SageMaker endpoint of the chat model for the sagemaker provider (default `chat`).",
    )
    bedrock_model_id: str = Field(
        default="", validation_alias=AliasChoices("BEDROCK_MODEL_ID", "bedrock_model_id"),
        description="BEDROCK_MODEL_ID: Bedrock model or inference-profile id for the bedrock provider.",
    )
    bedrock_region: str = Field(
        default="", validation_alias=AliasChoices("BEDROCK_REGION", "bedrock_region"),
        description="BEDROCK_REGION: region of Bedrock (default AWS_REGION).",
    )
    chat_system_prompt: str = Field(
        default="You are a helpful assistant. Answer briefly and plainly.",
        validation_alias=AliasChoices("CHAT_SYSTEM_PROMPT", "chat_system_prompt"),
        description="CHAT_SYSTEM_PROMPT: the system prompt of every chat (clients cannot replace it).",
    )
    chat_max_tokens: int = Field(
        default=512, ge=1, validation_alias=AliasChoices("CHAT_MAX_TOKENS", "chat_max_tokens"),
        description="CHAT_MAX_TOKENS: upper bound of maxTokens (and the default).",
    )
    chat_max_turns: int = Field(
        default=20, ge=1, validation_alias=AliasChoices("CHAT_MAX_TURNS", "chat_max_turns"),
        description="CHAT_MAX_TURNS: only the last this many turns of the history are sent to the model.",
    )
    chat_history_chars: int = Field(
        default=16000, ge=1, validation_alias=AliasChoices("CHAT_HISTORY_CHARS", "chat_history_chars"),
        description="CHAT_HISTORY_CHARS: the kept turns hold at most this many characters (the last user turn is always kept).",
    )
    chat_max_message_chars: int = Field(
        default=8000, ge=1, validation_alias=AliasChoices("CHAT_MAX_MESSAGE_CHARS", "chat_max_message_chars"),
        description="CHAT_MAX_MESSAGE_CHARS: a longer message is refused with 400.",
    )
    chat_timeout: float = Field(
        default=120.0, gt=0, validation_alias=AliasChoices("CHAT_TIMEOUT", "chat_timeout"),
        description="CHAT_TIMEOUT: seconds a streamed reply may wait for its next piece (buffered replies use MODELPORT_BACKEND_TIMEOUT).",
    )

    @property
    def max_body_bytes(self) -> int:
        """The request size limit in bytes."""
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def run_mode(self) -> str:
        """`aws` inside AWS Lambda (or when told), else `local`."""
        if self.mode in ("local", "aws"):
            return self.mode
        # Read here, not as a field: the defaults the gateway falls back to when a value is invalid
        # (model_construct, see gateway/app.py) must still know that they run in Lambda.
        return "aws" if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else "local"


def split_list(value: str) -> list[str]:
    """Split a comma-separated setting into trimmed, non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `rate` tokens per second refill, at most `burst` tokens."""

    rate: float
    burst: int


_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0, "hour": 3600.0}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*(?::\s*(\d+)\s*)?$")


def parse_rate_limit(value: str) -> RateLimit | None:
    """Parse MODELPORT_RATE_LIMIT: `N/s`, `N/min` or `N/h`, optionally `:BURST`; empty or `off` → None."""
    text = value.strip().lower()
    if text in ("", "off", "none", "0"):
        return None
    match = _RATE_RE.match(text)
    if not match or match.group(2) not in _UNITS:
        raise ValueError(
            f"MODELPORT_RATE_LIMIT={value!r} is not understood; use N/s, N/min or N/h with an optional "
            "burst, e.g. `5/s`, `300/min:50`, or `off`"
        )
    count = float(match.group(1))
    if count <= 0:
        raise ValueError(f"MODELPORT_RATE_LIMIT={value!r}: the rate must be above 0 (or use `off`)")
    rate = count / _UNITS[match.group(2)]
    burst = int(match.group(3)) if match.group(3) else max(1, math.ceil(count))
    if burst < 1:
        raise ValueError(f"MODELPORT_RATE_LIMIT={value!r}: the burst must be at least 1")
    return RateLimit(rate=rate, burst=burst)
