"""The lean Runtime API client (MODELPORT_RUNTIME_CLIENT=http) keeps boto3's contract: same requests on
the wire, same error mapping, pooled keep-alive connections. Checked against the SageMaker-Runtime
stand-in over real HTTP, side by side with the boto3 client."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.processes import free_port
from tests.helpers.standin_runtime import answer_json, chunked, echo, mnist_answer, model_error, not_ready, slow
from modelport.gateway.app import create_app
from modelport.gateway.settings import GatewaySettings

PIXELS = [0.0] * 784


@pytest.fixture(scope="module")
def standin_behaviours():
    return {
        "mnist-sk": answer_json(mnist_answer(6)), "echo-ep": echo(), "broken": model_error(400, "bad pixels"),
        "warming": not_ready(), "chunky": chunked(mnist_answer(9)), "slow-ep": slow(3.0, answer_json({})),
    }


def make_settings(url: str, client: str, **extra) -> GatewaySettings:
    values = dict(
        runtime_endpoint_url=url, runtime_client=client, mode="local", region="us-east-1",
        mnist_sklearn_endpoint="mnist-sk", mnist_pytorch_endpoint="", sentiment_endpoint="",
        routes="chunky-model=chunky,broken-model=broken,warming-model=warming,slow-model=slow-ep,missing-model=not-deployed",
        api_keys="", rate_limit="", allowed_origins="*", backend_timeout=1.0, access_log=False,
    )
    values.update(extra)
    return GatewaySettings(**values)


@pytest.fixture(scope="module", params=["boto3", "http"])
def gateway_settings(request, standin):
    """The gateway with the boto3 or the lean HTTP Runtime client."""
    return make_settings(standin.url, request.param)


def test_same_request_on_the_wire(gateway, standin):
    raw = json.dumps({"pixels": PIXELS}, indent=1).encode()
    before = len(standin.calls)
    for _ in range(3):  # several calls: pooled connections are reused
        response = gateway.post("/predict/mnist-sklearn", content=raw, headers={"content-type": "application/json"})
        assert response.status_code == 200 and response.json()["predictions"][0]["label"] == 6
        assert response.json()["latencyMs"]["model"] > 0
    call = standin.calls[before]
    assert call.endpoint == "mnist-sk" and call.body == raw
    assert call.headers["content-type"] == "application/json" and call.headers["accept"] == "application/json"


def test_chunked_answers_are_read_whole(gateway):
    for _ in range(2):
        response = gateway.post("/predict/chunky-model", json={"x": 1})
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == mnist_answer(9)["predictions"]


def test_invoke_headers_and_binary_body(gateway, standin):
    payload = bytes(range(256))
    response = gateway.post("/invoke/echo-ep", content=payload, headers={
        "content-type": "application/x-npy", "accept": "application/x-npy",
        "x-amzn-sagemaker-custom-attributes": "trace=7", "x-amzn-sagemaker-target-variant": "AllTraffic"})
    assert response.status_code == 200 and response.content == payload
    assert response.headers["content-type"] == "application/x-npy"
    assert response.headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    call = standin.calls[-1]
    assert call.headers["x-amzn-sagemaker-custom-attributes"] == "trace=7"
    assert call.headers["x-amzn-sagemaker-target-variant"] == "AllTraffic"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/predict/broken-model", 400, "model_error"),  # the model refused it: its own 4xx
        ("/predict/warming-model", 503, "model_not_ready"),
        ("/predict/missing-model", 503, "endpoint_not_found"),
        ("/predict/slow-model", 504, "backend_timeout"),
        ("/invoke/not-deployed", 404, "unknown_endpoint"),
    ],
)
def test_same_error_mapping(gateway, path, status, code):
    response = gateway.post(path, json={"x": 1})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if code == "model_error":
        assert error["modelStatus"] == 400 and error["modelMessage"] == "bad pixels"


@pytest.mark.parametrize("client", ["boto3", "http"])
def test_unreachable_runtime_is_503(client):
    dead = f"http://127.0.0.1:{free_port()}"
    with LiveGateway(create_app(make_settings(dead, client))) as url:
        response = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, timeout=10)
    assert response.status_code == 503 and response.json()["error"]["code"] == "backend_unavailable"


def test_http_client_needs_a_plain_http_url():
    app = create_app(make_settings("https://runtime.sagemaker.us-east-1.amazonaws.com", "http"))
    assert app.state.backend.transport.name == "boto3"  # not the http transport
    assert any("MODELPORT_RUNTIME_CLIENT=http" in e for e in app.state.config_errors)
    app = create_app(make_settings("http://127.0.0.1:1", "carrier-pigeon"))
    assert any("boto3, http" in e for e in app.state.config_errors)
