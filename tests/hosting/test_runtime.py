"""The Runtime API through boto3's real ``sagemaker-runtime`` client: forwarding, headers, routing by
weight, variant and load, SageMaker-shaped errors, and response streaming."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers.hosting import clients, deploy, instances
from tests.helpers.waiting import eventually


@pytest.fixture(scope="module", autouse=True)
def endpoint_rt(sm, archive):
    """Endpoint ``rt`` on the module's hosting: variant A (weight 1, two instances) and B (weight 3, one)."""
    deploy(sm, "rt", str(archive), variants=[
        {"name": "A", "weight": 1.0, "count": 2, "env": {"TAG": "a"}},
        {"name": "B", "weight": 3.0, "count": 1, "env": {"TAG": "b"}},
    ])


def invoke(rt, payload: dict, **kwargs) -> tuple[dict, dict]:
    response = rt.invoke_endpoint(EndpointName="rt", Body=json.dumps(payload).encode(),
                                  ContentType="application/json", **kwargs)
    return json.loads(response["Body"].read()), response


def test_invoke_forwards_body_headers_and_names_the_variant(rt):
    body, response = invoke(rt, {"x": 21}, Accept="application/json", CustomAttributes="trace=abc",
                            TargetVariant="B", InferenceId="req-1")
    assert body["y"] == 42.0
    assert body["tag"] == "b"
    assert body["attrs"] == "trace=abc"  # X-Amzn-SageMaker-Custom-Attributes reached the model
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "B"


def test_target_variant_pins_the_variant(rt):
    for _ in range(10):
        body, response = invoke(rt, {"x": 1}, TargetVariant="A")
        assert (body["tag"], response["InvokedProductionVariant"]) == ("a", "A")


def test_traffic_follows_variant_weights(rt):
    calls = 2000
    counts = Counter(invoke(rt, {"x": 1})[1]["InvokedProductionVariant"] for _ in range(calls))
    assert set(counts) == {"A", "B"}
    assert abs(counts["B"] / calls - 0.75) <= 0.05  # weights 1 : 3
    assert abs(counts["A"] / calls - 0.25) <= 0.05


def test_requests_spread_over_instances_by_outstanding_requests(hosting, rt):
    server = hosting
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda _: invoke(rt, {"x": 1, "sleep": 0.3}, TargetVariant="A")[0], range(4)))
    pids = {b["pid"] for b in bodies}
    assert len(pids) == 2  # both instances of A were busy at once
    listed = instances(server.url, "rt")
    assert len(listed) == 3 and all(i["ready"] and i["outstanding"] == 0 for i in listed)


def test_model_errors_carry_the_original_status_and_message(rt):
    with pytest.raises(rt.exceptions.ModelError) as excinfo:
        invoke(rt, {"x": 7, "fail": True})
    response = excinfo.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 400
    assert "bad x: 7" in response["OriginalMessage"]
    assert response["Error"]["Message"].startswith("Received client error (400) from primary with message")
    assert "/aws/sagemaker/Endpoints/rt" in response["LogStreamArn"]
    with pytest.raises(rt.exceptions.ModelError) as excinfo:
        rt.invoke_endpoint(EndpointName="rt", Body=b"a,b", ContentType="text/csv")
    assert excinfo.value.response["OriginalStatusCode"] == 415


def test_validation_errors(rt):
    with pytest.raises(rt.exceptions.ValidationError) as excinfo:
        rt.invoke_endpoint(EndpointName="missing", Body=b"{}", ContentType="application/json")
    assert excinfo.value.response["Error"]["Message"] == "Endpoint missing of account 123456789012 not found."
    with pytest.raises(rt.exceptions.ValidationError) as excinfo:
        invoke(rt, {"x": 1}, TargetVariant="C")
    assert "Variant C not found" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(rt.exceptions.ValidationError) as excinfo:
        rt.invoke_endpoint(EndpointName="rt", Body=b"0" * (6 * 1024 * 1024 + 1), ContentType="application/json")
    assert "6 MB" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(rt.exceptions.ValidationError) as excinfo:
        invoke(rt, {"x": 1}, TargetModel="other.tar.gz")
    assert "not a multi-model endpoint" in excinfo.value.response["Error"]["Message"]
    # the connection stays usable after a refused body
    assert invoke(rt, {"x": 2})[0]["y"] == 4.0


def test_model_not_ready_while_creating(hosting, sm, archive):
    server = hosting
    _, rt = clients(server.url)
    deploy(sm, "slowstart", str(archive), wait=False)
    with pytest.raises(rt.exceptions.ModelNotReadyException) as excinfo:
        rt.invoke_endpoint(EndpointName="slowstart", Body=b"{}", ContentType="application/json")
    assert "Creating" in excinfo.value.response["Error"]["Message"]
    sm.delete_endpoint(EndpointName="slowstart")


def test_response_stream_is_an_event_stream_of_payload_parts(rt):
    response = rt.invoke_endpoint_with_response_stream(
        EndpointName="rt", Body=json.dumps({"stream": 5}).encode(), ContentType="application/json",
        Accept="text/plain", TargetVariant="A")
    assert response["InvokedProductionVariant"] == "A"
    parts = [event["PayloadPart"]["Bytes"] for event in response["Body"]]
    assert b"".join(parts) == b"".join(b"part-%d;" % i for i in range(5))
    assert len(parts) >= 1
    # a model error before the stream starts is a ModelError, as for InvokeEndpoint
    with pytest.raises(rt.exceptions.ModelError) as excinfo:
        rt.invoke_endpoint_with_response_stream(EndpointName="rt", Body=b'{"fail": true}',
                                                ContentType="application/json")
    assert excinfo.value.response["OriginalStatusCode"] == 400
    # and a non-streaming answer arrives as one part
    response = rt.invoke_endpoint_with_response_stream(EndpointName="rt", Body=b'{"x": 5}', ContentType="application/json")
    whole = b"".join(e["PayloadPart"]["Bytes"] for e in response["Body"])
    assert json.loads(whole)["y"] == 10.0
    assert response["ContentType"] == "application/json"


def test_a_client_that_leaves_a_stream_frees_its_instance(hosting):
    import socket
    import time

    server = hosting
    host, port = server.url[7:].split(":")
    body = json.dumps({"stream": 3, "sleep": 0.3}).encode()
    for _ in range(3):  # ask, then hang up before the answer
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST /endpoints/rt/invocations-response-stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Authorization: Bearer %s\r\n" % server.token.encode() +
                         b"Content-Type: application/json\r\nX-Amzn-SageMaker-Target-Variant: B\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    eventually(lambda: not any(i["outstanding"] for i in instances(server.url, "rt")), 10,
               message=lambda: str(instances(server.url, "rt")))
