"""The hot path (POST /predict and /invoke) answers exactly as the FastAPI routes would, on either of its lanes.

Three live gateways on 127.0.0.1 over the same stand-in Runtime API: the normal app (the server's direct lane,
no ASGI), one without the direct lane (HotRoutes as plain-ASGI middleware, as in Lambda), and one with both
taken out so FastAPI's routes serve. Every request, good or bad, must get the same status, the same JSON
(apart from per-request ids and timings) and the same relevant headers from all three.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway, asgi_only, framework_only
from tests.helpers.standin_runtime import answer_json, echo, mnist_answer, model_error
from modelport.gateway.app import create_app
from modelport.gateway.hot_routes import hot_target
from modelport.gateway.settings import GatewaySettings

PIXELS = [0.5] * 784


@pytest.fixture(scope="module")
def standin_behaviours():
    return {
        "mnist-sk": answer_json(mnist_answer(3)),
        "echo-ep": echo(),
        "broken": model_error(400, "expected 784 pixels, got 3"),
    }


def _settings(standin, **overrides) -> GatewaySettings:
    return GatewaySettings(**{
        "runtime_endpoint_url": standin.url, "mode": "local", "region": "us-east-1", "mnist_sklearn_endpoint": "mnist-sk",
        "routes": "broken-model=broken", "invoke_endpoints": "echo-ep,broken", "allowed_origins": "http://page.test",
        "max_body_mb": 1, **overrides,
    })


CLAIMED: list[str] = []  # the paths the direct lane's hook took


def _watched(app):
    """``app`` with its direct lane's claims recorded in CLAIMED."""
    hook = app.direct

    def claim(method, path, length):
        handler = hook(method, path, length)
        if handler is not None:
            CLAIMED.append(path)
        return handler

    app.direct = claim
    return app


@pytest.fixture(scope="module")
def three(standin):
    """(direct lane, ASGI hot routes, FastAPI routes) clients."""
    with LiveGateway(_watched(create_app(_settings(standin)))) as direct_url, \
            LiveGateway(asgi_only(create_app(_settings(standin)))) as asgi_url, \
            LiveGateway(framework_only(create_app(_settings(standin)))) as framework_url:
        with httpx.Client(base_url=direct_url, timeout=10) as direct, httpx.Client(base_url=asgi_url, timeout=10) as asgi, \
                httpx.Client(base_url=framework_url, timeout=10) as framework:
            yield direct, asgi, framework


@pytest.fixture(scope="module")
def guarded(standin):
    """(direct lane, ASGI hot routes) clients of gateways with API keys and a rate limit."""
    settings = {"api_keys": "k-good", "rate_limit": "5/h"}
    with LiveGateway(create_app(_settings(standin, **settings))) as direct_url, \
            LiveGateway(asgi_only(create_app(_settings(standin, **settings)))) as asgi_url:
        with httpx.Client(base_url=direct_url, timeout=10) as direct, httpx.Client(base_url=asgi_url, timeout=10) as asgi:
            yield direct, asgi


def _comparable(response: httpx.Response):  # noqa: D103
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = response.content
    if isinstance(body, dict):
        body.pop("requestId", None)
        body.pop("latencyMs", None)
    headers = {k: response.headers.get(k) for k in (
        "content-type", "access-control-allow-origin", "access-control-expose-headers", "vary",
        "x-modelport-endpoint", "retry-after", "x-amzn-invoked-production-variant",
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
    ("repeated content type", "/predict/mnist-sklearn", {"content": json.dumps({"pixels": PIXELS}), "headers": [
        ("content-type", "application/json"), ("content-type", "text/plain")]}),
    ("percent-encoded name", "/predict/mnist%2Dsklearn", {"json": {"pixels": PIXELS}}),
    ("invoke target query", "/invoke/echo-ep?target=a.tar.gz", {"content": b"1", "headers": {"content-type": "text/csv"}}),
    ("invoke bad target", "/invoke/echo-ep?target=../x", {"content": b"1", "headers": {"content-type": "text/csv"}}),
    ("foreign origin", "/predict/mnist-sklearn", {"json": {"pixels": PIXELS}, "headers": {"origin": "http://evil.test"}}),
]


@pytest.mark.parametrize(("name", "path", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_hot_path_answers_like_the_framework_routes_on_both_lanes(three, name, path, kwargs):
    direct, asgi, framework = three
    given = kwargs.pop("headers", {})
    headers = [("origin", "http://page.test"), *(given.items() if isinstance(given, dict) else given)]
    if isinstance(given, dict) and "origin" in given:
        headers = list(given.items())
    CLAIMED.clear()
    answers = [client.post(path, headers=headers, **kwargs) for client in (direct, asgi, framework)]
    assert _comparable(answers[0]) == _comparable(answers[1]) == _comparable(answers[2])
    assert all(answer.headers["x-request-id"] for answer in answers)
    # the direct lane took every hot-route request but the ones it leaves to ASGI (a body over the limit)
    expected = [] if name in ("nested path", "predict too large") else [path.split("?")[0].replace("%2D", "-")]
    assert CLAIMED == expected


def test_keys_and_the_rate_limit_hold_on_the_direct_lane_as_on_asgi(guarded):
    direct, asgi = guarded
    for client in (direct, asgi):
        missing = client.post("/predict/mnist-sklearn", json={"pixels": PIXELS})
        wrong = client.post("/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": "k-bad"})
        assert (missing.status_code, wrong.status_code) == (401, 403)
        statuses = [client.post("/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": "k-good"}).status_code
                    for _ in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    throttled = [c.post("/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": "k-good"}) for c in guarded]
    assert _comparable(throttled[0]) == _comparable(throttled[1]) and throttled[0].headers["retry-after"]


def test_a_caller_request_id_is_kept_on_the_direct_lane(three):
    direct, _, _ = three
    answer = direct.post("/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-request-id": "trace-1"})
    assert answer.headers["x-request-id"] == "trace-1"
    assert direct.post("/predict/nope", json={}, headers={"x-request-id": "trace-2"}).json()["requestId"] == "trace-2"


def test_predict_answer_carries_model_endpoint_and_timings(three):
    hot, _, _ = three
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
    assert hot_target(path) == expected


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
