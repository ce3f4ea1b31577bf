"""``modelport serve --multi-model DIR``: SageMaker MME's management API on a real server process, each model an
unmodified SageMaker ``inference.py`` with its own ``model_fn``, loaded in its own runtime process — forked from the
server when it runs as hosting's forked instance and is single-threaded, else a new process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.archive import pack_archive
from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.waiting import eventually

SCRIPT = '''
import json, os

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {"y": data["x"] * model["scale"], "name": model["name"], "pid": os.getpid()}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''

BROKEN = '''
def model_fn(model_dir):
    raise RuntimeError("this model cannot load")
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    write_model(store / "double", SCRIPT, {"weights.json": b'{"scale": 2, "name": "double"}'})
    triple = write_model(tmp_path_factory.mktemp("src") / "triple", SCRIPT,
                         {"weights.json": b'{"scale": 3, "name": "triple"}'})
    pack_archive(triple, store / "triple.tar.gz")
    write_model(store / "broken", BROKEN)
    with ModelServer(store, "--multi-model", str(store), home=tmp_path_factory.mktemp("home")) as running:
        yield running


def invoke(server, name: str, x: float):
    return server.client.post(f"/models/{name}/invoke", content=json.dumps({"x": x}),
                              headers={"Content-Type": "application/json"})


def test_load_list_invoke_unload_each_model_in_its_own_process(server):
    client = server.client
    assert client.get("/ping").status_code == 200  # healthy with no model loaded
    assert client.get("/models").json() == {"models": []}

    loaded = client.post("/models", json={"model_name": "d", "url": "double"})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == {"status": "Workers scaled"}
    by_query = client.post("/models", params={"model_name": "t", "url": str(server.model) + "/triple.tar.gz"})
    assert by_query.status_code == 200, by_query.text
    again = client.post("/models", json={"model_name": "d", "url": "double"})
    assert again.status_code == 409 and again.json()["message"] == "Model d is already registered."

    first_page = client.get("/models", params={"limit": 1}).json()
    assert first_page == {"models": [{"modelName": "d", "modelUrl": "double"}], "nextPageToken": "1"}
    assert client.get("/models", params={"limit": 1, "next_page_token": 1}).json()["models"][0]["modelName"] == "t"
    described = client.get("/models/d").json()
    assert described["modelName"] == "d" and described["memoryBytes"] > 10 * 1024 * 1024

    d, t = invoke(server, "d", 5).json(), invoke(server, "t", 5).json()
    assert (d["y"], d["name"], t["y"], t["name"]) == (10, "double", 15, "triple")
    assert len({d["pid"], t["pid"], server.process.pid}) == 3  # user code only in each model's own worker
    by_header = server.post(json.dumps({"x": 1}), **{"X-Amzn-SageMaker-Target-Model": "t"})
    assert by_header.json()["y"] == 3

    unloaded = client.delete("/models/d")
    assert unloaded.status_code == 200 and unloaded.json() == {"status": 'Model "d" unregistered'}
    gone = invoke(server, "d", 1)
    assert gone.status_code == 404
    assert gone.json() == {"code": 404, "type": "ModelNotFoundException", "message": "Model not found: d"}
    assert client.delete("/models/d").status_code == 404
    assert invoke(server, "t", 2).json()["y"] == 6  # the other model is unaffected

    os.kill(client.get("/models/t").json()["pid"], signal.SIGKILL)  # t's runtime dies: t is no longer loaded
    eventually(lambda: invoke(server, "t", 1).status_code == 404, 10, message="a dead model still answered")
    assert client.get("/models").json() == {"models": []}
    assert client.post("/models", json={"model_name": "t", "url": "triple.tar.gz"}).status_code == 200
    assert invoke(server, "t", 1).json()["y"] == 3


def test_a_model_that_cannot_load_fails_alone_and_bad_requests_say_why(server):
    client = server.client
    broken = client.post("/models", json={"model_name": "b", "url": "broken"})
    assert broken.status_code == 500 and "failed to load" in broken.json()["message"]
    assert client.get("/models/b").status_code == 404
    outside = client.post("/models", json={"model_name": "x", "url": "../../etc"})
    assert outside.status_code == 404 and "outside the model store" in outside.json()["message"]
    missing = client.post("/models", json={"model_name": "x", "url": "nothing-here"})
    assert missing.status_code == 404 and "not found" in missing.json()["message"]
    no_url = client.post("/models", json={"model_name": "x"})
    assert no_url.status_code == 400 and "url is required" in no_url.json()["message"]
    assert client.get("/models", params={"limit": 101}).status_code == 400
    assert client.get("/ping").status_code == 200


# A multi-model server as hosting's forked instance runs it (main with fork_workers=True), after the imports and
# the fork a template makes to leave it single-threaded; optionally with a thread started then.
FORKED_SERVER = ("import sys, threading\n"
                 "from modelport.runtime.__main__ import main\n"
                 "from modelport.runtime.template import settle\n"
                 "settle()\n"
                 "if sys.argv[1] == 'thread': threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
                 "sys.exit(main(sys.argv[2:], fork_workers=True))")


class ForkedServer(ModelServer):
    """The multi-model server started as hosting's forked instance runs it, with or without a thread."""

    def __init__(self, store, thread: bool, home) -> None:
        super().__init__(store, env={"SAGEMAKER_MULTI_MODEL": "true"}, home=home)
        self.thread = thread

    def start(self, wait: bool = True, timeout: float = 60) -> "ForkedServer":
        command = [sys.executable, "-c", FORKED_SERVER, "thread" if self.thread else "none", self.model,
                   "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if wait:
            self.wait_ready(timeout)
        return self


@pytest.mark.parametrize("thread", [False, True], ids=["single-threaded: forked", "a thread: new process"])
def test_models_are_forked_from_a_single_threaded_forked_server_else_started_anew(tmp_path, thread):
    write_model(tmp_path / "store" / "double", SCRIPT, {"weights.json": b'{"scale": 2, "name": "double"}'})
    with ForkedServer(tmp_path / "store", thread, tmp_path / "home") as server:
        assert server.client.post("/models", json={"model_name": "d", "url": "double"}).status_code == 200
        assert invoke(server, "d", 4).json()["y"] == 8
        runtime = server.client.get("/models/d").json()["pid"]
        assert os.getpgid(runtime) == runtime != os.getpgid(server.process.pid)  # its own process group
        forked = Path(f"/proc/{runtime}/cmdline").read_bytes() == Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert forked is not thread
        assert server.client.delete("/models/d").status_code == 200
        eventually(lambda: not Path(f"/proc/{runtime}").exists(), 10, message="an unloaded model's runtime still ran")
        server.stop()
        log = server.process.stderr.read()
    assert ("as a new process: this server has 2 threads and forks only while single-threaded" in log) is thread


def test_a_model_whose_port_another_program_took_loads_on_another_port(tmp_path, monkeypatch):
    """The model's runtime exits with PORT_IN_USE_EXIT when its port was taken after free_port() found it;
    the load starts it again on a new port instead of failing."""
    import asyncio
    import socket

    from modelport.runtime.multi_model import models

    write_model(tmp_path / "store" / "double", SCRIPT, {"weights.json": b'{"scale": 2, "name": "double"}'})
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    real_free_port, handed_out = models.free_port, []
    monkeypatch.setattr(models, "free_port", lambda: handed_out.append(taken if not handed_out else real_free_port())
                        or handed_out[-1])

    async def load_and_invoke():
        table = models.ModelTable(tmp_path / "store", load_timeout=60)
        model = await table.load("double", "double")
        try:
            answer = await model.pool.request("POST", "/invocations", [("content-type", "application/json")], b'{"x": 4}')
            return model.pool.port, json.loads(answer.body)
        finally:
            await table.unload("double")

    try:
        port, answer = asyncio.run(load_and_invoke())
    finally:
        squatter.close()
    assert handed_out[0] == taken and port == handed_out[1] != taken
    assert answer["y"] == 8
