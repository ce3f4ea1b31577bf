"""The gateway through the real HTTP stack: modelport's HTTP server on 127.0.0.1 → gateway → real boto3 → a real HTTP
server speaking the SageMaker Runtime API (the stand-in for hosting in tests/helpers/standin_runtime.py)."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.processes import free_port
from tests.helpers.standin_runtime import (
    answer_json, echo, mnist_answer, model_error, not_ready, slow,
)
from modelport.gateway.app import create_app
from modelport.gateway.settings import GatewaySettings

GATEWAY_ENV = (
    "MODELPORT_ROUTES", "MNIST_SKLEARN_ENDPOINT", "MNIST_PYTORCH_ENDPOINT", "SENTIMENT_ENDPOINT",
    "ALLOWED_ORIGINS", "MODELPORT_API_KEYS", "MODELPORT_RATE_LIMIT", "MODELPORT_BACKEND_TIMEOUT",
    "MODELPORT_MAX_BODY_MB", "MODELPORT_INVOKE_ENDPOINTS", "MODELPORT_PAGE_DIR", "MODELPORT_MODE",
    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_ENDPOINT_URL_SAGEMAKER", "CHAT_PROVIDER",
)
SENTIMENT_ANSWER = {"predictions": [{"label": "positive", "probabilities": {"negative": 0.02, "neutral": 0.08, "positive": 0.9}}]}
PIXELS = [0.0] * 784


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in GATEWAY_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def standin_behaviours():
    return {
        "mnist-sk": answer_json(mnist_answer(7)),
        "senti": answer_json(SENTIMENT_ANSWER),
        "echo-ep": echo(),
        "broken": model_error(400, "expected 784 pixels, got 3"),
        "crashing": model_error(500, "CUDA out of memory"),
        "slow-ep": slow(3.0, answer_json(mnist_answer(1))),
        "warming": not_ready(),
        "list-answer": answer_json([[0.1, 0.9]]),
        "csv-answer": lambda body, headers: (200, {"Content-Type": "text/csv"}, b"1,2\n"),
    }


def settings(standin, **overrides) -> GatewaySettings:
    values = dict(
        runtime_endpoint_url=standin.url, mode="local", region="us-east-1", runtime_client="boto3",
        mnist_sklearn_endpoint="mnist-sk", sentiment_endpoint="senti",
        routes="broken-model=broken,crashing-model=crashing,slow-model=slow-ep,warming-model=warming,"
               "missing-model=no-such-endpoint,list-model=list-answer,csv-model=csv-answer",
    )
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture(scope="module")
def gateway_settings(standin):
    return settings(standin, backend_timeout=1.0)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["retryable"], bool)
    assert body["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body["error"]


# ---- predict --------------------------------------------------------------------------------------
def test_predict_forwards_the_exact_body_and_adds_model_endpoint_latency(gateway, standin):
    raw = b'{ "pixels" :  ' + json.dumps(PIXELS).encode() + b' }'  # odd spacing: must arrive byte for byte
    before = len(standin.calls)
    response = gateway.post("/predict/mnist-sklearn", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["predictions"][0]["label"] == 7 and len(data["predictions"][0]["probabilities"]) == 10
    assert data["model"] == "mnist-sklearn" and data["endpoint"] == "mnist-sk"
    assert data["latencyMs"]["model"] > 0 and data["latencyMs"]["total"] >= data["latencyMs"]["model"]
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    call = standin.calls[before]
    assert len(standin.calls) == before + 1
    assert call.endpoint == "mnist-sk" and call.body == raw
    assert call.headers["content-type"] == "application/json" and call.headers["accept"] == "application/json"


def test_predict_sentiment_and_image_data_url(gateway, standin):
    response = gateway.post("/predict/sentiment", json={"text": "What a lovely day"})
    assert response.status_code == 200 and response.json()["predictions"][0]["label"] == "positive"
    before = len(standin.calls)
    response = gateway.post("/predict/mnist-sklearn", json={"image": "data:image/png;base64,iVBORw0KGgo="})
    assert response.status_code == 200, response.text
    assert json.loads(standin.calls[before].body) == {"image": "iVBORw0KGgo="}


def test_predict_wraps_a_non_object_answer_and_refuses_non_json(gateway):
    response = gateway.post("/predict/list-model", json={"instances": [[1, 2]]})
    assert response.status_code == 200 and response.json()["predictions"] == [[0.1, 0.9]]
    assert_error(gateway.post("/predict/csv-model", json={"x": 1}), 502, "bad_model_response")


@pytest.mark.parametrize(
    ("model", "body", "code", "field"),
    [
        ("mnist-sklearn", {"pixels": [0.5] * 3}, "invalid_field", "pixels"),
        ("mnist-sklearn", {"pixels": [0.0] * 783 + [2.0]}, "invalid_field", "pixels[783]"),
        ("mnist-sklearn", {"pixels": [0.0] * 783 + [True]}, "invalid_field", "pixels[783]"),
        ("mnist-sklearn", {"instances": [PIXELS, [0.0] * 10]}, "invalid_field", "instances[1]"),
        ("mnist-sklearn", {"instances": []}, "invalid_field", "instances"),
        ("mnist-sklearn", {"pixels": PIXELS, "image": "aGk="}, "invalid_body", "pixels/instances/image"),
        ("mnist-sklearn", {"digits": PIXELS}, "invalid_body", "pixels/instances/image"),
        ("mnist-sklearn", {"image": "not base64 !!"}, "invalid_field", "image"),
        ("mnist-sklearn", [PIXELS], "invalid_body", None),
        ("sentiment", {"text": "   "}, "invalid_field", "text"),
        ("sentiment", {"text": "x" * 5001}, "invalid_field", "text"),
        ("sentiment", {"text": 42}, "invalid_field", "text"),
        ("sentiment", {"instances": ["fine", ""]}, "invalid_field", "instances[1]"),
    ],
)
def test_predict_bad_input_is_400_naming_the_field_and_never_reaches_the_model(gateway, standin, model, body, code, field):
    before = len(standin.calls)
    error = assert_error(gateway.post(f"/predict/{model}", json=body), 400, code)
    assert error.get("field") == field
    for name in (field or "").split("/"):
        assert name in error["message"]
    assert len(standin.calls) == before


def test_predict_bad_json_empty_body_and_wrong_content_type(gateway):
    error = assert_error(gateway.post("/predict/mnist-sklearn", content=b'{"pixels": [0,', headers={"content-type": "application/json"}), 400, "invalid_json")
    assert "not valid JSON" in error["message"]
    error = assert_error(gateway.post("/predict/mnist-sklearn", content=b"", headers={"content-type": "application/json"}), 400, "empty_body")
    assert "pixels" in error["message"]
    error = assert_error(gateway.post("/predict/mnist-sklearn", content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"}), 415, "unsupported_media_type")
    assert "application/json" in error["message"]
    npy = assert_error(gateway.post("/predict/mnist-sklearn", content=b"\x93NUMPY", headers={"content-type": "application/x-npy"}), 415, "unsupported_media_type")
    assert "got application/x-npy" in npy["message"] and "POST /invoke/" in npy["message"]  # names the route for binary bodies


def test_unknown_model_path_and_method(gateway):
    error = assert_error(gateway.post("/predict/resnet", json={"x": 1}), 404, "unknown_model")
    assert "mnist-sklearn" in error["message"]  # says which models exist
    assert_error(gateway.post("/nowhere", json={}), 404, "not_found")
    assert_error(gateway.get("/nowhere"), 404, "not_found")
    response = gateway.get("/predict/mnist-sklearn")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert_error(gateway.delete("/health"), 405, "method_not_allowed")


def test_unconfigured_model_is_503_naming_the_variable(gateway):
    error = assert_error(gateway.post("/predict/mnist-pytorch", json={"pixels": PIXELS}), 503, "model_not_configured")
    assert "MNIST_PYTORCH_ENDPOINT" in error["message"]


def test_model_refusal_keeps_its_status_and_message_and_a_failure_is_502(gateway):
    error = assert_error(gateway.post("/predict/broken-model", json={"x": 1}), 400, "model_error")
    assert error["modelStatus"] == 400 and error["modelMessage"] == "expected 784 pixels, got 3"
    assert error["retryable"] is False
    error = assert_error(gateway.post("/predict/crashing-model", json={"x": 1}), 502, "model_error")
    assert error["modelStatus"] == 500 and error["retryable"] is True
    assert "CUDA out of memory" not in error["message"] and "modelMessage" not in error  # a failure's text stays in the log


def test_backend_timeout_is_504(gateway):
    error = assert_error(gateway.post("/predict/slow-model", json={"x": 1}), 504, "backend_timeout")
    assert error["retryable"] is True and "slow-ep" in error["message"]


def test_not_ready_missing_endpoint_and_unreachable_backend_are_503(gateway, standin):
    response = gateway.post("/predict/warming-model", json={"x": 1})
    assert_error(response, 503, "model_not_ready")
    assert response.headers["retry-after"] == "5"
    error = assert_error(gateway.post("/predict/missing-model", json={"x": 1}), 503, "endpoint_not_found")
    assert "no-such-endpoint" in error["message"]
    dead = f"http://127.0.0.1:{free_port()}"
    with LiveGateway(create_app(settings(standin, runtime_endpoint_url=dead))) as url:
        response = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, timeout=10)
    assert_error(response, 503, "backend_unavailable")


def test_body_over_the_limit_is_413_with_or_without_content_length(standin):
    before = len(standin.calls)
    with LiveGateway(create_app(settings(standin, max_body_mb=0.001))) as url:  # 1048 bytes
        big = json.dumps({"pixels": [0.123456] * 784}).encode()
        response = httpx.post(f"{url}/predict/mnist-sklearn", content=big, headers={"content-type": "application/json"})
        assert_error(response, 413, "payload_too_large")
        chunked = httpx.post(f"{url}/invoke/echo-ep", content=iter([big[:600], big[600:]]), headers={"content-type": "application/json"})
        assert "content-length" not in chunked.request.headers
        assert_error(chunked, 413, "payload_too_large")
        small = httpx.post(f"{url}/invoke/echo-ep", content=b"[1]", headers={"content-type": "application/json"})
        assert small.status_code == 200
    assert len(standin.calls) == before + 1


# ---- invoke ---------------------------------------------------------------------------------------
def test_invoke_passes_body_and_types_through_as_is(gateway, standin):
    before = len(standin.calls)
    payload = bytes(range(256)) * 4  # not UTF-8: must pass untouched
    response = gateway.post("/invoke/echo-ep", content=payload, headers={"content-type": "application/x-npy", "accept": "application/x-npy"})
    assert response.status_code == 200
    assert response.content == payload and response.headers["content-type"] == "application/x-npy"
    assert response.headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    call = standin.calls[before]
    assert call.body == payload and call.headers["content-type"] == "application/x-npy" and call.headers["accept"] == "application/x-npy"
    response = gateway.post("/invoke/echo-ep", content=b"1,2,3\n", headers={"content-type": "text/csv", "accept": "text/csv"})
    assert response.text == "1,2,3\n" and response.headers["content-type"] == "text/csv"  # exact, no charset added


def test_invoke_errors(gateway, standin):
    assert_error(gateway.post("/invoke/no-such-endpoint", content=b"{}"), 404, "unknown_endpoint")
    error = assert_error(gateway.post("/invoke/bad_name!", content=b"{}"), 400, "invalid_field")
    assert error["field"] == "endpoint"
    assert_error(gateway.post("/invoke/broken", content=b"{}", headers={"content-type": "application/json"}), 400, "model_error")
    with LiveGateway(create_app(settings(standin, invoke_endpoints="echo-ep"))) as url:
        assert httpx.post(f"{url}/invoke/echo-ep", content=b"{}").status_code == 200
        assert_error(httpx.post(f"{url}/invoke/mnist-sk", content=b"{}"), 404, "unknown_endpoint")
    with LiveGateway(create_app(settings(standin, invoke_endpoints=""))) as url:
        error = assert_error(httpx.post(f"{url}/invoke/echo-ep", content=b"{}"), 404, "unknown_endpoint")
        assert "switched off" in error["message"]
        npy = assert_error(httpx.post(f"{url}/predict/mnist-sklearn", content=b"\x93NUMPY", headers={"content-type": "application/x-npy"}),
                           415, "unsupported_media_type")
        assert "/invoke" not in npy["message"]  # a closed /invoke is not offered


# ---- health, models, docs, chat, page -------------------------------------------------------------
def test_health_reports_configuration_without_calling_the_backend(gateway, standin):
    before = len(standin.calls)
    data = gateway.get("/health").json()
    assert data["status"] == "ok" and data["mode"] == "local" and data["version"]
    models = {m["name"]: m for m in data["models"]}
    assert models["mnist-sklearn"] == {"name": "mnist-sklearn", "kind": "image-classifier", "configured": True}
    assert models["mnist-pytorch"]["configured"] is False
    assert data["chat"] == {"configured": False, "provider": None}
    assert len(standin.calls) == before


def test_models_lists_kinds_labels_and_live_status(gateway):
    models = {m["name"]: m for m in gateway.get("/models").json()["models"]}
    sk = models["mnist-sklearn"]
    assert sk["kind"] == "image-classifier" and sk["labels"] == [str(d) for d in range(10)]
    assert sk["status"] == "InService" and sk["variants"] == [{"name": "AllTraffic", "instances": 2, "weight": 1.0}]
    assert models["sentiment"]["labels"] == ["negative", "neutral", "positive"]
    assert models["mnist-pytorch"]["status"] == "NotConfigured" and models["mnist-pytorch"]["endpoint"] is None
    assert models["missing-model"]["status"] == "NotFound"


def test_models_lists_chat_with_its_provider_and_status(standin):
    def chat_entry(**overrides) -> dict:
        with LiveGateway(create_app(settings(standin, **overrides))) as url:
            models = httpx.get(f"{url}/models", timeout=10).json()["models"]
        assert [m["name"] for m in models].count("chat") == 1
        return next(m for m in models if m["name"] == "chat")

    # locally, auto-detection: the bundled chat endpoint's live status (the stand-in has none called chat)
    auto = chat_entry()
    assert auto["kind"] == "chat" and auto["provider"] == "sagemaker" and auto["autoDetected"] is True
    assert auto["endpoint"] == "chat" and auto["configured"] is True and auto["status"] == "NotFound"
    # a chat model on a named SageMaker endpoint
    deployed = chat_entry(chat_provider="sagemaker", chat_endpoint="echo-ep")
    assert deployed["provider"] == "sagemaker" and deployed["autoDetected"] is False
    assert deployed["endpoint"] == "echo-ep" and deployed["status"] == "InService"
    assert deployed["variants"] == [{"name": "AllTraffic", "instances": 2, "weight": 1.0}]
    # an OpenAI-compatible server is not a SageMaker endpoint
    external = chat_entry(chat_provider="openai", chat_base_url="http://127.0.0.1:9/v1", chat_model="llama")
    assert external["endpoint"] is None and external["status"] == "External" and external["model"] == "llama"
    assert "127.0.0.1:9" in external["reason"]
    # switched off: listed, not configured, and why
    off = chat_entry(chat_provider="none")
    assert off["configured"] is False and off["status"] == "NotConfigured" and "CHAT_PROVIDER" in off["reason"]
    # a route of the table called chat is listed once, as the table has it
    routed = chat_entry(routes="chat=echo-ep")
    assert routed["kind"] == "chat" and routed["endpoint"] == "echo-ep" and "provider" not in routed


def test_docs_and_openapi(gateway):
    assert gateway.get("/docs").status_code == 200
    spec = gateway.get("/openapi.json").json()
    assert {"/health", "/models", "/predict/{model}", "/invoke/{endpoint}", "/chat"} <= set(spec["paths"])


def test_chat_routes_answer_503_until_a_provider_exists(gateway):
    assert_error(gateway.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]}), 503, "chat_not_configured")
    assert_error(gateway.post("/v1/chat/completions", json={"model": "x", "messages": []}), 503, "chat_not_configured")
    assert_error(gateway.get("/v1/models"), 503, "chat_not_configured")


def test_serves_the_built_page_at_root(standin, tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>modelport</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log('hi')")
    with LiveGateway(create_app(settings(standin, page_dir=tmp_path))) as url:
        root = httpx.get(f"{url}/")
        assert root.status_code == 200 and "<title>modelport</title>" in root.text
        assert root.headers["content-type"].startswith("text/html")
        assert httpx.get(f"{url}/assets/app.js").text == "console.log('hi')"
        assert_error(httpx.get(f"{url}/assets/missing.js"), 404, "not_found")
        assert httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}).status_code == 200
        assert_error(httpx.get(f"{url}/predict/mnist-sklearn"), 405, "method_not_allowed")


def test_no_page_built_answers_json_404_at_root(standin, tmp_path):
    # a page folder without index.html counts as "not built" (the repo's page/dist may exist)
    with LiveGateway(create_app(settings(standin, page_dir=tmp_path))) as url:
        error = assert_error(httpx.get(f"{url}/"), 404, "not_found")
    assert "/docs" in error["message"]


def test_bad_configuration_is_reported_not_raised(standin, monkeypatch):
    monkeypatch.setenv("MODELPORT_ROUTES", '{"a": 5}')
    monkeypatch.setenv("MODELPORT_RATE_LIMIT", "lots")
    monkeypatch.setenv("MNIST_SKLEARN_ENDPOINT", "mnist-sk")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", standin.url)
    with LiveGateway(create_app()) as url:
        health = httpx.get(f"{url}/health").json()
        assert health["status"] == "degraded"
        assert any("MODELPORT_ROUTES" in e for e in health["configErrors"])
        assert any("MODELPORT_RATE_LIMIT" in e for e in health["configErrors"])
        assert httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}).status_code == 200
    monkeypatch.setenv("MODELPORT_BACKEND_TIMEOUT", "soon")
    app = create_app()
    assert any("MODELPORT_BACKEND_TIMEOUT" in e for e in app.state.config_errors)


# ---- CORS -----------------------------------------------------------------------------------------
def test_cors_allow_list_on_success_and_error_responses(standin):
    site = "http://demo-site.s3-website-us-east-1.amazonaws.com"
    with LiveGateway(create_app(settings(standin, allowed_origins=f"{site}, http://localhost:5173"))) as url:
        ok = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"origin": site})
        assert ok.headers["access-control-allow-origin"] == site and ok.headers["vary"] == "Origin"
        assert "x-request-id" in ok.headers["access-control-expose-headers"]
        for response in (
            httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": [1]}, headers={"origin": site}),
            httpx.post(f"{url}/predict/nope", json={}, headers={"origin": site}),
            httpx.post(f"{url}/predict/broken-model", json={}, headers={"origin": site}),
        ):
            assert response.status_code >= 400
            assert response.headers["access-control-allow-origin"] == site and response.headers["vary"] == "Origin"
        other = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers and other.headers["vary"] == "Origin"
        preflight = httpx.options(f"{url}/predict/mnist-sklearn", headers={
            "origin": "http://localhost:5173", "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-api-key"})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert {"content-type", "x-api-key"} <= set(preflight.headers["access-control-allow-headers"].replace(" ", "").split(","))
        denied = httpx.options(f"{url}/predict/mnist-sklearn", headers={"origin": "http://evil.example", "access-control-request-method": "POST"})
        assert_error(denied, 403, "origin_not_allowed")
        assert "access-control-allow-origin" not in denied.headers
    with LiveGateway(create_app(settings(standin, allowed_origins="*"))) as url:
        anyone = httpx.get(f"{url}/health", headers={"origin": "http://anywhere.example"})
        assert anyone.headers["access-control-allow-origin"] == "*"


# ---- keys, throttling, request ids, logs ------------------------------------------------------------
def test_api_keys_401_403_and_accepted_forms(standin):
    with LiveGateway(create_app(settings(standin, api_keys="k-alpha, k-beta"))) as url:
        missing = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"origin": "http://x.example"})
        error = assert_error(missing, 401, "missing_api_key")
        assert "x-api-key" in error["message"] and missing.headers["access-control-allow-origin"] == "*"
        assert_error(httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": "k-gamma"}), 403, "invalid_api_key")
        assert httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": "k-beta"}).status_code == 200
        assert httpx.get(f"{url}/models", headers={"authorization": "Bearer k-alpha"}).status_code == 200
        assert_error(httpx.get(f"{url}/models"), 401, "missing_api_key")
        assert_error(httpx.post(f"{url}/invoke/echo-ep", content=b"{}"), 401, "missing_api_key")
        assert httpx.get(f"{url}/health").status_code == 200  # health stays open
        assert httpx.options(f"{url}/predict/mnist-sklearn", headers={"origin": "http://x.example", "access-control-request-method": "POST"}).status_code == 204


def test_token_bucket_throttles_with_retry_after_per_key(standin):
    with LiveGateway(create_app(settings(standin, rate_limit="1/min:2", api_keys="k1,k2"))) as url:
        post = lambda key: httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": key})
        assert [post("k1").status_code, post("k1").status_code] == [200, 200]
        throttled = post("k1")
        error = assert_error(throttled, 429, "throttled")
        assert error["retryable"] is True
        assert 1 <= int(throttled.headers["retry-after"]) <= 60
        assert post("k2").status_code == 200  # another key has its own bucket
        assert httpx.get(f"{url}/health").status_code == 200  # health is not throttled
    with LiveGateway(create_app(settings(standin, rate_limit="1/h:1"))) as url:  # no keys: per client IP
        assert httpx.get(f"{url}/models").status_code == 200
        assert_error(httpx.get(f"{url}/models"), 429, "throttled")


def test_request_id_is_kept_when_sane_and_replaced_when_not(gateway):
    kept = gateway.post("/predict/nope", json={}, headers={"x-request-id": "client-id-123"})
    assert kept.headers["x-request-id"] == "client-id-123" and kept.json()["requestId"] == "client-id-123"
    replaced = gateway.get("/health", headers={"x-request-id": "bad id <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])
    first, second = gateway.get("/health"), gateway.get("/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_structured_logs_have_route_status_latency_and_no_bodies_or_keys(standin):
    collect = _Collect()
    logger = logging.getLogger("modelport.gateway")
    logger.addHandler(collect)
    try:
        with LiveGateway(create_app(settings(standin, api_keys="super-secret-key"))) as url:
            headers = {"x-api-key": "super-secret-key", "x-request-id": "log-test-1"}
            httpx.post(f"{url}/predict/sentiment", json={"text": "MARKER-PRIVATE-TEXT"}, headers=headers)
            httpx.post(f"{url}/predict/sentiment", json={"text": ""}, headers={**headers, "x-request-id": "log-test-2"})
            httpx.post(f"{url}/predict/sentiment", json={"text": "x"}, headers={"x-api-key": "wrong-secret", "x-request-id": "log-test-3"})
    finally:
        logger.removeHandler(collect)
    records = {r["requestId"]: r for r in map(json.loads, collect.lines) if r.get("event") == "request"}
    ok = records["log-test-1"]
    assert ok["route"] == "/predict/{model}" and ok["status"] == 200 and ok["method"] == "POST"
    assert ok["endpoint"] == "senti" and ok["model"] == "sentiment" and ok["latencyMs"] > 0 and ok["modelLatencyMs"] > 0
    assert records["log-test-2"]["status"] == 400 and records["log-test-2"]["error"] == "invalid_field"
    assert records["log-test-3"]["status"] == 403
    everything = "\n".join(collect.lines)
    for secret in ("MARKER-PRIVATE-TEXT", "super-secret-key", "wrong-secret"):
        assert secret not in everything


def test_unexpected_failure_in_a_framework_route_is_a_json_500_too(standin):
    app = create_app(settings(standin))

    async def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    app.state.backend.statuses = explode  # GET /models is served by FastAPI's router, not the hot path
    with LiveGateway(app) as url:
        response = httpx.get(f"{url}/models", headers={"origin": "http://x.example"})
    error = assert_error(response, 500, "internal_error")
    assert "secret internal detail" not in response.text and error["retryable"] is True
    assert response.headers["access-control-allow-origin"] == "*"


def test_unexpected_failure_is_a_json_500_without_details(standin):
    app = create_app(settings(standin))

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    app.state.backend.transport.invoke_sync = explode  # a bug inside the gateway, not a backend error
    with LiveGateway(app) as url:
        response = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"origin": "http://x.example"})
    error = assert_error(response, 500, "internal_error")
    assert "secret internal detail" not in response.text and error["retryable"] is True
    assert response.headers["access-control-allow-origin"] == "*"
