"""Adaptive batching in the runtime's workers: real ``modelport serve`` processes, and the batcher's release rules.

Requests are made to "arrive together" the way they do under load: a gate request holds the worker's
event loop in predict (the model says when it is there, and waits for the test to open the gate) while the
others are sent on connections opened beforehand; the worker reads them all in the loop pass after that
predict. No step depends on timing.
"""

from __future__ import annotations

import asyncio
import http.client
import inspect
import json
import re
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvloop
from typer.testing import CliRunner

from modelport.cli.main import app as cli
from modelport.net.messages import Deferred
from modelport.runtime import handlers, transformer
from modelport.runtime.app import BatchingApp, RuntimeApp, make_app
from modelport.runtime.batching import DELAY, FULL, IDLE, Batcher
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.readiness import Readiness
from tests.helpers.metrics import Scrape
from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.waiting import eventually

# The gate, in every script below: predict marks that it holds the worker (TEST_GATE + ".in"), then waits until
# the test opens the gate (TEST_GATE + ".open"; at most 20 s, so a test that fails never hangs the worker).
GATE_CODE = """
import os, time

def hold():
    gate = os.environ["TEST_GATE"]
    open(gate + ".in", "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(gate + ".open") and time.monotonic() < deadline:
        time.sleep(0.002)
"""

BATCH_FN_SCRIPT = GATE_CODE + """
import json, time

def model_fn(model_dir):
    return "model"

def input_fn(body, content_type):
    value = json.loads(body)
    if value.get("bad"):
        raise ValueError("input %d is bad" % value["id"])
    return value

def predict_batch_fn(inputs, model):
    if any(x.get("poison") for x in inputs):
        raise RuntimeError("poisoned input in the call")
    if any(x.get("gate") for x in inputs):
        hold()
    time.sleep(max(x.get("sleep", 0) for x in inputs))
    return [{"id": x["id"], "batch": len(inputs)} for x in inputs]

def output_fn(prediction, accept):
    return json.dumps(prediction)
"""

SKLEARN_DEFAULT_SCRIPT = GATE_CODE + """
import numpy as np

class CallRecorder:
    '''Answers, per row: how many rows its predict call got, the row's width, the row's first value (-1: the gate).'''
    def predict(self, rows):
        if rows[0, 0] < 0:
            hold()
        return np.column_stack([np.full(len(rows), len(rows)), np.full(len(rows), rows.shape[1]), rows[:, 0]])

def model_fn(model_dir):
    return CallRecorder()
"""

TORCH_DEFAULT_SCRIPT = GATE_CODE + """
import torch

class CallRecorder(torch.nn.Module):
    '''Answers, per row: how many rows its forward call got, and the row's first value (-1: the gate).'''
    def forward(self, x):
        if x[0, 0] < 0:
            hold()
        n = x.shape[0]
        return torch.stack([torch.full((n,), float(n)), x[:, 0]], dim=1)

def model_fn(model_dir):
    return CallRecorder()
"""

TRANSFORM_BATCH_SCRIPT = GATE_CODE + """
import json

def model_fn(model_dir):
    return "model"

def transform_batch_fn(model, data, content_types, accepts):
    items = [json.loads(body) for body in data]
    if any(x.get("gate") for x in items):
        hold()
    return [(json.dumps({"id": x["id"], "batch": len(items), "type": kind}), "application/json")
            for x, kind in zip(items, content_types)]
"""

PLAIN_SCRIPT = """
import json

def model_fn(model_dir):
    return "model"

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {"id": data["id"], "doubled": data["id"] * 2}

def output_fn(prediction, accept):
    return json.dumps(prediction)
"""


def _serve(root, script: str, max_size: int, delay_ms: float = 1000, env: dict[str, str] | None = None):
    model = write_model(root / "model", script)
    return ModelServer(model, "--max-batch-size", str(max_size), "--max-batch-delay-ms", str(delay_ms), home=root / "home",
                       env={"TEST_GATE": str(root / "gate"), **(env or {})})


