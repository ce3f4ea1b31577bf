"""A hosted model's adaptive batching: set in its CreateModel Environment, requests through InvokeEndpoint share
a predict call, and a long batched predict does not get the instance killed by the health check."""

from __future__ import annotations

import json
import textwrap
import threading

from modelport.archive import pack_archive
from tests.helpers.hosting import clients, deploy, instances, start_hosting
from tests.helpers.waiting import eventually

BATCHING_MODEL = """
import json, os, time

def model_fn(model_dir):
    return "model"

def input_fn(body, content_type):
    return json.loads(body)

def predict_batch_fn(inputs, model):
    if any(x.get("sleep") for x in inputs):
        open(os.environ["TEST_GATE"], "w").close()  # the test's signal: this batch holds the worker now
    time.sleep(max(x.get("sleep", 0) for x in inputs))
    return [{"id": x["id"], "batch": len(inputs), "pid": os.getpid()} for x in inputs]

def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def _invoke(rt, body: dict) -> dict:
    response = rt.invoke_endpoint(EndpointName="batched", Body=json.dumps(body).encode(), ContentType="application/json")
    return json.loads(response["Body"].read())


def test_a_hosted_model_batches_and_a_long_batch_is_not_killed(tmp_path):
    source = tmp_path / "src"
    (source / "code").mkdir(parents=True)
    (source / "code" / "inference.py").write_text(textwrap.dedent(BATCHING_MODEL))
    archive = pack_archive(source, tmp_path / "model.tar.gz")
    # pings every 0.5 s; the batch below takes 3 s
    server = start_hosting(tmp_path / "home", health_interval=0.5, invocation_timeout=30)
    try:
        sm, rt = clients(server.url)
        gate_mark = tmp_path / "gate"
        deploy(sm, "batched", str(archive), env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "TEST_GATE": str(gate_mark),
                                                  "MODELPORT_MAX_BATCH_SIZE": "8", "MODELPORT_MAX_BATCH_DELAY_MS": "200"})
        [before] = instances(server.url, "batched")
        assert _invoke(rt, {"id": 0})["batch"] == 1  # alone: at once

        answers: dict[int, dict] = {}

        def call(i: int, body: dict) -> None:
            answers[i] = _invoke(rt, body)

        gate = threading.Thread(target=call, args=(100, {"id": 100, "sleep": 3}))
        gate.start()
        eventually(gate_mark.exists, 30, 0.01, message="the 3 s batch never reached predict")
        # the gate's batch is in predict for 3 s: the next four wait for the worker together
        callers = [threading.Thread(target=call, args=(i, {"id": i})) for i in range(4)]
        for thread in callers:
            thread.start()
        for thread in [gate, *callers]:
            thread.join(60)
        assert answers[100]["batch"] == 1
        assert [answers[i]["id"] for i in range(4)] == list(range(4))  # each caller its own answer
        assert {answers[i]["batch"] for i in range(4)} == {4}  # one predict call for the four
        [after] = instances(server.url, "batched")
        assert (after["pid"], after["restarts"]) == (before["pid"], 0)  # the 3 s batch cost no restart
    finally:
        server.stop()
