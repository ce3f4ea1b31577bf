"""A model's exception text (its file paths, its traceback) never reaches public gateway clients.

Real stack: live gateway → hosting → a runtime whose model raises errors that name its own files.
Checked on the hot path, on FastAPI's routes (hot path taken out) and on chat, buffered and streamed.
The full text stays in the gateway's log, under the requestId the answer carries.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.gateway_stack import toy_gateway
from modelport.gateway.errors import ApiError, public_error, scrub
from modelport.gateway.logs import LOGGER_NAME

LEAKY_MODEL = """
    import json
    from sagemaker_inference import errors

    def model_fn(model_dir):
        return {"dir": model_dir}

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, model):
        if "messages" in data:
            return chat(data["messages"][-1]["content"], model)
        text = data.get("text") or data.get("say", "")
        if text == "crash":
            raise RuntimeError("cannot read " + model["dir"] + "/weights.bin (loaded by " + __file__ + ")")
        if text == "refuse":
            raise errors.GenericInferenceToolkitError(400, "text is too cheerful; see " + __file__)
        if text == "traceback":
            raise errors.GenericInferenceToolkitError(
                422, 'no good\\nTraceback (most recent call last):\\n  File "' + __file__ + '", line 9')
        return {"predictions": [{"label": "positive", "probabilities": {"positive": 1.0}}]}

    def chat(text, model):
        if text == "crash":
            raise RuntimeError("chat weights missing in " + model["dir"])
        def events():
            yield {"delta": "hello"}
            if text == "midstream":
                raise RuntimeError("generator died in " + __file__)
            yield {"done": True, "stopReason": "end_turn", "model": "toy", "usage": {"inputTokens": 1, "outputTokens": 1}}
        return events()

    def output_fn(prediction, accept):
        if isinstance(prediction, dict):
            return json.dumps(prediction), "application/json"
        return prediction, "application/jsonlines"
"""


class Captured(logging.Handler):
    """Keeps the gateway's log records (JSON lines) for the test to read."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def details_for(self, request_id: str) -> list[dict]:
        found = []
        for line in self.lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == "error_detail" and record.get("requestId") == request_id:
                found.append(record)
        return found


@pytest.fixture(scope="module")
def toy_inference():
    return LEAKY_MODEL


@pytest.fixture(scope="module")
def captured():
    """The gateway's log records while this module runs."""
    handler = Captured()
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def gateways(stack, captured):
    """Clients on the stack's gateway ("hot") and on one without the hot routes ("framework"), same hosting."""
    with LiveGateway(toy_gateway(stack.hosting_url, hot_routes=False)) as framework_url:
        with httpx.Client(base_url=framework_url, timeout=30) as framework:
            yield {"hot": stack.client, "framework": framework}


def assert_no_leak(text: str, root: str) -> None:
    for secret in (root, "inference.py", "Traceback", "/weights.bin", "cannot read", "site-packages"):
        assert secret not in text, f"{secret!r} leaked: {text}"


CALLS = {
    "predict": ("/predict/sentiment", "text"),
    "invoke": ("/invoke/toy", "say"),
}


@pytest.mark.parametrize("path", ["hot", "framework"])
@pytest.mark.parametrize("call", list(CALLS))
def test_a_crashing_model_answers_its_status_not_its_text(gateways, captured, stack, path, call):
    clients, root = gateways, str(stack.root)
    url, field = CALLS[call]
    response = clients[path].post(url, json={field: "crash"})
    assert response.status_code == 502, response.text
    assert_no_leak(response.text, root)
    body = response.json()
    error = body["error"]
    assert error["code"] == "model_error" and error["modelStatus"] == 500 and error["modelError"] == "ModelError"
    assert "modelMessage" not in error and "requestId" in error["message"]
    (detail,) = captured.details_for(body["requestId"])  # the operator finds the full text by request id
    assert "cannot read" in json.dumps(detail) and "inference.py" in json.dumps(detail)


@pytest.mark.parametrize("path", ["hot", "framework"])
@pytest.mark.parametrize("call", list(CALLS))
def test_a_model_refusal_keeps_its_message_without_paths(gateways, captured, stack, path, call):
    clients, root = gateways, str(stack.root)
    url, field = CALLS[call]
    response = clients[path].post(url, json={field: "refuse"})
    assert response.status_code == 400  # the model's own status: the request was bad, no server failed
    refused = response.json()["error"]
    assert refused["modelStatus"] == 400 and refused["modelMessage"] == "text is too cheerful; see <path>"
    assert refused["message"] == "the model refused the request (400): text is too cheerful; see <path>"
    traceback = clients[path].post(url, json={field: "traceback"})
    assert traceback.status_code == 422
    assert_no_leak(traceback.text, root)
    assert traceback.json()["error"]["modelMessage"] == "no good"


@pytest.mark.parametrize("path", ["hot", "framework"])
def test_the_gateways_own_client_errors_keep_their_detail(gateways, captured, stack, path):
    clients = gateways
    response = clients[path].post("/predict/sentiment", json={"words": "hi"})
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "invalid_body" and "text" in error["message"]
    missing = clients[path].post("/predict/nope/more", json={})
    assert missing.status_code == 404 and "/predict/nope/more" in missing.json()["error"]["message"]


def chat(client: httpx.Client, text: str, stream: bool) -> httpx.Response:
    return client.post("/chat", json={"messages": [{"role": "user", "content": text}], "stream": stream})


@pytest.mark.parametrize("stream", [False, True])
def test_chat_model_failures_are_redacted(gateways, captured, stack, stream):
    clients, root = gateways, str(stack.root)
    assert "hello" in chat(clients["hot"], "hi", stream).text
    crashed = chat(clients["hot"], "crash", stream)
    assert crashed.status_code == 502, crashed.text
    assert_no_leak(crashed.text, root)
    assert crashed.json()["error"]["modelStatus"] == 500
    assert "chat weights missing" in json.dumps(captured.details_for(crashed.json()["requestId"]))


def test_chat_stream_failing_midway_sends_a_redacted_error_event(gateways, captured, stack):
    clients, root = gateways, str(stack.root)
    response = chat(clients["hot"], "midstream", True)
    assert response.status_code == 200 and 'data: {"delta":"hello"}' in response.text
    assert "event: error" in response.text
    assert_no_leak(response.text, root)
    assert "generator died" not in response.text  # (the traceback is in the instance's log)


@pytest.mark.parametrize(
    "text, public",
    [
        ("x must be a number", "x must be a number"),
        ("No such file: '/home/me/.modelport/models/ab/model.joblib'", "No such file: '<path>'"),
        ("bad\nTraceback (most recent call last):\n  File \"/a/b.py\", line 1", "bad"),
        ("see http://127.0.0.1:8001/endpoints/x/invocations", "see http://127.0.0.1:8001/endpoints/x/invocations"),
        (r"C:\Users\me\model.pkl is missing", "<path> is missing"),
        ("use POST /chat", "use POST /chat"),
        ("x" * 400, "x" * 299 + "…"),
    ],
)
def test_scrub(text, public):
    assert scrub(text) == public


def test_public_error_keeps_4xx_of_the_gateway_and_redacts_model_failures():
    own = ApiError(404, "not_found", "no route POST /a/b/c.py; see /docs")
    assert public_error(own) is own
    timeout = public_error(ApiError(502, "model_error", "...", modelStatus=0, modelMessage="timed out after 60 s"))
    assert timeout.message == "the model did not answer within its invocation timeout" and "modelMessage" not in timeout.details
    backend = public_error(ApiError(502, "backend_error", "failed: /srv/app/x.py exploded"))
    assert backend.message == "failed: <path> exploded"
