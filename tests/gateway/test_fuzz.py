"""Fuzzing the gateway: never a 5xx, never a traceback or a file path of the host in an answer.

A real stack: a live gateway on 127.0.0.1 → hosting → a runtime serving a tiny model that accepts
anything (so every 5xx would be the gateway's own). Two fuzzers, each bounded in examples and time:

- Hypothesis: every route (and unknown ones), JSON bodies of random shapes and of the shapes the
  routes expect, raw bytes, random methods, headers and content types.
- Schemathesis: cases generated from the gateway's own OpenAPI document (``/openapi.json``),
  positive and negative, sent over HTTP.
"""

from __future__ import annotations

import json
import string
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.helpers.gateway_stack import ENDPOINT

ACCEPTS_ANYTHING = """
    import json

    def model_fn(model_dir):
        return {}

    def input_fn(body, content_type):
        return body, content_type

    def predict_fn(data, model):
        body, content_type = data
        if content_type == "application/json":
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
                return chat_events()
        return {"predictions": [{"label": "positive", "probabilities": {"negative": 0.0, "neutral": 0.0, "positive": 1.0}}],
                "received": len(body)}

    def chat_events():
        yield {"delta": "ok"}
        yield {"done": True, "stopReason": "end_turn", "model": "toy", "usage": {"inputTokens": 1, "outputTokens": 1}}

    def output_fn(prediction, accept):
        if isinstance(prediction, dict):
            return json.dumps(prediction), "application/json"
        return prediction, "application/jsonlines"
"""

FUZZ_SETTINGS = settings(
    deadline=None,  # real HTTP round trips; the whole run is bounded by max_examples
    database=None,  # no .hypothesis folder in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def toy_inference():
    return ACCEPTS_ANYTHING


@pytest.fixture(scope="module")
def stack_gateway_options():
    return {"access_log": False}


@pytest.fixture(scope="module", autouse=True)
def the_stack_works(stack):
    assert stack.client.post("/predict/sentiment", json={"text": "ok"}).status_code == 200


def assert_safe_answer(status: int, body: bytes, root: str, what: object) -> None:
    """No 5xx; nothing in the body that belongs to the host (its folders, tracebacks)."""
    assert status < 500, f"{status} for {what}: {body[:500]!r}"
    text = body.decode("utf-8", "replace")
    for secret in (root, sys.prefix, "site-packages", "Traceback (most recent call last)", 'File "/'):
        assert secret not in text, f"{secret!r} in the answer to {what}: {text[:500]}"


# ---- Hypothesis: the routes, hand-described --------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
numbers = st.floats(allow_nan=False, allow_infinity=False, min_value=-2, max_value=2) | st.integers(-3, 3)
pixels = st.one_of(st.lists(numbers, min_size=784, max_size=784), st.lists(numbers, max_size=5), st.lists(any_json, max_size=3))
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool", ""]) | st.text(max_size=5),
                           "content": st.text(max_size=30) | any_json}),
    max_size=4,
)
expected_shapes = st.one_of(
    st.fixed_dictionaries({"pixels": pixels}),
    st.fixed_dictionaries({"instances": st.lists(pixels, max_size=2)}),
    st.fixed_dictionaries({"image": st.text(max_size=40) | any_json}),
    st.fixed_dictionaries({"text": st.text(max_size=40) | any_json}),
    st.fixed_dictionaries({"texts": st.lists(st.text(max_size=10) | any_json, max_size=3)}),
    st.fixed_dictionaries({"messages": messages}, optional={
        "stream": st.booleans() | any_json, "maxTokens": numbers | any_json, "max_tokens": numbers | any_json,
        "temperature": numbers | any_json, "topP": numbers | any_json, "model": st.text(max_size=10),
        "stream_options": any_json, "n": st.integers(-1, 3),
    }),
)
bodies = st.one_of(
    any_json.map(lambda value: json.dumps(value).encode()),  # json, not orjson: integers of any size
    expected_shapes.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
    st.just(b""),
)
content_types = st.sampled_from([
    "application/json", "application/json; charset=utf-8", "application/json; charset=bogus", "text/csv",
    "application/x-npy", "application/x-npz", "text/plain", "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded", "image/png", "*/*", "", "application/vnd.api+json",
]) | st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=30).map(str.strip)
header_values = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=40).map(str.strip)  # as HTTP allows
headers = st.dictionaries(
    st.sampled_from(["accept", "origin", "x-request-id", "authorization", "x-api-key", "access-control-request-method",
                     "x-amzn-sagemaker-custom-attributes", "x-amzn-sagemaker-target-variant", "x-forwarded-for"])
    | st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12).map(lambda n: "x-" + n),
    header_values,
    max_size=4,
)
names = st.text(alphabet=string.ascii_letters + string.digits + "-_.%~", min_size=1, max_size=20)
paths = st.one_of(
    st.sampled_from(["/health", "/models", "/predict/mnist-sklearn", "/predict/sentiment", "/predict/mnist-pytorch",
                     f"/invoke/{ENDPOINT}", "/chat", "/v1/chat/completions", "/v1/models", "/docs", "/openapi.json"]),
    names.map(lambda n: f"/predict/{n}"),
    names.map(lambda n: f"/invoke/{n}"),
    names.map(lambda n: f"/{n}"),
)
methods = st.sampled_from(["POST"] * 6 + ["GET", "PUT", "DELETE", "OPTIONS", "PATCH", "HEAD"])
words = st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=30).filter(str.strip)
to_json = lambda value: json.dumps(value).encode()  # noqa: E731 - json, not orjson: integers of any size
# Requests a client of the routes would send, with random extra headers ...
valid_requests = st.one_of(
    st.tuples(st.just("POST"), st.sampled_from(["/predict/mnist-sklearn", "/predict/mnist-pytorch"]),
              st.builds(lambda ink: to_json({"pixels": [ink] * 784}), st.floats(0, 1)), st.just("application/json"), headers),
    st.tuples(st.just("POST"), st.just("/predict/sentiment"), st.builds(lambda text: to_json({"text": text}), words),
              st.just("application/json"), headers),
    st.tuples(st.just("POST"), st.sampled_from(["/chat", "/v1/chat/completions"]),
              st.builds(lambda text, stream: to_json({"messages": [{"role": "user", "content": text}], "stream": stream}), words, st.booleans()),
              st.just("application/json"), headers),
    st.tuples(st.just("POST"), st.just(f"/invoke/{ENDPOINT}"), bodies, content_types | st.none(), headers),
)
# ... nearly valid ones (the right route, a body of some route's shape) ...
plausible_requests = st.tuples(
    st.just("POST"),
    st.sampled_from(["/predict/mnist-sklearn", "/predict/mnist-pytorch", "/predict/sentiment", f"/invoke/{ENDPOINT}", "/chat", "/v1/chat/completions"]),
    expected_shapes.map(to_json),
    st.sampled_from(["application/json", "application/json; charset=utf-8", None]),
    headers,
)
# ... and anything at all.
wild_requests = st.tuples(methods, paths, bodies, content_types | st.none(), headers)


