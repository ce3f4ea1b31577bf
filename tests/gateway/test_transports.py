"""The Runtime API transports (``gateway/transports/``) are interchangeable: for the same case they give the
same answer, the same payload parts of a response stream and the same error (status, code, message, retry
advice, details). boto3 and pooled HTTP are checked side by side against the SageMaker-Runtime stand-in on
127.0.0.1; pooled HTTP and in-process (``modelport up``: hosting's handler called on its own loop) side by
side against real hosting. Then streaming chat through each against real hosting serving a small chat
archive, and which transport ``MODELPORT_RUNTIME_CLIENT`` (``auto`` by default) picks."""

from __future__ import annotations

import asyncio
import functools
import json

import httpx
import pytest

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.errors import ApiError
from modelport.gateway.settings import GatewaySettings
from modelport.hosting.eventstream import encode_message, internal_stream_failure, model_stream_error, payload_part
from modelport.stack.services import in_process_transport
from tests.helpers.gateway_stack import hosted_toy_server, toy_gateway
from tests.helpers.hosting import clients, deploy, instances, make_archive
from tests.helpers.live_gateway import LiveGateway
from tests.helpers.processes import free_port
from tests.helpers.standin_runtime import answer_json, echo, event_stream, model_error, not_ready, service_error, slow
from tests.helpers.waiting import eventually

TRANSPORTS = ("boto3", "http")
JSON_LINES = "application/jsonlines"
# an event of a type the client does not model: botocore skips it, and so must the HTTP transport
UNKNOWN_EVENT = encode_message({":event-type": "Heartbeat", ":message-type": "event"}, b"")


@pytest.fixture(scope="module")
def standin_behaviours():
    """The stand-in's endpoints (tests/gateway/conftest.py's ``standin`` serves them)."""
    return {
        "echo-ep": echo(),
        "refuses": model_error(400, "bad pixels"),
        "crashes": model_error(500, "out of memory"),
        "warming": not_ready(),
        "throttled": service_error(400, "ThrottlingException", "Rate exceeded"),
        "overloaded": service_error(503, "ServiceUnavailable", "Service unavailable, try later"),
        "denied": service_error(403, "AccessDeniedException", "not authorized to perform sagemaker:InvokeEndpoint"),
        "failing": service_error(500, "InternalFailure", "An internal failure occurred"),
        "rejects": service_error(400, "ValidationError", "Input payload must contain a Body."),
        "slow-ep": slow(3.0, answer_json({})),
        "streams": event_stream(payload_part(b'{"delta": "a"}\n{"del'), UNKNOWN_EVENT, payload_part(b'ta": "b"}\n'),
                                payload_part(b"")),
        "breaks": event_stream(payload_part(b"first"), model_stream_error("The model stream ended early", "StreamBroken"),
                               payload_part(b"never")),
        "stream-fails": event_stream(payload_part(b"x"), internal_stream_failure("stream processing failed")),
        "stalls": event_stream(payload_part(b"first"), payload_part(b"late"), pause=3.0),
    }


@functools.cache
def transport_for(url: str, client: str, timeout: float = 1.0):
    """The transport a gateway with these settings holds (asserting it is the one asked for); one per
    setting for the whole module, as a gateway keeps its transport (boto3 clients are slow to build)."""
    settings = GatewaySettings(runtime_endpoint_url=url, runtime_client=client, mode="local", region="us-east-1",
                               backend_timeout=timeout, hosting_token="standin-token")
    backend = SageMakerBackend(settings)
    assert backend.transport.name == client and backend.config_error is None
    if client == "boto3":
        backend.transport.client()  # built now, so that building it is no part of a timed call
    return backend.transport


def as_tuple(error: ApiError) -> tuple:
    return error.status, error.code, error.message, error.retryable, error.details, error.headers


def invoke(transport, endpoint: str, body: bytes = b'{"x": 1}', **extra):
    """("ok", Invocation) or ("error", its fields) of one InvokeEndpoint."""
    async def run():
        try:
            return "ok", await transport.invoke(endpoint, body, "application/json", "application/json", **extra)
        except ApiError as exc:
            return "error", as_tuple(exc)
    return asyncio.run(run())


