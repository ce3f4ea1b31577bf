"""Chat requests: validation of the client's JSON and repair of the history it sends.

The API is stateless: every request carries the conversation. What is refused (400, naming the field):
no messages, a role other than user/assistant (the system prompt belongs to the server:
``CHAT_SYSTEM_PROMPT``), content that is not text, a message longer than ``CHAT_MAX_MESSAGE_CHARS``, more
than ``MAX_MESSAGES`` messages, parameters out of range. What is repaired: empty turns are dropped,
consecutive turns of one role are merged so roles alternate, the history starts and ends with a user
turn, and only the last turns within ``CHAT_MAX_TURNS`` and ``CHAT_HISTORY_CHARS`` are kept.
``maxTokens`` is capped at ``CHAT_MAX_TOKENS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelport.gateway.errors import ApiError
from modelport.gateway.settings import GatewaySettings

ROLES = ("user", "assistant")
MAX_MESSAGES = 1000


@dataclass
class ChatRequest:
    """A validated, repaired chat request, ready for a provider."""

    messages: list[dict[str, str]]
    system: str
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stream: bool = False
    repairs: list[str] = field(default_factory=list)  # what was changed in the history, for the X-header


def _bad(field_name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", f"{field_name}: {message}", field=field_name)


def _number(payload: dict, names: tuple[str, ...], low: float, high: float, integer: bool = False):
    for name in names:
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and int(value) != value):
            kind = "an integer" if integer else "a number"
            raise _bad(name, f"must be {kind} from {low:g} to {high:g}, got {value!r}")
        if not low <= value <= high:
            raise _bad(name, f"must be from {low:g} to {high:g}, got {value!r}")
        return int(value) if integer else float(value)
    return None


def _text_of(content: Any, where: str) -> str:
    """A message's text: a string, or OpenAI's list of {"type": "text", "text": ...} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise _bad(where, "only text content is accepted (a string, or parts of type \"text\")")
        return "".join(parts)
    raise _bad(where, f"must be a string, got {type(content).__name__}")


def read_messages(raw: Any, settings: GatewaySettings, *, drop_system: bool = False) -> list[dict[str, str]]:
    """Check the shape of `messages` (refusing what cannot be repaired); system turns dropped if asked."""
    if not isinstance(raw, list) or not raw:
        raise _bad("messages", 'send a non-empty list like [{"role": "user", "content": "Hello"}]')
    if len(raw) > MAX_MESSAGES:
        raise _bad("messages", f"at most {MAX_MESSAGES} messages are accepted, got {len(raw)}")
    limit = settings.chat_max_message_chars
    messages = []
    for i, item in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(item, dict):
            raise _bad(where, 'each message must be an object {"role": ..., "content": ...}')
        role = item.get("role")
        if role == "system" and drop_system:
            continue  # the server's CHAT_SYSTEM_PROMPT is the only system prompt
        if role not in ROLES:
            raise _bad(f"{where}.role", f"must be \"user\" or \"assistant\", got {role!r} "
                       "(the system prompt is set by the server, CHAT_SYSTEM_PROMPT)")
        text = _text_of(item.get("content"), f"{where}.content")
        if len(text) > limit:
            raise _bad(f"{where}.content", f"is {len(text)} characters; at most {limit} are accepted (CHAT_MAX_MESSAGE_CHARS)")
        messages.append({"role": role, "content": text})
    return messages


def repair_history(messages: list[dict[str, str]], max_turns: int, max_chars: int) -> tuple[list[dict[str, str]], list[str]]:
    """The history made valid (see the module docstring) and a list of what was repaired.

    Raises a 400 when no user text is left to answer.
    """
    repairs: list[str] = []
    kept = [m for m in messages if m["content"].strip()]
    if len(kept) < len(messages):
        repairs.append("dropped-empty")
    merged: list[dict[str, str]] = []
    for m in kept:
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1] = {"role": m["role"], "content": merged[-1]["content"] + "\n\n" + m["content"]}
            if "merged-same-role" not in repairs:
                repairs.append("merged-same-role")
        else:
            merged.append(dict(m))
    while merged and merged[-1]["role"] != "user":
        merged.pop()
        if "dropped-trailing-assistant" not in repairs:
            repairs.append("dropped-trailing-assistant")
    if not merged:
        raise _bad("messages", "there is no user message with text to answer")
    # keep the newest turns within the budget; the last user turn is always kept
    start = len(merged) - 1
    total = len(merged[start]["content"])
    while start > 0 and len(merged) - start < max_turns and total + len(merged[start - 1]["content"]) <= max_chars:
        start -= 1
        total += len(merged[start]["content"])
    trimmed = start > 0
    while merged[start]["role"] != "user":  # the history starts with a user turn
        start += 1
    if trimmed:
        repairs.append("trimmed-to-budget")
    elif start > 0:
        repairs.append("dropped-leading-assistant")
    return merged[start:], repairs


def _finish(messages, settings: GatewaySettings, max_tokens, temperature, top_p, stream) -> ChatRequest:
    repaired, repairs = repair_history(messages, settings.chat_max_turns, settings.chat_history_chars)
    cap = settings.chat_max_tokens
    return ChatRequest(
        messages=repaired, system=settings.chat_system_prompt, max_tokens=min(max_tokens or cap, cap),
        temperature=temperature, top_p=top_p, stream=bool(stream), repairs=repairs,
    )


def parse_chat_body(payload: Any, settings: GatewaySettings) -> ChatRequest:
    """`POST /chat`: {messages, maxTokens, temperature, topP, stream}."""
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", 'send a JSON object like {"messages": [{"role": "user", "content": "Hello"}]}')
    messages = read_messages(payload.get("messages"), settings)
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream", f"must be true or false, got {stream!r}")
    return _finish(
        messages, settings,
        _number(payload, ("maxTokens",), 1, 1_000_000, integer=True),
        _number(payload, ("temperature",), 0, 2),
        _number(payload, ("topP",), 0, 1),
        stream,
    )


def parse_openai_body(payload: Any, settings: GatewaySettings) -> ChatRequest:
    """`POST /v1/chat/completions`: OpenAI's {model, messages, max_tokens, temperature, top_p, stream, n}."""
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", "send a JSON object with model and messages")
    n = payload.get("n", 1)
    if n not in (1, None):
        raise _bad("n", "only n=1 is supported")
    messages = read_messages(payload.get("messages"), settings, drop_system=True)
    stream = payload.get("stream", False) or False
    if not isinstance(stream, bool):
        raise _bad("stream", f"must be true or false, got {stream!r}")
    return _finish(
        messages, settings,
        _number(payload, ("max_completion_tokens", "max_tokens"), 1, 1_000_000, integer=True),
        _number(payload, ("temperature",), 0, 2),
        _number(payload, ("top_p",), 0, 1),
        stream,
    )