def test_hypothesis_fuzz_every_route(stack):
    client, root = stack.client, str(stack.root)
    answered: set[tuple[str, int]] = set()

    @settings(FUZZ_SETTINGS, max_examples=800)
    @given(request=st.one_of(valid_requests, plausible_requests, wild_requests))
    def run(request):
        method, path, body, content_type, extra = request
        sent = dict(extra)
        if content_type is not None:
            sent["content-type"] = content_type
        response = client.request(method, path, content=body if method not in ("GET", "HEAD", "OPTIONS") else None, headers=sent)
        assert_safe_answer(response.status_code, response.content, root, (method, path, sent, body[:200]))
        answered.add(("/".join(path.split("/")[:2]), response.status_code))
        if method != "HEAD" and response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
            answer = response.json()
            assert set(answer) == {"error", "requestId"} and answer["error"]["message"], answer  # the one error shape

    run()
    # the fuzz reached the model through every kind of route, and was refused too
    assert {("/predict", 200), ("/invoke", 200), ("/chat", 200), ("/predict", 400)} <= answered, sorted(answered)


# ---- Schemathesis: cases from the gateway's OpenAPI document ----------------------------------


@pytest.fixture(scope="module")
def openapi_cases(stack):
    url = stack.url
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    return st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))


def test_schemathesis_fuzz_the_openapi_document(stack, openapi_cases):
    url, root = stack.url, str(stack.root)
    seen: set[tuple[str, int]] = set()

    @settings(FUZZ_SETTINGS, max_examples=400)
    @given(case=openapi_cases)
    def run(case):
        response = case.call(base_url=url, timeout=30)
        seen.add((f"{case.method} {case.path}", response.status_code))
        assert_safe_answer(response.status_code, response.content, root, (case.method, case.formatted_path, case.body))

    run()
    operations = {operation for operation, _ in seen}
    assert {"POST /predict/{model}", "POST /invoke/{endpoint}", "POST /chat", "POST /v1/chat/completions"} <= operations, seen
