"""JSON fuzz of every field of every control-API operation against a real hosting server: whatever the
body, the answer is a JSON document with a status below 500 and never a traceback. The requests are
drawn from SageMaker's own input shapes (botocore's model, read here independently of hosting): each
member gets either a value of its declared type (in and just outside its bounds) or any JSON value,
plus unknown members, NaN, Infinity and huge integers. Bounded: a fixed number of examples per operation."""

from __future__ import annotations

import json
import math
import re

import botocore.session
import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.helpers.hosting import auth_headers
from modelport.hosting.control_api import ControlApi

OPERATIONS = ControlApi.operations()
MODEL = botocore.session.get_session().get_service_model("sagemaker")
EXAMPLES_PER_OPERATION = 40
ERROR_TYPES = {"ValidationException", "SerializationException", "ResourceLimitExceeded"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
any_json = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10)


@pytest.fixture(scope="module")
def hosting_options():
    return {"model_roots": ""}  # only MODELPORT_HOME


@pytest.fixture(scope="module")
def fuzz_target(hosting, sm, archive):
    """(an authorized HTTP client for the module's hosting, a copy of ``archive`` under its home registered as model fz-model)."""
    inside = hosting.home / "artifacts" / "model.tar.gz"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(archive.read_bytes())
    sm.create_model(ModelName="fz-model", PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(inside)})
    with httpx.Client(base_url=hosting.url, headers=auth_headers(hosting.url), timeout=30) as client:
        yield client, str(inside)


def typed(shape, seeds: dict[str, list], wild: bool, depth: int = 0) -> st.SearchStrategy:
    """Values of ``shape``'s declared type, in and just outside its bounds (``wild``: members may be any JSON)."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if depth > 5:
            return st.just({})
        values = {name: member_value(name, member, seeds, wild, depth + 1) for name, member in shape.members.items()}
        required = set(shape.required_members)
        return st.fixed_dictionaries({k: v for k, v in values.items() if k in required},
                                     optional={k: v for k, v in values.items() if k not in required})
    if kind == "list":
        return st.lists(member_value("member", shape.member, seeds, wild, depth + 1), max_size=min(meta.get("max", 3), 3) + 1)
    if kind == "map":
        return st.dictionaries(typed(shape.key, seeds, wild, depth + 1), member_value("value", shape.value, seeds, wild, depth + 1),
                               max_size=3)
    if kind == "string":
        if shape.enum:
            return st.sampled_from([*shape.enum, "NotAnEnumValue", ""])
        texts = st.text(max_size=min(meta.get("max", 64), 64) + 2) | st.text(min_size=1024, max_size=1100)
        return matching(meta.get("pattern"), meta.get("max", 64)) | texts
    if kind in ("integer", "long"):
        return st.integers(min_value=meta.get("min", -5) - 2, max_value=meta.get("max", 200) + 2)
    if kind in ("float", "double"):
        return st.floats(min_value=-10, max_value=1e6, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.floats(min_value=0, max_value=4e9) | st.text(max_size=25)
    return any_json


def matching(pattern: str | None, longest: int) -> st.SearchStrategy:
    """Strings that satisfy an AWS pattern (where Python can read it), so requests get past the first check."""
    try:
        re.compile(pattern or "")
    except re.error:
        return st.nothing()
    return st.from_regex(pattern or ".*", fullmatch=True).map(lambda text: text[:longest])


def member_value(name: str, shape, seeds: dict[str, list], wild: bool, depth: int) -> st.SearchStrategy:
    """A member's value: a known-good seed, a typed value, or (``wild``) any JSON at all."""
    options = [typed(shape, seeds, wild, depth), *([any_json] if wild else [])]
    if seeds.get(name):
        options.insert(0, st.sampled_from(seeds[name]))
    return st.one_of(options)


def request_body(operation: str, seeds: dict[str, list]) -> st.SearchStrategy:
    """A whole request: typed members, sometimes an unknown one, sometimes not an object at all."""
    shape = MODEL.operation_model(operation).input_shape
    members = typed(shape, seeds, wild=False) | typed(shape, seeds, wild=True) if shape is not None else st.just({})
    with_unknown = st.tuples(members, st.dictionaries(st.text(min_size=1, max_size=8), any_json, max_size=1)).map(
        lambda pair: {**pair[0], **pair[1]})
    return st.one_of(members, members, with_unknown, any_json)