def stream(transport, endpoint: str, idle_timeout: float = 10.0) -> tuple[list[bytes], tuple | None]:
    """(payload parts received, the error's fields or None) of one InvokeEndpointWithResponseStream."""
    async def run():
        parts: list[bytes] = []
        try:
            async for part in transport.invoke_stream(endpoint, b'{"messages": []}', "application/json", JSON_LINES,
                                                      idle_timeout=idle_timeout):
                parts.append(part)
        except ApiError as exc:
            return parts, as_tuple(exc)
        return parts, None
    return asyncio.run(run())


def test_the_same_answer_and_the_same_request_on_the_wire(standin):
    payload = bytes(range(256))
    answers, wire = {}, {}
    for client in TRANSPORTS:
        async def run():
            return await transport_for(standin.url, client).invoke(
                "echo-ep", payload, "application/x-npy", "application/x-npy",
                custom_attributes="trace=7", target_variant="AllTraffic")
        result = asyncio.run(run())
        answers[client] = (result.body, result.content_type, result.variant)
        call = standin.calls[-1]
        wire[client] = (call.endpoint, call.body, call.stream, {name: call.headers.get(name) for name in (
            "content-type", "accept", "x-amzn-sagemaker-custom-attributes", "x-amzn-sagemaker-target-variant")})
        assert result.latency_ms > 0
    assert answers["boto3"] == answers["http"] == (payload, "application/x-npy", "AllTraffic")
    assert wire["boto3"] == wire["http"]
    assert wire["http"][3]["x-amzn-sagemaker-custom-attributes"] == "trace=7"


EXPECTED_ERRORS = {  # endpoint → (status, code, retryable, Retry-After)
    "refuses": (502, "model_error", False, None),
    "crashes": (502, "model_error", True, None),
    "warming": (503, "model_not_ready", True, "5"),
    "throttled": (429, "backend_throttled", True, "1"),
    "overloaded": (503, "backend_unavailable", True, "2"),
    "denied": (502, "backend_misconfigured", False, None),
    "failing": (502, "backend_error", True, None),
    "rejects": (400, "backend_rejected", False, None),
    "not-deployed": (503, "endpoint_not_found", False, None),
    "slow-ep": (504, "backend_timeout", True, None),
}


@pytest.mark.parametrize("endpoint", list(EXPECTED_ERRORS))
def test_the_same_error_from_both_transports(standin, endpoint):
    outcomes = {client: invoke(transport_for(standin.url, client), endpoint) for client in TRANSPORTS}
    assert outcomes["boto3"] == outcomes["http"]
    kind, (status, code, message, retryable, details, headers) = outcomes["http"]
    assert kind == "error" and endpoint in message
    assert (status, code, retryable, headers.get("Retry-After")) == EXPECTED_ERRORS[endpoint]
    if endpoint == "refuses":
        assert details == {"modelStatus": 400, "modelMessage": "bad pixels"}


@pytest.mark.parametrize("client", TRANSPORTS)
def test_an_unreachable_runtime_is_503_from_both(client):
    kind, error = invoke(transport_for(f"http://127.0.0.1:{free_port()}", client), "any")
    assert kind == "error" and error[:2] == (503, "backend_unavailable") and error[5] == {"Retry-After": "2"}


def test_the_same_stream_from_both_transports(standin):
    received, wire = {}, {}
    for client in TRANSPORTS:
        received[client] = stream(transport_for(standin.url, client), "streams")
        call = standin.calls[-1]
        wire[client] = (call.stream, call.headers.get("content-type"), call.headers.get("x-amzn-sagemaker-accept"))
    assert received["boto3"] == received["http"]
    parts, error = received["http"]
    assert error is None and b"".join(parts) == b'{"delta": "a"}\n{"delta": "b"}\n'
    assert wire["boto3"] == wire["http"] == (True, "application/json", JSON_LINES)