@pytest.fixture(scope="module")
def batch_fn_server(tmp_path_factory):
    """predict_batch_fn, batches of up to 6, a 1 s delay (a lone request that waited it would show), 2 s timeout."""
    with _serve(tmp_path_factory.mktemp("batch-fn"), BATCH_FN_SCRIPT, max_size=6,
                env={"SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "2"}) as server:
        yield server


@pytest.fixture(scope="module")
def sklearn_server(tmp_path_factory):
    with _serve(tmp_path_factory.mktemp("sklearn-default"), SKLEARN_DEFAULT_SCRIPT, max_size=6) as server:
        yield server


@pytest.fixture(scope="module")
def torch_server(tmp_path_factory):
    with _serve(tmp_path_factory.mktemp("torch-default"), TORCH_DEFAULT_SCRIPT, max_size=4) as server:
        yield server


def together(server: ModelServer, gate: bytes | None, bodies: list[bytes]) -> list[httpx.Response]:
    """POST ``gate`` (it holds the worker in predict until the gate opens; None: no gate), then every body on
    connections opened beforehand; only once all of them are sent does the gate open, so the worker reads them
    all in the loop pass after the gate's predict. Their answers, in order."""
    gate_file = Path(server.env["TEST_GATE"])
    for mark in (".in", ".open"):
        gate_file.with_name(gate_file.name + mark).unlink(missing_ok=True)
    connections = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in bodies]
    try:
        for connection in connections:  # each connection accepted by the worker before the burst
            connection.request("GET", "/ping")
            ping = connection.getresponse()
            ping.read()
            assert ping.status == 200
        gate_thread = None
        if gate is not None:
            gate_thread = threading.Thread(target=server.post, args=(gate,))
            gate_thread.start()
            eventually(gate_file.with_name(gate_file.name + ".in").exists, 30, 0.002, message="the gate never reached predict")
        for connection, body in zip(connections, bodies):
            connection.request("POST", "/invocations", body=body, headers={"content-type": "application/json"})
        gate_file.with_name(gate_file.name + ".open").touch()  # every body is in the worker's socket buffers now
        answers = [_response(connection.getresponse()) for connection in connections]
        if gate_thread is not None:
            gate_thread.join(30)
        return answers
    finally:
        for connection in connections:
            connection.close()


def _response(answer: http.client.HTTPResponse) -> httpx.Response:
    return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())


def _body(value) -> bytes:
    return json.dumps(value).encode()


GATE = _body({"id": 100, "gate": True})


# --- predict_batch_fn ---------------------------------------------------------------------------


def test_requests_that_arrive_together_share_one_predict_call(batch_fn_server):
    answers = together(batch_fn_server, GATE, [_body({"id": i}) for i in range(6)])
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    # each caller got its own answer, all from one call of six
    assert [a.json() for a in answers] == [{"id": i, "batch": 6} for i in range(6)]


def test_a_batch_is_counted_in_the_metrics(batch_fn_server):
    """The batcher reports each batch (size, reason, waits) and every request of it is an invocation."""
    before = Scrape(batch_fn_server.client.get("/metrics").text)
    answers = together(batch_fn_server, GATE, [_body({"id": i}) for i in range(5)])
    assert [a.json()["batch"] for a in answers] == [5] * 5
    after = Scrape(batch_fn_server.client.get("/metrics").text)
    grew = {name: after.value(name) - before.value(name)
            for name in ("Invocations_total", "BatchSize_count", "BatchSize_sum", "BatchQueueWait_count")}
    # two batches: the gate (it came to an idle worker: released at once, alone) and the five that came during it
    assert grew == {"Invocations_total": 6, "BatchSize_count": 2, "BatchSize_sum": 6, "BatchQueueWait_count": 6}
    assert after.value("BatchReleases_total", reason="idle") - before.value("BatchReleases_total", reason="idle") == 1


def test_a_bad_input_fails_alone(batch_fn_server):
    bodies = [_body({"id": i, "bad": i == 2}) for i in range(6)]
    answers = together(batch_fn_server, GATE, bodies)
    assert answers[2].status_code == 500 and "input 2 is bad" in answers[2].json()["message"]
    good = [a.json() for i, a in enumerate(answers) if i != 2]
    assert good == [{"id": i, "batch": 5} for i in (0, 1, 3, 4, 5)]  # the other five still went together


def test_a_failing_batch_is_predicted_again_one_by_one(batch_fn_server):
    bodies = [_body({"id": i, "poison": i == 4}) for i in range(6)]
    answers = together(batch_fn_server, GATE, bodies)
    assert answers[4].status_code == 500 and "poisoned input" in answers[4].json()["message"]
    assert [a.json() for i, a in enumerate(answers) if i != 4] == [{"id": i, "batch": 1} for i in (0, 1, 2, 3, 5)]


