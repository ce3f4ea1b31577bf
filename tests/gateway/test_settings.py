"""Gateway configuration: routes from the environment, rate-limit syntax, token buckets."""

from __future__ import annotations

import pytest

from modelport.gateway.ratelimit import TokenBuckets, retry_after_header
from modelport.gateway.model_table import build_model_table, parse_routes
from modelport.gateway.settings import GatewaySettings, RateLimit, parse_rate_limit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("MODELPORT_ROUTES", "MNIST_SKLEARN_ENDPOINT", "MNIST_PYTORCH_ENDPOINT", "SENTIMENT_ENDPOINT",
                 "MODELPORT_RATE_LIMIT", "MODELPORT_MODE", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_seed_variables_make_the_bundled_routes(monkeypatch):
    monkeypatch.setenv("MNIST_SKLEARN_ENDPOINT", "mnist-sklearn-ep")
    monkeypatch.setenv("SENTIMENT_ENDPOINT", "sentiment-ep")
    table = build_model_table(GatewaySettings())
    assert table.errors == []
    sk, pt, se = table.get("mnist-sklearn"), table.get("mnist-pytorch"), table.get("sentiment")
    assert (sk.endpoint, sk.kind, sk.labels) == ("mnist-sklearn-ep", "image-classifier", tuple("0123456789"))
    assert pt.endpoint is None and not pt.configured and pt.env_var == "MNIST_PYTORCH_ENDPOINT"
    assert (se.kind, se.labels) == ("text-classifier", ("negative", "neutral", "positive"))


def test_modelport_routes_pairs_override_and_add(monkeypatch):
    monkeypatch.setenv("MNIST_SKLEARN_ENDPOINT", "old")
    monkeypatch.setenv("MODELPORT_ROUTES", " mnist-sklearn = new-ep , iris=iris-ep ")
    table = build_model_table(GatewaySettings())
    assert table.get("mnist-sklearn").endpoint == "new-ep"
    assert table.get("iris").endpoint == "iris-ep" and table.get("iris").kind == "custom" and table.get("iris").labels == ()


def test_modelport_routes_json_forms():
    routes = parse_routes('{"a": "ep-a", "digits": {"endpoint": "ep-d", "kind": "image-classifier"}, "chat": {"endpoint": "llm"}}')
    by_name = {r.name: r for r in routes}
    assert by_name["a"].endpoint == "ep-a" and by_name["digits"].labels == tuple("0123456789")
    assert by_name["chat"].kind == "chat"
    listed = parse_routes('[{"name": "tone", "endpoint": "tone-ep", "kind": "text-classifier", "labels": ["sad", "glad"]}]')
    assert listed[0].labels == ("sad", "glad") and listed[0].kind == "text-classifier"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": 5}', "must map to an endpoint name"),
        ("a", "is not `name=endpoint`"),
        ("a=bad_endpoint!", "not a valid SageMaker endpoint name"),
        ('{"a": {"endpoint": "x", "kind": "robot"}}', "accepted kinds"),
        ('[{"endpoint": "x"}]', "needs a \"name\""),
    ],
)
def test_bad_routes_say_what_is_accepted(value, says):
    with pytest.raises(ValueError) as info:
        parse_routes(value)
    assert says in str(info.value)


def test_a_bad_routes_value_is_a_table_error_not_an_exception(monkeypatch):
    monkeypatch.setenv("MODELPORT_ROUTES", "broken")
    monkeypatch.setenv("MNIST_PYTORCH_ENDPOINT", "no spaces allowed")
    table = build_model_table(GatewaySettings())
    assert len(table.errors) == 2 and any("MNIST_PYTORCH_ENDPOINT" in e for e in table.errors)
    assert set(table.routes) == {"mnist-sklearn", "mnist-pytorch", "sentiment"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None), ("off", None), ("5/s", RateLimit(5.0, 5)), ("300/min", RateLimit(5.0, 300)),
        ("300/min:50", RateLimit(5.0, 50)), ("3600/h:2", RateLimit(1.0, 2)), ("0.5/s", RateLimit(0.5, 1)),
    ],
)
def test_rate_limit_syntax(value, expected):
    assert parse_rate_limit(value) == expected


@pytest.mark.parametrize("value", ["lots", "5", "5/fortnight", "0/s", "5/s:0"])
def test_rate_limit_errors_name_the_variable(value):
    with pytest.raises(ValueError) as info:
        parse_rate_limit(value)
    assert "MODELPORT_RATE_LIMIT" in str(info.value)


def test_token_bucket_refills_at_the_rate():
    now = [100.0]
    buckets = TokenBuckets(RateLimit(rate=2.0, burst=2), clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # empty: next token in 1/rate s
    assert buckets.take("b") == 0.0  # clients are independent
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert retry_after_header(0.01) == "1" and retry_after_header(2.2) == "3"


def test_defaults_and_modes(monkeypatch):
    settings = GatewaySettings()
    assert settings.backend_timeout == 25.0 and settings.max_body_bytes == 6 * 1024 * 1024
    assert settings.allowed_origins == "*" and settings.run_mode == "local"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "modelport-gateway")
    assert GatewaySettings().run_mode == "aws"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert GatewaySettings().region == "ap-south-1"
