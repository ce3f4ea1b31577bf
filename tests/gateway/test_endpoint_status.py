"""Endpoint status (``gateway/endpoint_status.py``): DescribeEndpoint over HTTP in front of local hosting and
through boto3 otherwise, the same summary from both, and no half-closed socket left in an idle gateway
after hosting drops its idle keep-alive connections (the soak found one in CLOSE_WAIT)."""

from __future__ import annotations

import asyncio
import time

import httpx
import psutil
import pytest

from modelport.gateway.backend import SageMakerBackend
from modelport.gateway.endpoint_status import Boto3Describer, HttpDescriber
from modelport.gateway.settings import GatewaySettings
from tests.helpers.gateway_stack import ENDPOINT, hosted_toy
from tests.helpers.hosting import token_for
from tests.helpers.net import gateway_server

TOY = '''
import json
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return json.loads(body)
def predict_fn(data, model):
    return data
def output_fn(prediction, accept):
    return json.dumps(prediction)
'''
KEEPALIVE_S = 1.0  # hosting's idle keep-alive timeout here (15 s by default)


@pytest.fixture(scope="module")
def hosting_url(tmp_path_factory):
    """Hosting serving ``toy``; it closes keep-alive connections idle for more than KEEPALIVE_S."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELPORT_HTTP_KEEPALIVE_TIMEOUT", str(KEEPALIVE_S))  # read when the server is built
        with hosted_toy(tmp_path_factory.mktemp("status"), TOY) as url:
            yield url


def backend(url: str, client: str, token: str) -> SageMakerBackend:
    """The backend of a local gateway in front of ``url`` with this runtime client and token."""
    return SageMakerBackend(GatewaySettings(runtime_endpoint_url=url, runtime_client=client, mode="local",
                                            region="us-east-1", hosting_token=token))


def statuses(url: str, client: str, token: str, names: list[str]) -> dict:
    return asyncio.run(backend(url, client, token).statuses(names))


def test_status_goes_over_http_exactly_when_invocations_do(hosting_url):
    assert isinstance(backend(hosting_url, "http", "t").endpoint_status.describer, HttpDescriber)
    assert isinstance(backend(hosting_url, "boto3", "t").endpoint_status.describer, Boto3Describer)
    # a gateway in front of real SageMaker (https) asks boto3, which signs the request
    assert isinstance(backend("https://runtime.sagemaker.us-east-1.amazonaws.com", "auto", "").endpoint_status.describer,
                      Boto3Describer)


@pytest.mark.parametrize("client", ["http", "boto3"])
def test_both_ways_give_the_same_status(hosting_url, client):
    found = statuses(hosting_url, client, token_for(hosting_url), [ENDPOINT, "absent"])
    assert found[ENDPOINT] == {"status": "InService", "variants": [{"name": "AllTraffic", "instances": 1, "weight": 1.0}]}
    assert found["absent"] == {"status": "NotFound", "reason": "no endpoint named absent"}


@pytest.mark.parametrize("client", ["http", "boto3"])
def test_a_wrong_token_says_the_backend_cannot_tell_why(hosting_url, client):
    found = statuses(hosting_url, client, "not-the-token", [ENDPOINT])
    assert found[ENDPOINT]["status"] == "unknown"
    assert "UnrecognizedClientException" in found[ENDPOINT]["reason"]


@pytest.mark.parametrize("client", ["http", "boto3"])
def test_unreachable_hosting_is_unknown_not_an_error(client):
    found = statuses("http://127.0.0.1:9", client, "t", [ENDPOINT])
    assert found[ENDPOINT]["status"] == "unknown"
    assert found[ENDPOINT]["reason"].startswith("the backend cannot tell")


def sockets_to(pid: int, port: int) -> list:
    """The open TCP sockets of process ``pid`` to ``port`` (any state; TIME_WAIT ones belong to no process)."""
    return [c for c in psutil.Process(pid).net_connections("tcp") if c.raddr and c.raddr.port == port]


def test_an_idle_gateway_holds_no_socket_hosting_has_closed(hosting_url, tmp_path):
    """A `modelport gateway` process: status lookups (/models) and an invocation, then idle past hosting's
    keep-alive timeout. Hosting has closed every idle connection, and the gateway has closed its end of
    each: none is left in CLOSE_WAIT (as boto3's connection pool left one)."""
    hosting_port = httpx.URL(hosting_url).port
    gateway = gateway_server(tmp_path, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=hosting_url, MNIST_SKLEARN_ENDPOINT=ENDPOINT,
                             MODELPORT_HOSTING_TOKEN=token_for(hosting_url)).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as client:
            listed = client.get("/models").json()["models"]
            assert {m["name"]: m["status"] for m in listed}["mnist-sklearn"] == "InService"
            assert client.post(f"/invoke/{ENDPOINT}", json={"x": 1}).json() == {"x": 1}
        assert sockets_to(gateway.process.pid, hosting_port), "connections to hosting are kept between requests"
        time.sleep(KEEPALIVE_S + 2.0)
        assert [(c.laddr.port, c.status) for c in sockets_to(gateway.process.pid, hosting_port)] == []
    finally:
        gateway.stop()