def check_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text and 'File "/' not in response.text
    document = response.json()
    assert isinstance(document, dict)
    if response.status_code >= 400:
        assert document["__type"] in ERROR_TYPES, document
        assert isinstance(document["message"], str) and document["message"]


def send(client: httpx.Client, operation: str, body: bytes) -> httpx.Response:
    return client.post("/", content=body, headers={"X-Amz-Target": f"SageMaker.{operation}",
                                                   "Content-Type": "application/x-amz-json-1.1"})


@pytest.mark.parametrize("operation", OPERATIONS)
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_every_field_of_every_operation_is_checked(fuzz_target, operation, data):
    client, archive = fuzz_target
    seeds = {"ModelName": ["fz-model"], "ModelDataUrl": [archive], "VariantName": ["AllTraffic"]}
    params = data.draw(request_body(operation, seeds))
    if operation == "CreateEndpoint" and isinstance(params, dict) and isinstance(params.get("EndpointConfigName"), str):
        # a config made by an earlier example would start real instances: this test is about input, not lifecycles
        described = send(client, "DescribeEndpointConfig",
                         json.dumps({"EndpointConfigName": params["EndpointConfigName"]}).encode())
        assume(described.status_code != 200)
    check_answer(send(client, operation, json.dumps(params, allow_nan=True).encode()))


def test_nan_infinity_deep_nesting_and_odd_bodies_are_refused_and_never_stored(fuzz_target):
    client, archive = fuzz_target
    variant = {"VariantName": "A", "ModelName": "fz-model", "InitialInstanceCount": 1}
    for weight in (math.nan, math.inf, -math.inf):
        body = json.dumps({"EndpointConfigName": "nan-config", "ProductionVariants": [
            {**variant, "InitialVariantWeight": weight}]}, allow_nan=True).encode()
        answer = send(client, "CreateEndpointConfig", body)
        assert answer.status_code == 400 and answer.json()["__type"] == "SerializationException"
    described = send(client, "DescribeEndpointConfig", b'{"EndpointConfigName": "nan-config"}')
    assert described.status_code == 400 and "Could not find" in described.json()["message"]
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"\xff\xfe", b"1e999",
                 b'{"ModelName": "x", "ModelName": 1}', b'{"NameContains": "' + b"\\ud800" + b'"}',
                 json.dumps({"MaxResults": 2**80}).encode(), b""):
        check_answer(send(client, "ListModels", body))
    too_big = send(client, "CreateModel", b'{"ModelName": "' + b"a" * (7 * 1024 * 1024) + b'"}')
    assert too_big.status_code == 413 and too_big.json()["__type"] == "SerializationException"
    answer = send(client, "CreateModel", json.dumps({"ModelName": "tag-dict", "PrimaryContainer": {
        "Image": "i", "ModelDataUrl": archive}, "Tags": [{"Key": "k", "Value": {"nested": "dict"}}]}).encode())
    assert answer.status_code == 400 and "tags.1.member.value" in answer.json()["message"]
    assert send(client, "DescribeModel", b'{"ModelName": "tag-dict"}').status_code == 400  # nothing stored
    newline = send(client, "CreateModel", json.dumps({"ModelName": "trailing\n", "PrimaryContainer": {
        "Image": "i", "ModelDataUrl": archive}}).encode())
    assert newline.status_code == 400 and "modelName" in newline.json()["message"]


def test_wrong_json_types_name_the_member_and_what_is_accepted(fuzz_target):
    client, archive = fuzz_target
    answer = send(client, "CreateEndpointConfig", json.dumps({"EndpointConfigName": "types", "ProductionVariants": [
        {"VariantName": "A", "ModelName": "fz-model", "InitialInstanceCount": "2"}]}).encode())
    assert answer.status_code == 400 and answer.json() == {
        "__type": "SerializationException",
        "message": "Expected an integer at 'productionVariants.1.member.initialInstanceCount' but got a string."}
    answer = send(client, "CreateModel", json.dumps({"ModelName": "unknown", "Surprise": 1}).encode())
    assert answer.status_code == 400 and "Unknown parameter 'Surprise'" in answer.json()["message"]
    assert "PrimaryContainer" in answer.json()["message"]  # says what is accepted
    answer = send(client, "ListEndpoints", b'{"SortBy": "Size"}')
    assert "enum value set: [Name, CreationTime, Status]" in answer.json()["message"]
