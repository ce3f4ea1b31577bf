"""The bedrock provider: Converse through a real botocore client with `Stubber` (exact parameters, the
reply's mapping, every mapped error), a real read timeout against a silent socket, ConverseStream through a
fake at the provider seam (Stubber cannot build event streams), and Lambda (Mangum) answering buffered."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import EventStreamError
from botocore.stub import Stubber

from tests.helpers.live_gateway import LiveGateway
from modelport.gateway.app import create_app
from modelport.gateway.aws_lambda import make_handler
from modelport.gateway.settings import GatewaySettings

MODEL_ID = "amazon.nova-micro-v1:0"
SYSTEM = "Answer in one sentence."
EVENTS = Path(__file__).parents[1] / "events"


def bedrock_settings(**overrides) -> GatewaySettings:
    values = dict(mode="aws", region="eu-west-1", page_dir=None, chat_provider="bedrock", bedrock_model_id=MODEL_ID,
                  chat_system_prompt=SYSTEM, chat_max_tokens=300, backend_timeout=5)
    values.update(overrides)
    return GatewaySettings(**values)


def bedrock_client(**kwargs):
    return boto3.client("bedrock-runtime", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s", **kwargs)


CONVERSE_ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Paris is the capital of France."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 21, "outputTokens": 8, "totalTokens": 29},
    "metrics": {"latencyMs": 240},
}
HISTORY = [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."},
           {"role": "user", "content": "Say it as a sentence."}]
EXPECTED = {
    "modelId": MODEL_ID,
    "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in HISTORY],
    "system": [{"text": SYSTEM}],
    "inferenceConfig": {"maxTokens": 300, "temperature": 0.3, "topP": 0.9},
}


@pytest.fixture
def stubbed():
    """A gateway (bedrock provider) whose boto3 client is stubbed; yields (client, stubber)."""
    client = bedrock_client()
    app = create_app(bedrock_settings())
    app.state.chat._factory = lambda: client
    with Stubber(client) as stubber, LiveGateway(app) as url:
        with httpx.Client(base_url=url, timeout=10) as http:
            yield http, stubber
        stubber.assert_no_pending_responses()


def test_converse_gets_exact_parameters_and_maps_the_reply(stubbed):
    http, stubber = stubbed
    stubber.add_response("converse", CONVERSE_ANSWER, EXPECTED)
    response = http.post("/chat", json={"messages": HISTORY, "maxTokens": 9999, "temperature": 0.3, "topP": 0.9})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["reply"] == "Paris is the capital of France." and data["stopReason"] == "end_turn"
    assert data["usage"] == {"inputTokens": 21, "outputTokens": 8}
    assert data["model"] == MODEL_ID and data["provider"] == "bedrock" and data["latencyMs"] > 0


def test_the_openai_facade_fronts_bedrock(stubbed):
    http, stubber = stubbed
    stubber.add_response("converse", CONVERSE_ANSWER, {**EXPECTED, "inferenceConfig": {"maxTokens": 50}})
    body = {"model": MODEL_ID, "max_tokens": 50, "messages": [{"role": "system", "content": "be a pirate"}, *HISTORY]}
    data = http.post("/v1/chat/completions", json=body).json()
    assert data["object"] == "chat.completion" and data["model"] == MODEL_ID
    assert data["choices"][0]["message"] == {"role": "assistant", "content": "Paris is the capital of France."}
    assert data["choices"][0]["finish_reason"] == "stop" and data["usage"]["total_tokens"] == 29
    assert http.get("/v1/models").json()["data"][0]["id"] == MODEL_ID


@pytest.mark.parametrize("code, status, retry_after, hint", [
    ("ValidationException", 400, None, "refused the request"),
    ("ThrottlingException", 429, "2", "busy"),
    ("ModelNotReadyException", 429, "5", "busy"),
    ("AccessDeniedException", 502, None, "BEDROCK_MODEL_ID"),
    ("ResourceNotFoundException", 502, None, "model access"),
    ("ModelTimeoutException", 504, None, "timed out"),
    ("InternalServerException", 502, None, "Bedrock failed"),
])
def test_bedrock_errors_are_mapped(stubbed, code, status, retry_after, hint):
    http, stubber = stubbed
    stubber.add_client_error("converse", service_error_code=code, service_message="from bedrock", http_status_code=400)
    response = http.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == status, response.text
    assert response.headers.get("retry-after") == retry_after
    error = response.json()["error"]
    assert hint in error["message"] and "from bedrock" in error["message"]
    assert error["retryable"] is (status in (429, 502, 504) and code not in ("AccessDeniedException", "ResourceNotFoundException"))


def test_a_bedrock_that_does_not_answer_is_504():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    client = bedrock_client(endpoint_url=url, config=Config(read_timeout=0.5, retries={"total_max_attempts": 1}))
    app = create_app(bedrock_settings(backend_timeout=3))
    app.state.chat._factory = lambda: client
    try:
        with LiveGateway(app) as gateway:
            response = httpx.post(f"{gateway}/chat", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=20)
        assert response.status_code == 504 and response.json()["error"]["code"] == "backend_timeout"
    finally:
        silent.close()


# ---- ConverseStream: a fake at the provider seam ---------------------------------------------------------
class FakeStream:
    """What ConverseStream's `stream` is to the provider: an iterable of event dicts with close()."""

    def __init__(self, events, fail_after: int | None = None) -> None:
        self.events = events
        self.fail_after = fail_after
        self.closed = False

    def __iter__(self):
        for i, event in enumerate(self.events):
            if self.fail_after is not None and i == self.fail_after:
                raise EventStreamError({"Error": {"Code": "throttlingException", "Message": "Too many tokens"}}, "ConverseStream")
            yield event

    def close(self) -> None:
        self.closed = True


