"""Chat requests: history repair and validation (unit), and bad inputs answered 400 by a live gateway."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.processes import free_port
from modelport.gateway.app import create_app
from modelport.gateway.chat.provider_choice import load_chat_provider
from modelport.gateway.chat.request import parse_chat_body, parse_openai_body, repair_history
from modelport.gateway.errors import ApiError
from modelport.gateway.settings import GatewaySettings


def u(text: str) -> dict:
    return {"role": "user", "content": text}


def a(text: str) -> dict:
    return {"role": "assistant", "content": text}


def settings(**overrides) -> GatewaySettings:
    values = dict(mode="local", region="us-east-1", page_dir=None, chat_provider="openai",
                  chat_base_url=f"http://127.0.0.1:{free_port()}/v1", chat_model="m", chat_max_tokens=100,
                  chat_system_prompt="Be brief.", chat_max_message_chars=50, chat_max_turns=20, chat_history_chars=10_000)
    values.update(overrides)
    return GatewaySettings(**values)


# ---- history repair ---------------------------------------------------------------------------------
def test_a_valid_history_is_kept_as_is():
    history = [u("hi"), a("hello"), u("how are you?")]
    assert repair_history(history, 20, 10_000) == (history, [])


def test_empty_turns_are_dropped_and_same_roles_merged():
    repaired, repairs = repair_history([u("one"), u("  "), u("two"), a(""), a("x"), a("y"), u("three")], 20, 10_000)
    assert repaired == [u("one\n\ntwo"), a("x\n\ny"), u("three")]
    assert repairs == ["dropped-empty", "merged-same-role"]


def test_first_and_last_turns_are_user_turns():
    repaired, repairs = repair_history([a("I start"), u("question"), a("answer"), a("more")], 20, 10_000)
    assert repaired == [u("question")]
    assert repairs == ["merged-same-role", "dropped-trailing-assistant", "dropped-leading-assistant"]


def test_only_the_newest_turns_within_the_budget_are_kept():
    history = [u("a" * 10), a("b" * 10), u("c" * 10), a("d" * 10), u("e" * 10)]
    repaired, repairs = repair_history(history, 3, 10_000)
    assert repaired == history[2:] and repairs == ["trimmed-to-budget"]
    repaired, _ = repair_history(history, 20, 25)  # 20 characters fit: e and d; d is an assistant turn
    assert repaired == [u("e" * 10)]
    repaired, _ = repair_history([u("x" * 100)], 20, 10)  # the last user turn is always kept
    assert repaired == [u("x" * 100)]


def test_nothing_to_answer_is_refused():
    for history in ([a("only the assistant")], [u("   ")], [u(""), a("x")]):
        with pytest.raises(ApiError) as caught:
            repair_history(history, 20, 10_000)
        assert caught.value.status == 400 and caught.value.details["field"] == "messages"


# ---- parameters ---------------------------------------------------------------------------------------
def test_parameters_are_read_and_max_tokens_capped():
    chat = parse_chat_body({"messages": [u("hi")], "maxTokens": 5000, "temperature": 0.2, "topP": 0.5, "stream": True}, settings())
    assert (chat.max_tokens, chat.temperature, chat.top_p, chat.stream, chat.system) == (100, 0.2, 0.5, True, "Be brief.")
    assert parse_chat_body({"messages": [u("hi")]}, settings()).max_tokens == 100  # the cap is the default


def test_openai_bodies_drop_client_system_prompts_and_accept_text_parts():
    chat = parse_openai_body({"model": "x", "max_tokens": 7, "messages": [
        {"role": "system", "content": "You are a pirate"},
        {"role": "user", "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]}]}, settings())
    assert chat.messages == [u("hello")] and chat.system == "Be brief." and chat.max_tokens == 7


@pytest.mark.parametrize("body, field", [
    ({"messages": []}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": [{"role": "system", "content": "obey me"}]}, "messages.0.role"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
    ({"messages": [u("ok"), {"role": "user", "content": 42}]}, "messages.1.content"),
    ({"messages": [u("x" * 51)]}, "messages.0.content"),
    ({"messages": [u("hi")], "maxTokens": 0}, "maxTokens"),
    ({"messages": [u("hi")], "maxTokens": 2.5}, "maxTokens"),
    ({"messages": [u("hi")], "temperature": 3}, "temperature"),
    ({"messages": [u("hi")], "topP": "high"}, "topP"),
    ({"messages": [u("hi")], "stream": "yes"}, "stream"),
])
def test_bad_chat_bodies_name_the_field(body, field):
    with pytest.raises(ApiError) as caught:
        parse_chat_body(body, settings())
    assert caught.value.status == 400 and caught.value.details["field"] == field


# ---- provider choice ------------------------------------------------------------------------------------
def test_the_provider_is_chosen_from_the_settings():
    assert load_chat_provider(settings()).name == "openai"
    assert load_chat_provider(settings(chat_provider="bedrock", bedrock_model_id="amazon.nova-micro-v1:0")).name == "bedrock"
    assert load_chat_provider(settings(chat_provider="", bedrock_model_id="amazon.nova-micro-v1:0")).name == "bedrock"
    assert load_chat_provider(settings(chat_provider="sagemaker", chat_endpoint="my-llm")).endpoint == "my-llm"
    assert load_chat_provider(settings(chat_provider="", bedrock_model_id="")).name == "auto"
    assert load_chat_provider(settings(chat_provider="", bedrock_model_id="", chat_base_url="", mode="aws")) is None
    for bad, needs in (("openai", "CHAT_BASE_URL"), ("bedrock", "BEDROCK_MODEL_ID"), ("gpt", "accepted")):
        with pytest.raises(ValueError, match=needs):
            load_chat_provider(settings(chat_provider=bad, chat_base_url="", bedrock_model_id=""))


# ---- through a live gateway -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gateway_settings():
    # the OpenAI-compatible server is not running: every refusal below happens before any backend call
    return settings()


def error_of(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json" and response.headers["x-request-id"]
    return response.json()["error"]


def test_bad_inputs_are_400_in_the_gateways_shape(gateway):
    assert error_of(gateway.post("/chat", json={"messages": []}), 400)["field"] == "messages"
    assert error_of(gateway.post("/chat", json={"messages": [{"role": "bot", "content": "x"}]}), 400)["field"] == "messages.0.role"
    huge = error_of(gateway.post("/chat", json={"messages": [u("x" * 10_000)]}), 400)
    assert huge["field"] == "messages.0.content" and "CHAT_MAX_MESSAGE_CHARS" in huge["message"]
    assert error_of(gateway.post("/chat", content=b"{not json", headers={"content-type": "application/json"}), 400)["code"] == "invalid_json"
    assert error_of(gateway.post("/chat", content=b""), 400)["code"] == "empty_body"
    assert error_of(gateway.post("/chat", content=b"hi", headers={"content-type": "text/plain"}), 415)["code"] == "unsupported_media_type"
    assert error_of(gateway.post("/v1/chat/completions", json={"model": "m", "messages": [u("hi")], "n": 2}), 400)["field"] == "n"
    assert error_of(gateway.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "tool", "content": "x"}]}), 400)["field"] == "messages.0.role"


def test_an_unreachable_chat_server_is_503_not_a_crash(gateway):
    error = error_of(gateway.post("/chat", json={"messages": [u("hi")]}), 503)
    assert error["code"] == "backend_unavailable" and "CHAT_BASE_URL" in error["message"]
    streamed = error_of(gateway.post("/chat", json={"messages": [u("hi")], "stream": True}), 503)
    assert streamed["code"] == "backend_unavailable"  # errors before the first token keep their HTTP status


def test_a_bad_provider_setting_is_reported_not_raised():
    app = create_app(settings(chat_provider="gpt"))
    with LiveGateway(app) as url:
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "degraded" and any("CHAT_PROVIDER" in e for e in health["configErrors"])
        error = error_of(httpx.post(f"{url}/chat", json={"messages": [u("hi")]}), 503)
        assert error["code"] == "chat_not_configured" and "CHAT_PROVIDER" in error["message"]
