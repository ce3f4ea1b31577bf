"""The OpenAI-compatible facade's shapes: chat.completion, chat.completion.chunk and the model list."""

from __future__ import annotations

import time
from typing import Any

STOP_TO_FINISH = {"end_turn": "stop", "max_tokens": "length", "content_filtered": "content_filter"}


def finish_reason(stop_reason: str | None) -> str:
    """OpenAI's finish_reason for a stopReason."""
    return STOP_TO_FINISH.get(stop_reason or "", "stop")


def completion(request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """A `chat.completion` object for a buffered reply."""
    tokens = result.get("usage") or {}
    prompt, completion_tokens = tokens.get("inputTokens") or 0, tokens.get("outputTokens") or 0
    return {
        "id": f"chatcmpl-{request_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.get("model") or "",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.get("reply", "")},
                     "finish_reason": finish_reason(result.get("stopReason")), "logprobs": None}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens},
        "provider": result.get("provider"),
    }


def chunk(request_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None,
          usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `chat.completion.chunk` object."""
    body: dict[str, Any] = {
        "id": f"chatcmpl-{request_id}", "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}] if usage is None else [],
    }
    if usage is not None:
        prompt, out = usage.get("inputTokens") or 0, usage.get("outputTokens") or 0
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
    return body


def model_list(names: list[str], owner: str) -> dict[str, Any]:
    """GET /v1/models."""
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": owner} for n in names]}