class FakeBedrock:
    """A bedrock-runtime client with only converse_stream, recording its parameters."""

    def __init__(self, stream: FakeStream) -> None:
        self.stream = stream
        self.params = None

    def converse_stream(self, **params):
        self.params = params
        return {"ResponseMetadata": {}, "stream": self.stream}


STREAM_EVENTS = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"delta": {"text": "Par"}, "contentBlockIndex": 0}},
    {"contentBlockDelta": {"delta": {"text": "is."}, "contentBlockIndex": 0}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "max_tokens"}},
    {"metadata": {"usage": {"inputTokens": 12, "outputTokens": 2, "totalTokens": 14}, "metrics": {"latencyMs": 80}}},
]


def sse_data(response: httpx.Response) -> list[tuple[str | None, str]]:
    out, name = [], None
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            out.append((name, line[5:].strip()))
            name = None
    return out


def streaming_gateway(fake: FakeBedrock):
    app = create_app(bedrock_settings(mode="local"))
    app.state.chat._factory = lambda: fake
    return LiveGateway(app)


def test_converse_stream_becomes_sse_deltas_and_a_summary():
    fake = FakeBedrock(FakeStream(STREAM_EVENTS))
    with streaming_gateway(fake) as url:
        with httpx.stream("POST", f"{url}/chat", json={"messages": [{"role": "user", "content": "Capital?"}], "stream": True}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(data) for _, data in sse_data(response)]
    assert events[:2] == [{"delta": "Par"}, {"delta": "is."}]
    final = events[2]
    assert final["done"] is True and final["reply"] == "Paris." and final["stopReason"] == "max_tokens"
    assert final["usage"] == {"inputTokens": 12, "outputTokens": 2} and final["provider"] == "bedrock"
    assert fake.params["modelId"] == MODEL_ID and fake.params["system"] == [{"text": SYSTEM}]
    assert fake.stream.closed


def test_openai_streaming_over_converse_stream_ends_with_done():
    fake = FakeBedrock(FakeStream(STREAM_EVENTS))
    with streaming_gateway(fake) as url:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json={
                "model": MODEL_ID, "messages": [{"role": "user", "content": "Capital?"}], "stream": True,
                "stream_options": {"include_usage": True}}) as response:
            data = [d for _, d in sse_data(response)]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Paris."
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"
    assert chunks[-1]["usage"] == {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}


def test_a_stream_error_before_any_text_is_an_http_error_and_after_is_an_error_event():
    with streaming_gateway(FakeBedrock(FakeStream(STREAM_EVENTS, fail_after=0))) as url:
        response = httpx.post(f"{url}/chat", json={"messages": [{"role": "user", "content": "hi"}], "stream": True})
        assert response.status_code == 429 and response.headers["retry-after"] == "2"
    with streaming_gateway(FakeBedrock(FakeStream(STREAM_EVENTS, fail_after=2))) as url:
        with httpx.stream("POST", f"{url}/chat", json={"messages": [{"role": "user", "content": "hi"}], "stream": True}) as response:
            assert response.status_code == 200
            events = sse_data(response)
    assert json.loads(events[0][1]) == {"delta": "Par"}
    name, data = events[-1]
    assert name == "error" and json.loads(data)["error"]["code"] == "backend_throttled"


# ---- Lambda: no streaming through API Gateway; the answer is buffered and says so ---------------------------
def test_under_lambda_a_streamed_request_is_answered_buffered():
    client = bedrock_client()
    app = create_app(bedrock_settings())
    app.state.chat._factory = lambda: client
    handler = make_handler(app)
    event = json.loads((EVENTS / "http_v2_predict_mnist.json").read_text())
    body = {"messages": [{"role": "user", "content": "Capital of France?"}], "stream": True}
    event.update(routeKey="POST /chat", rawPath="/chat", pathParameters=None, body=json.dumps(body), isBase64Encoded=False)
    event["requestContext"] = {**event["requestContext"], "routeKey": "POST /chat",
                               "http": {**event["requestContext"]["http"], "path": "/chat", "method": "POST"}}
    with Stubber(client) as stubber:
        stubber.add_response("converse", CONVERSE_ANSWER)
        response = handler(event, None)
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["x-modelport-streaming"] == "buffered"
    data = json.loads(response["body"])
    assert data["streamed"] is False and "cannot stream" in data["streamNote"]
    assert data["reply"] == "Paris is the capital of France." and data["provider"] == "bedrock"
