"""The hot path (plain-ASGI POST /predict and /invoke) answers exactly as the FastAPI routes would.

Two live gateways on 127.0.0.1 over the same stand-in Runtime API: the normal app, and one with the
HotRoutes middleware taken out so FastAPI's routes serve. Every request, good or bad, must get the same
status, the same JSON (apart from per-request ids and timings) and the same relevant headers.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway
from tests.helpers.standin_runtime import answer_json, echo, mnist_answer, model_error
from modelport.gateway.app import create_app
from modelport.gateway.hot_routes import HotRoutes, _split
from modelport.gateway.settings import GatewaySettings

PIXELS = [0.5] * 784


@pytest.fixture(scope="module")
def standin_behaviours():
    return {
        "mnist-sk": answer_json(mnist_answer(3)),
        "echo-ep": echo(),
        "broken": model_error(400, "expected 784 pixels, got 3"),
    }


def _settings(standin) -> GatewaySettings:
    return GatewaySettings(
        runtime_endpoint_url=standin.url, mode="local", region="us-east-1", mnist_sklearn_endpoint="mnist-sk",
        routes="broken-model=broken", invoke_endpoints="echo-ep,broken", allowed_origins="http://page.test",
        max_body_mb=1,
    )


def _without_hot_routes(app):
    assert isinstance(app.edge.app, HotRoutes)
    app.edge.app = app.framework  # Edge straight to FastAPI's routes
    return app


@pytest.fixture(scope="module")
def both(standin):
    with LiveGateway(create_app(_settings(standin))) as hot_url, \
            LiveGateway(_without_hot_routes(create_app(_settings(standin)))) as framework_url:
        with httpx.Client(base_url=hot_url, timeout=10) as hot, httpx.Client(base_url=framework_url, timeout=10) as framework:
            yield hot, framework


def _comparable(response: httpx.Response):
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = response.content
    if isinstance(body, dict):
        body.pop("requestId", None)
        body.pop("latencyMs", None)
    headers = {k: response.headers.get(k) for k in (
        "content-type", "access-control-allow-origin", "vary", "x-modelport-endpoint", "retry-after",
    )}
    return response.status_code, body, headers


CASES = [
    ("predict ok", "/predict/mnist-sklearn", {"json": {"pixels": PIXELS}}),
    ("predict ok, charset", "/predict/mnist-sklearn", {"content": json.dumps({"pixels": PIXELS}), "headers": {"content-type": "application/json; charset=utf-8"}}),
    ("predict unknown model", "/predict/nope", {"json": {"pixels": PIXELS}}),
    ("predict not configured", "/predict/sentiment", {"json": {"text": "hi"}}),
    ("predict bad json", "/predict/mnist-sklearn", {"content": b"{nope", "headers": {"content-type": "application/json"}}),
    ("predict empty", "/predict/mnist-sklearn", {"content": b"", "headers": {"content-type": "application/json"}}),
    ("predict wrong type", "/predict/mnist-sklearn", {"content": b"x", "headers": {"content-type": "text/plain"}}),
    ("predict bad field", "/predict/mnist-sklearn", {"json": {"pixels": [2.0] * 784}}),
    ("predict model error", "/predict/broken-model", {"json": {"pixels": PIXELS}}),
    ("predict too large", "/predict/mnist-sklearn", {"content": b"[" + b"0," * 600_000 + b"0]", "headers": {"content-type": "application/json"}}),
    ("invoke echo", "/invoke/echo-ep", {"content": b"1,2,3", "headers": {"content-type": "text/csv", "accept": "text/csv"}}),
    ("invoke model error", "/invoke/broken", {"content": b"[1]", "headers": {"content-type": "application/json"}}),
    ("invoke not allowed", "/invoke/other-ep", {"content": b"[1]"}),
    ("invoke bad name", "/invoke/bad_name!", {"content": b"[1]"}),
    ("nested path", "/predict/mnist-sklearn/extra", {"json": {"pixels": PIXELS}}),
]


@pytest.mark.parametrize(("name", "path", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_hot_path_answers_like_the_framework_routes(both, name, path, kwargs):
    hot, framework = both
    headers = {"origin": "http://page.test", **kwargs.pop("headers", {})}
    hot_answer = hot.post(path, headers=headers, **kwargs)
    framework_answer = framework.post(path, headers=headers, **kwargs)
    assert _comparable(hot_answer) == _comparable(framework_answer)
    assert hot_answer.headers["x-request-id"]


def test_predict_answer_carries_model_endpoint_and_timings(both):
    hot, _ = both
    answer = hot.post("/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"origin": "http://page.test"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["predictions"][0]["label"] == 3
    assert (body["model"], body["endpoint"]) == ("mnist-sklearn", "mnist-sk")
    assert 0 < body["latencyMs"]["model"] <= body["latencyMs"]["total"]
    assert answer.headers["server-timing"].startswith("model;dur=")
    assert answer.headers["access-control-allow-origin"] == "http://page.test"


@pytest.mark.parametrize(("path", "expected"), [
    ("/predict/a", ("predict", "a")),
    ("/invoke/ep-1", ("invoke", "ep-1")),
    ("/predict/", None),
    ("/predict/a/b", None),
    ("/predictions/a", None),
    ("/health", None),
])
def test_only_single_segment_names_take_the_hot_path(path, expected):
    assert _split(path) == expected


def test_busy_poll_only_for_the_local_gateway(standin):
    from modelport.gateway.edge import Edge

    def edge_of(app):
        assert isinstance(app.edge, Edge)
        return app.edge

    local = create_app(GatewaySettings(runtime_endpoint_url=standin.url, mode="local", busy_poll_ms=3))
    aws = create_app(GatewaySettings(runtime_endpoint_url=standin.url, mode="aws", busy_poll_ms=3))
    off = create_app(GatewaySettings(runtime_endpoint_url=standin.url, mode="local", busy_poll_ms=0))
    assert edge_of(local).busy_poll_seconds == 0.003
    assert edge_of(aws).busy_poll_seconds == 0.0  # Lambda bills until the handler returns: never spin there
    assert edge_of(off).busy_poll_seconds == 0.0


@pytest.mark.parametrize(("values", "bad_index"), [
    (["a"] * 784, 0),
    ([0.1] * 783 + ["a"], 783),
    ([None] * 784, 0),
    ([[0.1]] * 784, 0),
    ([{}] * 784, 0),
    ([0.0] * 783 + [True], 783),
    ([False] + [0.0] * 783, 0),
    ([0.0] * 783 + [-0.1], 783),
    ([0.0] * 783 + [10 ** 30], 783),
])
def test_pixel_check_names_the_first_bad_value_whatever_the_raw_body(values, bad_index):
    import orjson

    from modelport.gateway.errors import ApiError
    from modelport.gateway.validation import validate_predict_body

    payload = {"pixels": values}
    raw = orjson.dumps(payload) if not any(isinstance(v, int) and v > 2 ** 63 for v in values) else repr(payload).encode()
    for given_raw in (raw, None):
        with pytest.raises(ApiError) as caught:
            validate_predict_body("image-classifier", payload, given_raw)
        assert caught.value.status == 400 and caught.value.details["field"] == f"pixels[{bad_index}]"


def test_pixel_check_accepts_ints_and_floats_in_range():
    from modelport.gateway.validation import validate_predict_body

    assert validate_predict_body("image-classifier", {"pixels": [0, 1, 0.5, 1.0] * 196}, b'{"pixels": [0, 1, 0.5, 1.0]}') is None
