"""`lambda_function.lambda_handler` fed with API Gateway events (our own fixtures in tests/gateway/events/,
shaped like AWS's published samples): REST payload 1.0, HTTP API 2.0, named stage, preflight, base64
bodies, missing keys, header case. The backend is the SageMaker-Runtime stand-in over real HTTP."""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.standin_runtime import answer_json, echo, mnist_answer

REPO = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).parent / "events"
SITE = "http://demo-site.s3-website-us-east-1.amazonaws.com"
SENTIMENT = {"predictions": [{"label": "positive", "probabilities": {"negative": 0.05, "neutral": 0.15, "positive": 0.8}}]}


class FakeContext:
    """The attributes of Lambda's context object that code may read."""

    aws_request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"
    function_name = "modelport-gateway"
    memory_limit_in_mb = 512

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 28_000


def event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="module")
def standin_behaviours():
    return {"mnist-sk": answer_json(mnist_answer(4)), "senti": answer_json(SENTIMENT), "echo-ep": echo()}


@pytest.fixture()
def handler(standin, monkeypatch):
    """`lambda_function.lambda_handler`, imported fresh with a Lambda-like environment."""
    for name in ("MODELPORT_ROUTES", "MNIST_PYTORCH_ENDPOINT", "MODELPORT_API_KEYS", "MODELPORT_RATE_LIMIT",
                 "MODELPORT_MODE", "MODELPORT_PAGE_DIR", "AWS_ENDPOINT_URL_SAGEMAKER", "CHAT_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "modelport-gateway")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "lambda-secret")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", standin.url)
    monkeypatch.setenv("MNIST_SKLEARN_ENDPOINT", "mnist-sk")
    monkeypatch.setenv("SENTIMENT_ENDPOINT", "senti")
    monkeypatch.setenv("ALLOWED_ORIGINS", f"{SITE},http://localhost:5173")
    spec = importlib.util.spec_from_file_location("lambda_function_under_test", REPO / "lambda_function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def headers_of(response: dict) -> dict[str, str]:
    return {k.lower(): v for k, v in (response.get("headers") or {}).items()}


def test_rest_v1_predict(handler, standin):
    before = len(standin.calls)
    response = handler(event("rest_v1_predict_sentiment.json"), FakeContext())
    assert response["statusCode"] == 200, response
    assert "multiValueHeaders" in response and response["isBase64Encoded"] is False
    body = json.loads(response["body"])
    assert body["predictions"][0]["label"] == "positive" and body["model"] == "sentiment" and body["endpoint"] == "senti"
    headers = headers_of(response)
    assert headers["access-control-allow-origin"] == SITE and headers["vary"] == "Origin"
    assert headers["x-request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"  # API Gateway's request id
    assert json.loads(standin.calls[before].body) == {"text": "I really love this demo"}


def test_http_v2_predict(handler, standin):
    before = len(standin.calls)
    response = handler(event("http_v2_predict_mnist.json"), FakeContext())
    assert response["statusCode"] == 200, response
    assert "multiValueHeaders" not in response and "cookies" not in response
    body = json.loads(response["body"])
    assert body["predictions"][0]["label"] == 4 and body["latencyMs"]["total"] >= body["latencyMs"]["model"] > 0
    assert headers_of(response)["x-request-id"] == "JKJaXmPLvHcESHA="
    call = standin.calls[before]
    assert call.endpoint == "mnist-sk" and call.body == event("http_v2_predict_mnist.json")["body"].encode()


def test_http_v2_named_stage_raw_path_is_routed_without_the_stage(handler):
    response = handler(event("http_v2_named_stage.json"), FakeContext())
    assert response["statusCode"] == 200, response
    assert json.loads(response["body"])["model"] == "sentiment"


def test_http_v2_custom_domain_path_keeps_a_stage_like_prefix(handler):
    # stage "v1" on a custom domain: rawPath /v1/models is the real path (the chat facade), not /models
    response = handler(event("http_v2_custom_domain_stage.json"), FakeContext())
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"]["code"] == "chat_not_configured"


def test_rest_v1_options_preflight(handler, standin):
    before = len(standin.calls)
    response = handler(event("rest_v1_options_preflight.json"), FakeContext())
    assert response["statusCode"] == 204 and response["body"] == ""
    headers = headers_of(response)
    assert headers["access-control-allow-origin"] == SITE
    assert "POST" in headers["access-control-allow-methods"] and "content-type" in headers["access-control-allow-headers"]
    assert len(standin.calls) == before


def test_http_v2_base64_binary_body_passes_through_invoke(handler, standin):
    response = handler(event("http_v2_base64_invoke.json"), FakeContext())
    assert response["statusCode"] == 200, response
    assert response["isBase64Encoded"] is True
    assert base64.b64decode(response["body"]) == bytes(range(256))
    assert headers_of(response)["content-type"] == "application/x-npy"
    assert standin.calls[-1].body == bytes(range(256))


def test_http_v2_base64_json_without_content_type(handler, standin):
    response = handler(event("http_v2_base64_predict_no_content_type.json"), FakeContext())
    assert response["statusCode"] == 200, response
    assert json.loads(standin.calls[-1].body) == {"text": "base64 on the wire"}


def test_http_v2_without_body_query_or_path_parameters(handler):
    response = handler(event("http_v2_health_no_body.json"), FakeContext())
    assert response["statusCode"] == 200, response
    health = json.loads(response["body"])
    assert health["mode"] == "aws" and health["status"] == "ok"
    assert {m["name"]: m["configured"] for m in health["models"]} == {"mnist-sklearn": True, "mnist-pytorch": False, "sentiment": True}


def test_rest_v1_with_null_headers_and_body(handler):
    response = handler(event("rest_v1_no_headers_models.json"), FakeContext())
    assert response["statusCode"] == 200, response
    names = [m["name"] for m in json.loads(response["body"])["models"]]
    assert names == ["mnist-sklearn", "mnist-pytorch", "sentiment", "chat"]  # chat is listed even when not configured
    assert "access-control-allow-origin" not in headers_of(response)  # no Origin sent


def test_rest_v1_header_case_variants(handler, standin):
    before = len(standin.calls)
    response = handler(event("rest_v1_header_case.json"), FakeContext())
    assert response["statusCode"] == 400  # empty text, read through "CONTENT-TYPE: ...; charset=UTF-8"
    error = json.loads(response["body"])
    assert error["error"]["field"] == "text" and error["requestId"] == "caller-req-42"
    headers = headers_of(response)
    assert headers["access-control-allow-origin"] == SITE and headers["x-request-id"] == "caller-req-42"
    assert len(standin.calls) == before


def test_unknown_route_is_json_404_with_cors(handler):
    response = handler(event("http_v2_unknown_route.json"), FakeContext())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
    assert headers_of(response)["access-control-allow-origin"] == SITE


def test_importing_lambda_function_is_cheap_and_never_touches_hosting_or_runtime():
    probe = (
        "import sys, json, lambda_function\n"
        "mods = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore') "
        "or m.startswith(('modelport.hosting', 'modelport.runtime', 'modelport.training', 'torch', 'sklearn', 'numpy')))\n"
        "print(json.dumps(mods))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "MODELPORT_ROUTES": "not valid at all", "MODELPORT_BACKEND_TIMEOUT": "x"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr  # bad configuration never crashes the import
    assert json.loads(result.stdout) == []


def test_api_keys_in_any_header_case_and_missing_keys(handler, monkeypatch):
    monkeypatch.setenv("MODELPORT_API_KEYS", "lambda-key-1")
    spec = importlib.util.spec_from_file_location("lambda_function_with_keys", REPO / "lambda_function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = module.lambda_handler(event("rest_v1_predict_sentiment.json"), FakeContext())
    assert missing["statusCode"] == 401
    assert json.loads(missing["body"])["error"]["code"] == "missing_api_key"
    assert headers_of(missing)["access-control-allow-origin"] == SITE  # the browser can read the 401
    keyed = event("rest_v1_predict_sentiment.json")
    keyed["headers"]["X-API-KEY"] = "lambda-key-1"
    keyed["multiValueHeaders"]["X-API-KEY"] = ["lambda-key-1"]
    assert module.lambda_handler(keyed, FakeContext())["statusCode"] == 200
    v2 = event("http_v2_named_stage.json")
    v2["headers"]["x-api-key"] = "wrong"
    assert module.lambda_handler(v2, FakeContext())["statusCode"] == 403


def test_throttling_per_source_ip_in_lambda(handler, monkeypatch):
    monkeypatch.setenv("MODELPORT_RATE_LIMIT", "1/h:1")
    spec = importlib.util.spec_from_file_location("lambda_function_throttled", REPO / "lambda_function.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first = module.lambda_handler(event("http_v2_named_stage.json"), FakeContext())
    second = module.lambda_handler(event("http_v2_named_stage.json"), FakeContext())
    assert first["statusCode"] == 200 and second["statusCode"] == 429
    assert int(headers_of(second)["retry-after"]) >= 1
    other_ip = event("http_v2_named_stage.json")
    other_ip["requestContext"]["http"]["sourceIp"] = "198.51.100.99"
    assert module.lambda_handler(other_ip, FakeContext())["statusCode"] == 200
