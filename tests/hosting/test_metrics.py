"""Hosting's ``GET /metrics``: a real hosting with real instances, invoked through boto3; the scrape's
numbers match what was sent, per endpoint, variant and instance; it needs the token; off with metrics=False."""

from __future__ import annotations

import json

import httpx
import pytest

from modelport.metrics.series import CONTENT_TYPE
from tests.helpers.hosting import auth_headers, clients, deploy, start_hosting
from tests.helpers.metrics import Scrape


@pytest.fixture(scope="module", autouse=True)
def endpoint(sm, archive):
    """Endpoint ``m``: variant A with two instances, variant B with one."""
    deploy(sm, "m", str(archive), variants=[{"name": "A", "weight": 1.0, "count": 2},
                                            {"name": "B", "weight": 1.0, "count": 1}])


def scrape(url: str) -> Scrape:
    response = httpx.get(f"{url}/metrics", headers=auth_headers(url))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return Scrape(response.text)


def call(rt, payload: dict, variant: str, endpoint: str = "m") -> None:
    rt.invoke_endpoint(EndpointName=endpoint, Body=json.dumps(payload).encode(), ContentType="application/json",
                       TargetVariant=variant)


def test_counts_per_variant_and_instance_match_what_was_sent(hosting, rt):
    before = scrape(hosting.url)
    for _ in range(10):
        call(rt, {"x": 1}, "A")
    for _ in range(5):
        call(rt, {"x": 1}, "B")
    for _ in range(3):
        with pytest.raises(rt.exceptions.ModelError):
            call(rt, {"x": 1, "fail": True}, "B")  # the model answers 400
    for _ in range(2):
        with pytest.raises(rt.exceptions.ModelError):
            call(rt, {"x": "text"}, "B")  # "text" * 2.0 raises in the model: 500
    with pytest.raises(rt.exceptions.ValidationError):
        call(rt, {"x": 1}, "C")  # no such variant: refused before routing
    after = scrape(hosting.url)

    def delta(name: str, **labels: str) -> float:
        return after.total(name, endpoint="m", **labels) - before.total(name, endpoint="m", **labels)

    assert delta("Invocations_total", variant="A") == 10
    assert delta("Invocations_total", variant="B") == 10
    assert delta("Invocation4XXErrors_total", variant="B") == 3
    assert delta("Invocation5XXErrors_total", variant="B") == 2
    assert delta("Invocation4XXErrors_total", variant="A") == delta("Invocation5XXErrors_total", variant="A") == 0
    assert delta("Invocations_total", variant="") == delta("Invocation4XXErrors_total", variant="") == 1
    assert delta("ModelLatency_count", variant="A") == delta("OverheadLatency_count", variant="A") == 10
    assert delta("ModelLatency_count", variant="B") == 10
    assert after.value("ModelLatency_bucket", endpoint="m", variant="A", le="+Inf") == \
        after.value("ModelLatency_count", endpoint="m", variant="A")
    assert delta("ModelLatency_sum", variant="A") > 0
    # per instance: both of A's instances are labelled, and together they took A's ten
    assert sorted(labels["instance"] for labels in after.labels("InvocationsPerInstance_total")
                  if labels["variant"] == "A") == ["0", "1"]
    assert delta("InvocationsPerInstance_total", variant="A") == 10
    assert delta("InvocationsPerInstance_total", variant="B", instance="0") == 10


def test_model_setup_time_is_there_for_every_instance_after_deploy(hosting):
    scraped = scrape(hosting.url)
    for variant, instance in (("A", "0"), ("A", "1"), ("B", "0")):
        assert scraped.value("ModelSetupTime_count", endpoint="m", variant=variant, instance=instance) == 1
        setup = scraped.value("ModelSetupTime_sum", endpoint="m", variant=variant, instance=instance)
        assert 1e4 < setup < 6e7  # more than 10 ms, less than the startup timeout, in microseconds


def test_metrics_need_the_token(hosting):
    refused = httpx.get(f"{hosting.url}/metrics")
    assert refused.status_code == 403
    assert refused.json()["__type"] == "UnrecognizedClientException"
    wrong = httpx.get(f"{hosting.url}/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403


def test_a_deleted_endpoint_leaves_the_metrics(hosting, sm, rt, archive):
    deploy(sm, "gone", str(archive))
    call(rt, {"x": 1}, "AllTraffic", endpoint="gone")
    assert scrape(hosting.url).value("Invocations_total", endpoint="gone", variant="AllTraffic") == 1
    sm.delete_endpoint(EndpointName="gone")
    endpoints = {labels["endpoint"] for labels in scrape(hosting.url).labels("Invocations_total")}
    assert "m" in endpoints and "gone" not in endpoints


def test_metrics_off_means_no_route(tmp_path, archive):
    server = start_hosting(tmp_path / "home", MODELPORT_METRICS=False)  # a shared field: set by its variable
    try:
        sm, rt = clients(server.url)
        deploy(sm, "quiet", str(archive))
        call(rt, {"x": 1}, "AllTraffic", endpoint="quiet")
        response = httpx.get(f"{server.url}/metrics", headers=auth_headers(server.url))
        assert response.status_code == 404
        assert response.json()["__type"] == "UnknownOperationException"
    finally:
        server.stop()