def test_a_lone_request_does_not_wait_for_the_delay(batch_fn_server):
    # The delay is 1 s: a request that waited for batch mates would take at least that long.
    for i in range(5):
        started = time.monotonic()
        response = batch_fn_server.post(_body({"id": i}))
        elapsed = time.monotonic() - started
        assert response.json() == {"id": i, "batch": 1}
        assert elapsed < 0.5, f"a lone request took {elapsed:.3f} s with a 1 s batch delay"


def test_a_batch_over_the_timeout_is_504_and_the_worker_serves_on(batch_fn_server):
    slow = batch_fn_server.post(_body({"id": 1, "sleep": 5}))
    assert slow.status_code == 504 and "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS" in slow.json()["message"]
    assert batch_fn_server.post(_body({"id": 2})).json() == {"id": 2, "batch": 1}


def test_transform_batch_fn_gets_the_requests_together(tmp_path):
    with _serve(tmp_path, TRANSFORM_BATCH_SCRIPT, max_size=3) as server:
        assert server.post(_body({"id": 7})).json() == {"id": 7, "batch": 1, "type": "application/json"}
        answers = together(server, GATE, [_body({"id": i}) for i in range(3)])
        assert [a.json() for a in answers] == [{"id": i, "batch": 3, "type": "application/json"} for i in range(3)]


# --- SageMaker's default handlers ---------------------------------------------------------------


def test_default_sklearn_handler_stacks_rows_of_the_same_shape_only(sklearn_server):
    narrow = [_body([i, 0.5, 0.5]) for i in range(3)]
    wide = [_body([10 + i, 1, 2, 3, 4]) for i in range(3)]
    answers = together(sklearn_server, _body([-1, 0, 0]), narrow + wide)
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    rows = [a.json()[0] for a in answers]
    # [rows in the predict call, width, first value]: each width predicted in its own call of three
    assert rows == [[3, 3, i] for i in range(3)] + [[3, 5, 10 + i] for i in range(3)]


def test_default_pytorch_handler_batches_tensors(torch_server):
    answers = together(torch_server, _body([[-1, 0, 0]]), [_body([[i, 1, 2]]) for i in range(4)])
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert [a.json() for a in answers] == [[[4, i]] for i in range(4)]


def test_default_handlers_answer_batched_and_alone_alike(sklearn_server):
    lone = sklearn_server.post(_body([[7, 8, 9], [1, 2, 3]]))
    assert lone.status_code == 200 and lone.json() == [[2, 3, 7], [2, 3, 1]]


# --- which apps batch -----------------------------------------------------------------------------


def _app_for(tmp_path, script: str, max_size: int) -> RuntimeApp:
    program = f"inference_{uuid.uuid4().hex}"  # a module name of its own: imports are cached per process
    model_dir = write_model(tmp_path / "model", script, name=f"{program}.py")
    env = RuntimeEnvironment(MODELPORT_MAX_BATCH_SIZE=str(max_size), MODELPORT_HOME=str(tmp_path / "home"),
                             SAGEMAKER_PROGRAM=program)
    pipeline = transformer.build(model_dir, env, handlers.load_user_module(model_dir, env))
    pipeline.load()
    readiness = Readiness(tmp_path / "ready", 1, create=True)
    previous = signal.getsignal(signal.SIGALRM)  # (the app's deadline takes SIGALRM; pytest-timeout uses it here)
    try:
        return make_app(pipeline, env, readiness)
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_a_script_without_batch_functions_keeps_the_inline_path(tmp_path):
    app = _app_for(tmp_path, PLAIN_SCRIPT, max_size=16)
    assert type(app) is RuntimeApp and not inspect.iscoroutinefunction(app.handle)


def test_batching_off_keeps_the_inline_path_for_a_batching_script(tmp_path):
    app = _app_for(tmp_path, BATCH_FN_SCRIPT, max_size=1)
    assert type(app) is RuntimeApp and not inspect.iscoroutinefunction(app.handle)


def test_a_batching_script_gets_the_batcher(tmp_path):
    app = _app_for(tmp_path, BATCH_FN_SCRIPT, max_size=16)
    assert type(app) is BatchingApp and app.batcher.max_size == 16


def test_a_script_without_batch_functions_answers_as_before(tmp_path):
    with _serve(tmp_path, PLAIN_SCRIPT, max_size=16) as server:
        answers = together(server, None, [_body({"id": i}) for i in range(4)])
        assert [a.json() for a in answers] == [{"id": i, "doubled": 2 * i} for i in range(4)]


