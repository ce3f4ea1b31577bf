"""The gateway's ``GET /metrics``: a live gateway over the stand-in Runtime API; the scrape's counts per
route, model, endpoint and status class match the requests sent; bounded labels; the API key; off."""

from __future__ import annotations

import httpx
import pytest

from modelport.gateway.app import create_app
from modelport.gateway.metrics import OTHER, GatewayMetrics
from modelport.gateway.settings import GatewaySettings
from modelport.metrics.series import CONTENT_TYPE
from tests.helpers.live_gateway import LiveGateway
from tests.helpers.metrics import Scrape
from tests.helpers.standin_runtime import answer_json, mnist_answer, model_error

PIXELS = {"pixels": [0.5] * 784}
PREDICT = "/predict/{model}"
INVOKE = "/invoke/{endpoint}"


@pytest.fixture(scope="module")
def standin_behaviours():
    return {
        "mnist-sk": answer_json(mnist_answer(3)),
        "picky": model_error(400, "expected 784 pixels"),
        "crashy": model_error(500, "the model fell over"),
    }


def settings(standin, **overrides) -> GatewaySettings:
    return GatewaySettings(runtime_endpoint_url=standin.url, mode="local", region="us-east-1",
                           mnist_sklearn_endpoint="mnist-sk", routes="picky-model=picky",
                           invoke_endpoints="crashy,mnist-sk", **overrides)


@pytest.fixture(scope="module")
def gateway_settings(standin):
    return settings(standin)


def scrape(client: httpx.Client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return Scrape(response.text)


def test_counts_per_route_model_endpoint_and_status_class(gateway):
    for _ in range(5):
        assert gateway.post("/predict/mnist-sklearn", json=PIXELS).status_code == 200
    for _ in range(2):
        assert gateway.post("/predict/picky-model", json=PIXELS).status_code == 400  # the model's 400
    for _ in range(3):
        assert gateway.post("/invoke/crashy", content=b"{}", headers={"content-type": "application/json"}).status_code == 502
    assert gateway.post("/invoke/mnist-sk", content=b"{}", headers={"content-type": "application/json"}).status_code == 200
    assert gateway.post("/predict/nope", json=PIXELS).status_code == 404
    scraped = scrape(gateway)
    assert scraped.value("Invocations_total", route=PREDICT, model="mnist-sklearn", endpoint="mnist-sk",
                         status_class="2xx") == 5
    assert scraped.value("Invocations_total", route=PREDICT, model="picky-model", endpoint="picky",
                         status_class="4xx") == 2
    assert scraped.value("Invocation4XXErrors_total", route=PREDICT, model="picky-model", endpoint="picky") == 2
    assert scraped.value("Invocations_total", route=INVOKE, model="", endpoint="crashy", status_class="5xx") == 3
    assert scraped.value("Invocation5XXErrors_total", route=INVOKE, endpoint="crashy") == 3
    assert scraped.value("Invocations_total", route=INVOKE, endpoint="mnist-sk", status_class="2xx") == 1
    assert scraped.value("Invocation4XXErrors_total", route=PREDICT, model="nope") == 1
    assert scraped.total("Invocation5XXErrors_total", route=PREDICT) == 0
    # latencies only where a model was called and answered
    assert scraped.value("ModelLatency_count", route=PREDICT, model="mnist-sklearn") == 5
    assert scraped.value("OverheadLatency_count", route=PREDICT, model="mnist-sklearn") == 5
    assert scraped.value("ModelLatency_bucket", route=PREDICT, model="mnist-sklearn", le="+Inf") == 5
    assert scraped.value("ModelLatency_sum", route=PREDICT, model="mnist-sklearn") > 0
    assert scraped.value("ModelLatency_count", route=INVOKE, endpoint="mnist-sk") == 1
    assert scraped.labels("ModelLatency_count") and all(
        labels["model"] != "nope" for labels in scraped.labels("ModelLatency_count"))


def test_health_and_the_page_are_not_counted(gateway):
    before = scrape(gateway)
    assert gateway.get("/health").status_code == 200
    after = scrape(gateway)
    routes = {labels["route"] for labels in after.labels("Invocations_total")}
    assert "/health" not in routes
    # the scrapes themselves count, under their own route
    assert after.total("Invocations_total", route="/metrics") == before.total("Invocations_total", route="/metrics") + 1


def test_label_sets_are_bounded():
    counted = GatewayMetrics(max_series=3)
    for name in ("a", "b", "c", "d", "e"):
        counted.record(PREDICT, name, name, 404, None, 0.001)
    assert set(counted.series) == {(PREDICT, "a", "a"), (PREDICT, "b", "b"), (PREDICT, "c", "c"),
                                   (PREDICT, OTHER, OTHER)}
    scraped = Scrape(counted.render().decode())
    assert scraped.value("Invocations_total", model=OTHER, status_class="4xx") == 2  # d and e


def test_metrics_need_the_api_key_when_keys_are_set(standin):
    with LiveGateway(create_app(settings(standin, api_keys="k1"))) as url, httpx.Client(base_url=url) as client:
        assert client.get("/metrics").status_code == 401
        assert scrape(client, authorization="Bearer k1").value(
            "Invocations_total", route="", status_class="4xx") == 1  # the refused scrape: no route reached


def test_metrics_off_answers_404_and_counts_nothing(standin):
    app = create_app(settings(standin, metrics=False))
    assert app.edge.metrics is None and app.state.metrics is None
    with LiveGateway(app) as url, httpx.Client(base_url=url) as client:
        assert client.post("/predict/mnist-sklearn", json=PIXELS).status_code == 200
        response = client.get("/metrics")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "metrics_off"
