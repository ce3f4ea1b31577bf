"""``modelport serve`` under faults: workers killed by poison requests (``os._exit``, SIGKILL of
itself, a segfault) are restarted forever; a model that stops loading after it has served is
retried with back-off instead of stopping the server; one that cannot load at the first start
stops it with a clear message. Real server processes, real requests."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.waiting import eventually

POISON = """
    import ctypes, json, os, signal

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "attempts.txt"), "a") as f:
            f.write(f"{os.getpid()}\\n")
        if os.path.exists(os.path.join(model_dir, "refuse-to-load")):
            raise RuntimeError("refuse-to-load is present")
        return model_dir

    def input_fn(body, content_type):
        return json.loads(body)

    def predict_fn(data, model_dir):
        how = data.get("die")
        if how == "exit":
            os._exit(7)
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "segv":
            ctypes.string_at(0)
        if how == "break-loading":
            open(os.path.join(model_dir, "refuse-to-load"), "w").close()
            os._exit(7)
        return {"y": data.get("x", 0) * 2, "pid": os.getpid()}

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
"""


def attempts(model) -> int:
    """How many times model_fn ran (each worker start loads the model once)."""
    path = model / "attempts.txt"
    return len(path.read_text().split()) if path.exists() else 0


def test_serve_survives_many_worker_crashes_within_a_minute(tmp_path):
    model = write_model(tmp_path / "poison", POISON)
    with ModelServer(model, workers=1) as server:
        started = time.monotonic()
        crashes = 0
        for how in ["exit", "kill", "segv"] * 4:  # 12 crashes: the old limit stopped serve after 6
            with pytest.raises(httpx.TransportError):  # the worker owned the socket: the client sees it close
                server.post('{"die": "%s"}' % how)
            crashes += 1
            server.wait_ready(30)
        assert time.monotonic() - started < 60
        assert server.process.poll() is None
        assert server.post('{"x": 21}').json()["y"] == 42
        assert attempts(model) == 1 + crashes  # each crash cost one reload, nothing more
    _, stderr = server.process.communicate(timeout=30)
    assert stderr.count("while answering a request; restarting it") == crashes


def test_model_that_stops_loading_after_serving_is_retried_with_back_off(tmp_path):
    model = write_model(tmp_path / "flaky", POISON)
    with ModelServer(model, workers=1) as server:
        with pytest.raises(httpx.TransportError):
            server.post('{"die": "break-loading"}')
        # the first load, then three failed reloads (0.5 s, 1 s, 2 s apart)
        eventually(lambda: attempts(model) >= 4, 20, message="the model was not reloaded again and again")
        assert server.process.poll() is None  # never gives up
        ping = server.client.get("/ping")
        assert ping.status_code == 503 and ping.json()["error"] == "ModelNotReady"
        reloads_so_far = attempts(model)
        time.sleep(1.0)
        assert attempts(model) <= reloads_so_far + 1  # backing off, not spinning
        (model / "refuse-to-load").unlink()
        server.wait_ready(15)  # the next try (at most 4 s later) loads it
        assert server.post('{"x": 1}').json()["y"] == 2
    _, stderr = server.process.communicate(timeout=30)
    assert "could not load the model again" in stderr
    assert "refuse-to-load is present" in stderr


def test_model_that_cannot_load_at_the_first_start_stops_serve(tmp_path):
    model = write_model(tmp_path / "never", POISON)
    (model / "refuse-to-load").touch()
    server = ModelServer(model, workers=1).start(wait=False)
    code, stderr = server.wait_exit(60)
    assert code == 1
    assert "worker 0 could not load the model" in stderr and "refuse-to-load is present" in stderr
    assert attempts(model) == 1