# --- the batcher's release rules (in one uvloop, as in a worker) ----------------------------------


def _submit(batcher: Batcher, payload) -> asyncio.Future:
    """Queue ``payload``; a future of the answer its batch gives (the batch's size, from ``run`` below)."""
    answer = asyncio.get_running_loop().create_future()
    batcher.submit(payload).then(answer.set_result)
    return answer


def _run_batcher(scenario, max_size: int, delay: float, connections: int = 100) -> list[tuple[int, str, list[float]]]:
    released: list[tuple[int, str, list[float]]] = []

    def run(batch):
        for waiting in batch:
            waiting.answer.resolve(len(batch))

    async def main():
        batcher = Batcher(run, max_size, delay, lambda: connections)
        batcher.on_batch = lambda size, reason, waits: released.append((size, reason, waits))
        await scenario(batcher)

    uvloop.run(main())
    return released


def test_a_lone_request_is_released_at_once_as_idle():
    async def scenario(batcher):
        assert await _submit(batcher, "a") == 1

    [(size, reason, waits)] = _run_batcher(scenario, max_size=8, delay=1.0)
    assert (size, reason) == (1, IDLE) and waits[0] < 0.5


def test_a_lone_request_on_the_only_connection_is_answered_inside_submit():
    async def scenario(batcher):
        assert batcher.submit("a") == 1, "the response itself, as with batching off"
        second = batcher.submit("b")  # read in the pass right after a batch: released at the end of the pass
        assert isinstance(second, Deferred)
        answer = asyncio.get_running_loop().create_future()
        second.then(answer.set_result)
        assert await answer == 1

    released = _run_batcher(scenario, max_size=8, delay=0.05, connections=1)
    assert [(size, reason) for size, reason, _ in released] == [(1, IDLE), (1, FULL)]
    assert released[0][2] == [0.0]


def test_a_full_queue_is_released_at_once():
    async def scenario(batcher):
        answers = [_submit(batcher, i) for i in range(5)]  # one loop pass: they arrive together
        assert await asyncio.gather(*answers) == [3, 3, 3, 2, 2]

    released = _run_batcher(scenario, max_size=3, delay=0.05)
    assert [(size, reason) for size, reason, _ in released][0] == (3, FULL)
    assert sum(size for size, _, _ in released) == 5


def test_requests_that_come_while_a_batch_runs_wait_for_the_delay():
    async def scenario(batcher):
        later: list[asyncio.Future] = []
        original = batcher.run

        def run(batch):  # while the first batch "predicts", two more requests come in
            if not later:
                batcher.loop.call_soon(lambda: later.extend([_submit(batcher, "b"), _submit(batcher, "c")]))
            original(batch)

        batcher.run = run
        assert await _submit(batcher, "a") == 1
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert await asyncio.gather(*later) == [2, 2]

    released = _run_batcher(scenario, max_size=8, delay=0.05)
    assert [(size, reason) for size, reason, _ in released] == [(1, IDLE), (2, DELAY)]
    assert min(released[1][2]) >= 0.045  # each waited the delay


def test_requests_from_every_connection_are_released_without_waiting():
    async def scenario(batcher):
        later: list[asyncio.Future] = []
        original = batcher.run

        def run(batch):
            if not later:
                batcher.loop.call_soon(lambda: later.extend([_submit(batcher, "b"), _submit(batcher, "c")]))
            original(batch)

        batcher.run = run
        await _submit(batcher, "a")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        await asyncio.gather(*later)

    released = _run_batcher(scenario, max_size=8, delay=5.0, connections=2)
    assert [(size, reason) for size, reason, _ in released] == [(1, IDLE), (2, FULL)]


# --- the command line ------------------------------------------------------------------------------


def test_serve_help_documents_the_batching_flags():
    result = CliRunner().invoke(cli, ["serve", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())  # (rich's box, wrapped lines joined)
    for flag in ("--max-batch-size", "--max-batch-delay-ms", "MODELPORT_MAX_BATCH_SIZE", "MODELPORT_MAX_BATCH_DELAY_MS"):
        assert flag in text


def test_serve_refuses_a_batch_size_out_of_bounds(tmp_path):
    result = CliRunner().invoke(cli, ["serve", str(tmp_path), "--max-batch-size", "0"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "max-batch-size" in result.output