STREAM_FAILURES = {  # endpoint → (parts before the failure, status, code)
    "breaks": ([b"first"], 502, "model_error"),
    "stream-fails": ([b"x"], 502, "backend_error"),
    "refuses": ([], 502, "model_error"),
    "not-deployed": ([], 503, "endpoint_not_found"),
}


@pytest.mark.parametrize("endpoint", list(STREAM_FAILURES))
def test_the_same_stream_failure_from_both_transports(standin, endpoint):
    outcomes = {client: stream(transport_for(standin.url, client), endpoint) for client in TRANSPORTS}
    assert outcomes["boto3"] == outcomes["http"]
    parts, error = outcomes["http"]
    expected_parts, status, code = STREAM_FAILURES[endpoint]
    assert parts == expected_parts and error[:2] == (status, code)
    if endpoint == "breaks":
        assert error[4] == {"modelStatus": None, "modelMessage": "The model stream ended early"}


def test_a_stream_that_stalls_is_504_from_both(standin):
    outcomes = {client: stream(transport_for(standin.url, client, timeout=5.0), "stalls", idle_timeout=1.0)
                for client in TRANSPORTS}
    assert outcomes["boto3"] == outcomes["http"]
    parts, error = outcomes["http"]
    assert parts == [b"first"] and error[:3] == (504, "backend_timeout", "endpoint stalls sent nothing for 1 s")


# ---- streaming chat through real hosting ---------------------------------------------------------
CHAT_TOY = """
    import json

    def model_fn(model_dir):
        return {}

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, model):
        words = data["messages"][-1]["content"].split()
        def events():
            for word in words:
                yield {"delta": word + " "}
            if words[0] == "break":
                raise RuntimeError("the generator broke")
            yield {"done": True, "stopReason": "end_turn", "model": "echo-toy",
                   "usage": {"inputTokens": len(words), "outputTokens": len(words)}}
        return events()

    def output_fn(prediction, accept):
        return prediction, "application/jsonlines"
"""


