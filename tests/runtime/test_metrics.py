"""The runtime's ``GET /metrics``: real ``modelport serve`` processes with two workers, real requests, then the
scraped counts match what was sent, whichever worker answers the scrape; off with MODELPORT_METRICS=0."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from modelport.metrics.names import RELEASE_REASONS
from modelport.metrics.series import CONTENT_TYPE
from modelport.runtime import metrics as runtime_metrics
from modelport.runtime.app import RuntimeApp
from tests.helpers.metrics import Scrape
from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.waiting import eventually

SCRIPT = """
    import json, os

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        if data.get("bad"):
            raise ValueError("bad")  # a 500 from the model
        return {"pid": os.getpid()}

    def input_fn(body, content_type):
        if content_type != "application/json":
            from sagemaker_inference import errors
            raise errors.UnsupportedFormatError(content_type)  # 415
        return json.loads(body)
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("model"), SCRIPT)


@pytest.fixture(scope="module")
def server(model):
    with ModelServer(model, workers=2) as running:
        yield running


def scrape(server: ModelServer) -> Scrape:
    with httpx.Client(base_url=server.url) as fresh:  # a new connection: any worker may take it
        response = fresh.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    return Scrape(response.text)


def test_counts_from_every_worker_whatever_worker_answers_the_scrape(server):
    before = scrape(server)
    clients = [httpx.Client(base_url=server.url) for _ in range(4)]  # kept-alive connections, spread over workers
    pids = set()
    try:
        for round_ in range(10):
            for client in clients:
                answer = client.post("/invocations", content=b"{}", headers={"content-type": "application/json"})
                assert answer.status_code == 200
                pids.add(answer.json()["pid"])
        for client in clients[:2]:
            assert client.post("/invocations", content=b"x", headers={"content-type": "text/csv"}).status_code == 415
            assert client.post("/invocations", content=b'{"bad": 1}',
                               headers={"content-type": "application/json"}).status_code == 500
    finally:
        for client in clients:
            client.close()
    assert len(pids) == 2, "both workers served"
    for _ in range(4):  # several scrapes, on new connections: each reports the same totals
        after = scrape(server)
        assert after.value("Invocations_total") - before.value("Invocations_total") == 44
        assert after.value("Invocation4XXErrors_total") - before.value("Invocation4XXErrors_total") == 2
        assert after.value("Invocation5XXErrors_total") - before.value("Invocation5XXErrors_total") == 2
        assert after.value("ModelLatency_count") - before.value("ModelLatency_count") == 44
        assert after.value("ModelLatency_bucket", le="+Inf") == after.value("ModelLatency_count")
        assert after.value("ModelLatency_sum") > before.value("ModelLatency_sum")
        assert after.value("ModelSetupTime_count") == 2  # one model load per worker
        assert after.value("ModelSetupTime_sum") > 0


def test_sagemaker_paths_answer_as_before(server):
    assert server.client.get("/ping").json() == {"status": "Healthy"}
    assert server.client.post("/metrics").status_code == 405
    listed = server.client.get("/nothing").json()["message"]
    assert "GET /metrics" in listed


def test_the_supervisor_answers_metrics_while_the_model_loads(tmp_path):
    slow = write_model(tmp_path / "slow", """
        import time

        def model_fn(model_dir):
            time.sleep(3)
            return None

        def predict_fn(data, model):
            return data
    """)
    server = ModelServer(slow, workers=1).start(wait=False)

    def listening() -> httpx.Response | None:
        try:
            return httpx.get(f"{server.url}/metrics")
        except httpx.ConnectError:  # the supervisor has not bound the port yet
            return None

    try:
        loading = eventually(listening, timeout=20)
        assert loading.status_code == 200
        assert server.client.get("/ping").status_code == 503  # still loading: the supervisor answered both
        scraped = Scrape(loading.text)
        assert scraped.value("Invocations_total") == 0
        assert scraped.value("ModelSetupTime_count") == 0
        server.wait_ready()
        assert scrape(server).value("ModelSetupTime_sum") > 3e6  # model_fn slept 3 s
    finally:
        server.stop()


def test_metrics_off_answers_404_and_counts_nothing(model):
    with ModelServer(model, workers=1, env={"MODELPORT_METRICS": "0"}) as server:
        assert server.post(b"{}").status_code == 200
        response = server.client.get("/metrics")
        assert response.status_code == 404
        assert response.json()["error"] == "NotFound"


def test_metrics_off_keeps_the_plain_hot_path():
    app = object.__new__(RuntimeApp)
    assert "invocations" not in vars(app)  # the class's own method, no wrapper
    assert RuntimeApp.invocations is not RuntimeApp.measured_invocations


def test_record_batch_counts_sizes_waits_and_reasons(tmp_path):
    path = tmp_path / "metrics"
    runtime_metrics.create(path, workers=2)
    worker = runtime_metrics.RuntimeMetrics(path, workers=2, index=1)
    worker.record_batch(8, "full", [0.001] * 8)
    worker.record_batch(3, "delay", [0.002, 0.0015, 0.0001])
    worker.record_batch(1, "idle", [0.0])
    worker.record_batch(5, "delay", [0.0] * 5)
    with pytest.raises(ValueError, match="one of full, delay, idle"):
        worker.record_batch(2, "tired", [0.0, 0.0])
    reader = runtime_metrics.RuntimeMetrics(path, workers=2)
    scraped = Scrape(reader.render().decode())
    assert {r: scraped.value("BatchReleases_total", reason=r) for r in RELEASE_REASONS} == \
        {"full": 1, "delay": 2, "idle": 1}
    assert scraped.value("BatchSize_count") == 4
    assert scraped.value("BatchSize_sum") == 17
    assert scraped.value("BatchSize_bucket", le="1") == 1
    assert scraped.value("BatchSize_bucket", le="4") == 2
    assert scraped.value("BatchSize_bucket", le="8") == 4
    assert scraped.value("BatchQueueWait_count") == 17
    assert scraped.value("BatchQueueWait_sum") == pytest.approx(1e6 * (0.008 + 0.0036))
    assert scraped.value("BatchQueueWait_bucket", le="50") == 6  # the six zero waits
    assert scraped.value("BatchQueueWait_bucket", le="100") == 7  # and the 0.1 ms one
    assert scraped.value("Invocations_total") == 0


def test_a_restarted_worker_keeps_adding_to_its_counts(model):
    with ModelServer(model, workers=1) as server:
        for _ in range(3):
            assert server.post(b"{}").status_code == 200
        counted = scrape(server).value("Invocations_total")
        assert counted == 3
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGKILL)
        eventually(lambda: server.worker_pids() and server.worker_pids() != [worker] and
                   server.client.get("/ping").status_code == 200, timeout=30)
        assert server.post(b"{}").status_code == 200
        after = scrape(server)
        assert after.value("Invocations_total") == 4
        assert after.value("ModelSetupTime_count") == 2  # loaded twice