@pytest.fixture(scope="module")
def hosting(tmp_path_factory):
    """Hosting serving the chat toy as ``toy`` and the tiny model of tests/helpers/hosting.py as ``tiny``."""
    root = tmp_path_factory.mktemp("transports-hosting")
    with hosted_toy_server(root, CHAT_TOY) as server:
        sm, _ = clients(server.url)
        deploy(sm, "tiny", str(make_archive(root / "tiny")), env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
        yield server


@pytest.fixture(scope="module")
def hosting_url(hosting):
    return hosting.url


def hosting_transport(hosting, client: str, timeout: float = 5.0, token: str | None = None):
    """The pooled HTTP transport to ``hosting``, or the in-process one (used on hosting's loop), presenting
    ``token`` (default: hosting's own)."""
    token = hosting.token if token is None else token
    if client == "in-process":
        return in_process_transport(hosting, timeout, token)
    settings = GatewaySettings(runtime_endpoint_url=hosting.url, runtime_client="http", mode="local",
                               region="us-east-1", backend_timeout=timeout, hosting_token=token)
    return SageMakerBackend(settings).transport


def on_loop_of(hosting, client: str, make_coroutine):
    """Run the coroutine ``make_coroutine()`` builds: on hosting's loop for the in-process transport (where
    ``modelport up`` runs the gateway), else on a loop of this thread (as a separate gateway process would)."""
    if client == "in-process":
        return asyncio.run_coroutine_threadsafe(make_coroutine(), hosting.loop).result(timeout=30)
    return asyncio.run(make_coroutine())


def hosting_invoke(hosting, client: str, endpoint: str, body: bytes, timeout: float = 5.0, content_type="application/json",
                   **extra):
    """("ok", (body, content type, variant)) or ("error", its fields) of one InvokeEndpoint to ``hosting``."""
    transport = hosting_transport(hosting, client, timeout)

    async def run():
        try:
            result = await transport.invoke(endpoint, body, content_type, "application/json", **extra)
            return "ok", (result.body, result.content_type, result.variant)
        except ApiError as exc:
            return "error", as_tuple(exc)
    return on_loop_of(hosting, client, run)


HOSTING_TRANSPORTS = ("http", "in-process")
HOSTING_CASES = {  # name → (endpoint, body, extra arguments, expected status or 200)
    "answers": ("tiny", b'{"x": 2}', {"custom_attributes": "trace=7", "target_variant": "AllTraffic"}, 200),
    "model refuses": ("tiny", b'{"fail": true, "x": 3}', {}, 502),
    "wrong content type": ("tiny", b"x=1", {"content_type": "text/plain"}, 502),
    "not deployed": ("nowhere", b"{}", {}, 503),
    "unknown variant": ("tiny", b"{}", {"target_variant": "Canary"}, 400),
    "over 6 MB": ("tiny", b"0" * (6 * 1024 * 1024 + 1), {}, 400),
}


@pytest.mark.parametrize("case", list(HOSTING_CASES))
def test_in_process_and_http_give_the_same_outcome_from_hosting(hosting, case):
    endpoint, body, extra, expected = HOSTING_CASES[case]
    outcomes = {client: hosting_invoke(hosting, client, endpoint, body, **extra) for client in HOSTING_TRANSPORTS}
    assert outcomes["http"] == outcomes["in-process"]
    kind, fields = outcomes["in-process"]
    if expected == 200:
        answer, content_type, variant = fields
        assert kind == "ok" and (content_type, variant) == ("application/json", "AllTraffic")
        assert json.loads(answer)["y"] == 4.0 and json.loads(answer)["attrs"] == "trace=7"
    else:
        assert kind == "error" and fields[0] == expected, fields
    if case == "model refuses":
        assert fields[4]["modelStatus"] == 400 and "bad x: 3" in fields[4]["modelMessage"]


def test_an_in_process_call_with_a_wrong_token_is_refused_as_over_http(hosting):
    outcomes = {}
    for client in HOSTING_TRANSPORTS:
        transport = hosting_transport(hosting, client, token="not-hostings-token")

        async def run(transport=transport):
            try:
                await transport.invoke("tiny", b'{"x": 1}', "application/json", None)
            except ApiError as exc:
                return as_tuple(exc)
        outcomes[client] = on_loop_of(hosting, client, run)
    assert outcomes["http"] == outcomes["in-process"]
    assert outcomes["in-process"][:2] == (502, "backend_misconfigured")


def test_an_in_process_call_that_outlives_the_timeout_is_504_and_frees_the_instance(hosting):
    outcomes = {client: hosting_invoke(hosting, client, "tiny", b'{"sleep": 1.5}', timeout=0.5)
                for client in HOSTING_TRANSPORTS}
    assert outcomes["http"] == outcomes["in-process"]
    assert outcomes["in-process"][1][:2] == (504, "backend_timeout")
    eventually(lambda: [i["outstanding"] for i in instances(hosting.url, "tiny")] == [0], 10)
    assert hosting_invoke(hosting, "in-process", "tiny", b'{"x": 1}')[0] == "ok"


def test_in_process_streams_match_http_and_a_stream_left_early_frees_the_instance(hosting):
    def parts(client: str, stop_after: int | None = None):
        transport = hosting_transport(hosting, client)

        async def run():
            received = []
            stream = transport.invoke_stream("tiny", b'{"stream": 4}', "application/json", None, idle_timeout=5.0)
            async for part in stream:
                received.append(part)
                if stop_after is not None and len(received) == stop_after:
                    await stream.aclose()
                    break
            return received
        return on_loop_of(hosting, client, run)

    whole = {client: parts(client) for client in HOSTING_TRANSPORTS}
    assert whole["http"] == whole["in-process"]
    assert b"".join(whole["in-process"]) == b"part-0;part-1;part-2;part-3;"
    assert parts("in-process", stop_after=1) == whole["in-process"][:1]
    eventually(lambda: [i["outstanding"] for i in instances(hosting.url, "tiny")] == [0], 10)


def chat_events(url: str, text: str) -> list[tuple[str | None, dict]]:
    """(event name, data) of each SSE event of a streamed /chat."""
    events, name = [], None
    with httpx.stream("POST", f"{url}/chat", json={"messages": [{"role": "user", "content": text}], "stream": True},
                      timeout=60) as response:
        assert response.status_code == 200 and response.headers["x-modelport-streaming"] == "sse"
        for line in response.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
                name = None
    return events


def test_streaming_chat_through_hosting_is_the_same_on_every_transport(hosting):
    seen = {}
    for client in (*TRANSPORTS, "in-process"):
        if client == "in-process":  # as modelport up runs it: the gateway served on hosting's own loop
            app, loop = toy_gateway(hosting.url, transport=in_process_transport(hosting, 30.0)), hosting.loop
        else:
            app, loop = toy_gateway(hosting.url, runtime_client=client), None
        assert app.state.backend.transport.name == client
        with LiveGateway(app, loop=loop) as url:
            events = chat_events(url, "streams word by word")
            broken = chat_events(url, "break after three")
        final = events[-1][1]
        seen[client] = ([data for _, data in events[:-1]], final["reply"], final["usage"], final["model"],
                        broken[:-1], broken[-1][0], broken[-1][1]["error"]["code"])
    assert seen["boto3"] == seen["http"] == seen["in-process"]
    deltas, reply, usage, model, broken_first, broken_event, broken_code = seen["http"]
    assert deltas == [{"delta": "streams "}, {"delta": "word "}, {"delta": "by "}, {"delta": "word "}]
    assert reply == "streams word by word " and usage == {"inputTokens": 4, "outputTokens": 4} and model == "echo-toy"
    assert broken_first == [(None, {"delta": "break "}), (None, {"delta": "after "}), (None, {"delta": "three "})]
    assert broken_event == "error" and broken_code == "model_error"


def test_the_default_takes_the_http_transport_in_front_of_hosting(hosting_url, monkeypatch):
    monkeypatch.delenv("MODELPORT_RUNTIME_CLIENT", raising=False)
    app = toy_gateway(hosting_url, runtime_client=GatewaySettings().runtime_client)  # the default: auto
    assert app.state.backend.transport.name == "http" and app.state.settings.runtime_client == "auto"
    with LiveGateway(app) as url:
        assert chat_events(url, "hello there")[-1][1]["reply"] == "hello there "


# ---- which transport MODELPORT_RUNTIME_CLIENT picks ----------------------------------------------
HOSTING = "http://127.0.0.1:8001"
AWS = "https://runtime.sagemaker.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("choice", "url", "mode", "expected", "error"),
    [
        ("auto", HOSTING, "local", "http", None),  # local hosting
        ("", HOSTING, "local", "http", None),
        ("auto", AWS, "local", "boto3", None),  # real SageMaker from a laptop
        ("auto", "", "local", "boto3", None),  # AWS's default URL
        ("auto", "", "aws", "boto3", None),  # Lambda
        ("auto", HOSTING, "aws", "boto3", None),  # not a local gateway: sign requests
        ("boto3", HOSTING, "local", "boto3", None),
        ("HTTP", HOSTING, "aws", "http", None),
        ("http", AWS, "local", "boto3", "MODELPORT_RUNTIME_CLIENT=http needs"),
        ("carrier-pigeon", HOSTING, "local", "http", "accepted: auto, boto3, http, in-process (using http, as auto would)"),
        ("in-process", HOSTING, "local", "http", "works only under `modelport up`"),  # a gateway of its own
    ],
)
def test_which_transport_the_setting_picks(choice, url, mode, expected, error):
    backend = SageMakerBackend(GatewaySettings(runtime_endpoint_url=url, runtime_client=choice, mode=mode,
                                               region="us-east-1", hosting_token="t"))
    assert backend.transport.name == expected
    assert backend.config_error is None if error is None else error in backend.config_error
