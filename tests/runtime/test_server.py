"""``modelport serve`` end to end: real server processes on 127.0.0.1, real HTTP requests."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.waiting import eventually

ECHO_SCRIPT = """
    import json, os, time
    from sagemaker_inference import errors

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "loads.txt"), "a") as f:
            f.write(f"{os.getpid()}\\n")
        return {"factor": 2}

    def input_fn(body, content_type):
        return {"body": body, "type": type(body).__name__, "content_type": content_type}

    def predict_fn(data, model):
        if data["content_type"] != "application/json":
            return {"raw_type": data["type"], "content_type": data["content_type"], "length": len(data["body"])}
        request = json.loads(data["body"])
        if request.get("sleep"):
            time.sleep(request["sleep"])
        if request.get("client_error"):
            raise errors.GenericInferenceToolkitError(400, "x must be a number")
        if request.get("crash"):
            raise RuntimeError("the model fell over")
        if request.get("exit"):
            os._exit(9)
        return {"y": request["x"] * model["factor"], "type": data["type"], "pid": os.getpid()}

    def output_fn(prediction, accept):
        return json.dumps(prediction), "application/json"
"""


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    model = write_model(tmp_path_factory.mktemp("echo"), ECHO_SCRIPT)
    env = {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1", "SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "1"}
    with ModelServer(model, workers=2, env=env) as server:
        yield server, model


def test_ping_and_execution_parameters(echo_server):
    server, _ = echo_server
    assert server.client.get("/ping").status_code == 200
    params = server.client.get("/execution-parameters").json()
    assert params == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 1}


def test_json_body_reaches_input_fn_as_str_also_with_charset(echo_server):
    server, _ = echo_server
    plain = server.post('{"x": 21}')
    assert plain.status_code == 200 and plain.json()["y"] == 42 and plain.json()["type"] == "str"
    assert plain.headers["content-type"] == "application/json"
    charset = server.post('{"x": 1}', content_type="application/json; charset=utf-8")
    assert charset.json() == {"y": 2, "type": "str", "pid": charset.json()["pid"]}


def test_other_bodies_reach_input_fn_as_bytes(echo_server):
    server, _ = echo_server
    answer = server.post(b"\x89PNG\r\n", content_type="image/png").json()
    assert answer == {"raw_type": "bytes", "content_type": "image/png", "length": 6}
    csv = server.post("1,2,3", content_type="text/csv").json()
    assert csv["raw_type"] == "str"


def test_model_fn_runs_exactly_once_per_worker(echo_server):
    server, model = echo_server
    pids = {server.post('{"x": 1}').json()["pid"] for _ in range(40)}
    loads = (model / "loads.txt").read_text().split()
    assert len(loads) == 2 and len(set(loads)) == 2
    assert pids <= set(int(p) for p in loads)


def test_client_error_keeps_its_status(echo_server):
    server, _ = echo_server
    response = server.post('{"client_error": true}')
    assert response.status_code == 400
    assert response.json() == {"error": "BadRequest", "message": "x must be a number"}


def test_exception_is_500_with_message_and_the_worker_survives(echo_server):
    server, _ = echo_server
    response = server.post('{"crash": true}')
    assert response.status_code == 500
    assert response.json() == {"error": "ModelError", "message": "RuntimeError: the model fell over"}
    assert server.post('{"x": 5}').json()["y"] == 10


def test_payload_over_the_limit_is_413_and_the_connection_recovers(echo_server):
    server, _ = echo_server
    big = b"[" + b"1," * 600_000 + b"1]"  # ~1.2 MB, limit is 1 MB
    response = server.post(big)
    assert response.status_code == 413
    assert "1 MB limit" in response.json()["message"]
    assert server.post('{"x": 3}').json()["y"] == 6


def test_slow_prediction_is_504_and_the_worker_serves_the_next_request(echo_server):
    server, _ = echo_server
    response = server.post('{"sleep": 3}')
    assert response.status_code == 504
    assert response.json()["error"] == "Timeout"
    assert "1 s" in response.json()["message"]
    assert server.post('{"x": 4}').json()["y"] == 8


def test_worker_that_dies_is_restarted(echo_server):
    server, _ = echo_server
    before = set(server.worker_pids())
    with pytest.raises(httpx.TransportError):
        server.post('{"exit": true}')
    # Until the supervisor has seen the exit, the surviving worker still answers /ping 200 for both;
    # "came back" is a new worker process and every worker serving.
    back = lambda: bool(set(server.worker_pids()) - before) and server.client.get("/ping").status_code == 200
    eventually(back, 30, 0.1, message="no worker came back")
    assert server.client.get("/ping").status_code == 200
    # the supervisor watches each worker's exit through one pidfd: the dead worker's was closed, not leaked
    fds = Path(f"/proc/{server.process.pid}/fd")
    assert sorted(os.readlink(fd) for fd in fds.iterdir()).count("anon_inode:[pidfd]") == 2
    assert all(server.post('{"x": 1}').status_code == 200 for _ in range(10))


def test_unknown_route_and_wrong_method(echo_server):
    server, _ = echo_server
    missing = server.client.get("/nope")
    assert missing.status_code == 404 and "POST /invocations" in missing.json()["message"]
    wrong = server.client.get("/invocations")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


def _raw_exchange(port: int, payload: bytes, expect_responses: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        while data.count(b"HTTP/1.1 ") < expect_responses or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def test_pipelined_requests_are_answered_in_order(echo_server):
    server, _ = echo_server
    one = b'{"x": 1}'
    two = b'{"x": 2}'
    request = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
    data = _raw_exchange(server.port, request % (len(one), one) + request % (len(two), two), 2)
    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b'"y": 2') < data.index(b'"y": 4')


def test_malformed_request_is_400(echo_server):
    server, _ = echo_server
    data = _raw_exchange(server.port, b"BLAH /ping HTTP/1.1\r\n\r\n", 1)
    assert data.startswith(b"HTTP/1.1 400")
    assert b"Malformed HTTP request" in data


def test_expect_continue_is_honoured(echo_server):
    server, _ = echo_server
    body = b'{"x": 7}'
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer = b""
        while not answer.endswith(b"}"):
            answer += sock.recv(4096)
    assert b'"y": 14' in answer


def test_chunked_request_body_is_accepted(echo_server):
    server, _ = echo_server
    response = server.client.post("/invocations", content=iter([b'{"x":', b" 8}"]), headers={"Content-Type": "application/json"})
    assert response.json()["y"] == 16


# --- scikit-learn defaults -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sklearn_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("sk")
    rng = np.random.default_rng(0)
    features = rng.random((60, 4))
    model = LogisticRegression().fit(features, (features[:, 0] > 0.5).astype(int))
    joblib.dump(model, root / "model.joblib")
    write_model(root, """
        import os, joblib
        def model_fn(model_dir):
            return joblib.load(os.path.join(model_dir, "model.joblib"))
    """)
    with ModelServer(root) as server:
        yield server, model


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array))
    return buffer.getvalue()


def test_sklearn_defaults_across_content_types(sklearn_server):
    server, model = sklearn_server
    rows = [[0.9, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4]]
    expected = model.predict(np.array(rows)).tolist()
    assert server.post(json.dumps(rows)).json() == expected
    assert server.post("0.9,0.1,0.1,0.1\n0.1,0.2,0.3,0.4", content_type="text/csv").json() == expected
    npy = server.post(_npy(rows), content_type="application/x-npy", accept="application/x-npy")
    assert npy.headers["content-type"] == "application/x-npy"
    assert np.load(io.BytesIO(npy.content)).tolist() == expected
    csv = server.post(json.dumps(rows), accept="text/csv")
    assert csv.headers["content-type"] == "text/csv" and csv.text == "".join(f"{v}\n" for v in expected)


def test_sklearn_single_row_is_reshaped(sklearn_server):
    server, model = sklearn_server
    assert server.post("0.9,0.1,0.1,0.1", content_type="text/csv").json() == model.predict([[0.9, 0.1, 0.1, 0.1]]).tolist()
    assert server.post("[0.1, 0.2, 0.3, 0.4]").json() == model.predict([[0.1, 0.2, 0.3, 0.4]]).tolist()


def test_accept_wildcard_missing_and_lists(sklearn_server):
    server, _ = sklearn_server
    assert server.post("[[0.1,0.2,0.3,0.4]]", accept="*/*").headers["content-type"] == "application/json"
    assert server.post("[[0.1,0.2,0.3,0.4]]", accept=None).headers["content-type"] == "application/json"
    listed = server.post("[[0.1,0.2,0.3,0.4]]", accept="text/html, text/csv, application/json")
    assert listed.headers["content-type"] == "text/csv"


def test_unsupported_types_are_415_and_406_and_name_what_is_supported(sklearn_server):
    server, _ = sklearn_server
    unsupported = server.post(b"\x00", content_type="image/png")
    assert unsupported.status_code == 415
    assert unsupported.json()["error"] == "UnsupportedMediaType"
    assert "application/json, text/csv, application/x-npy" in unsupported.json()["message"]
    unacceptable = server.post("[[0.1,0.2,0.3,0.4]]", accept="text/html")
    assert unacceptable.status_code == 406
    assert "application/json, text/csv, application/x-npy" in unacceptable.json()["message"]
    bad_json = server.post("[[0.1,", content_type="application/json")
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["message"]


# --- start-up behaviour --------------------------------------------------------------------


def test_ping_is_503_until_every_worker_has_loaded(tmp_path):
    model = write_model(tmp_path / "slow", """
        import time
        def model_fn(model_dir):
            time.sleep(2)
            return "model"
        def predict_fn(data, model):
            return [1]
    """)
    server = ModelServer(model).start(wait=False)
    try:
        first = eventually(lambda: [httpx.get(server.url + "/ping", timeout=2)], 10, ignore=(httpx.TransportError,),
                           message="the server never answered")[0]
        assert first is not None and first.status_code == 503
        assert first.json()["error"] == "ModelNotReady"
        early = httpx.post(server.url + "/invocations", content="[1]", headers={"Content-Type": "application/json"})
        assert early.status_code == 503
        server.wait_ready(30)
        assert server.post("[1]").json() == [1]
    finally:
        server.stop()


def test_failing_model_fn_stops_the_server_with_the_traceback(tmp_path):
    model = write_model(tmp_path / "broken", """
        def model_fn(model_dir):
            raise FileNotFoundError("weights.bin is missing")
    """)
    server = ModelServer(model, workers=2).start(wait=False)
    code, stderr = server.wait_exit(60)
    assert code != 0
    assert "Traceback" in stderr and "weights.bin is missing" in stderr
    assert server.worker_pids() == []


def test_missing_module_names_the_paths_looked_at(tmp_path):
    model = write_model(tmp_path / "nocode", None, {"model.joblib": b"x"})
    server = ModelServer(model, env={"SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path / "elsewhere")}).start(wait=False)
    code, stderr = server.wait_exit(60)
    assert code == 1
    assert str(model / "code" / "inference.py") in stderr
    assert str(tmp_path / "elsewhere" / "inference.py") in stderr


def test_transform_fn_with_input_fn_is_refused(tmp_path):
    model = write_model(tmp_path / "both", """
        def model_fn(d): return 1
        def input_fn(b, c): return b
        def transform_fn(model, data, content_type, accept): return data
    """)
    code, stderr = ModelServer(model).start(wait=False).wait_exit(60)
    assert code == 1 and "transform_fn together with input_fn" in stderr


def test_port_in_use_is_a_clear_error(tmp_path):
    model = write_model(tmp_path / "m", "def model_fn(d): return 1\ndef predict_fn(x, m): return x\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = ModelServer(model)
        server.port = taken.getsockname()[1]
        code, stderr = server.start(wait=False).wait_exit(30)
    # its own exit code, so hosting can tell a port someone took from a model that fails to start
    from modelport.process import PORT_IN_USE_EXIT

    assert code == PORT_IN_USE_EXIT and "Cannot listen on 127.0.0.1" in stderr and "--port" in stderr


def test_sigterm_stops_supervisor_and_workers(tmp_path):
    model = write_model(tmp_path / "m", "def model_fn(d): return 1\ndef predict_fn(x, m): return x.tolist()\n")
    server = ModelServer(model, workers=2).start()
    workers = server.worker_pids()
    assert len(workers) == 2
    assert server.stop() == 0
    time.sleep(0.2)
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_killed_worker_is_replaced(tmp_path):
    model = write_model(tmp_path / "m", "def model_fn(d): return 1\ndef predict_fn(x, m): return x.tolist()\n")
    with ModelServer(model, workers=2) as server:
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)

        def replaced() -> bool:
            pids = server.worker_pids()
            return len(pids) == 2 and victim not in pids and server.client.get("/ping").status_code == 200

        eventually(replaced, 30, 0.1, message=lambda: f"workers {server.worker_pids()} (killed {victim})")
        assert victim not in server.worker_pids() and len(server.worker_pids()) == 2
        assert server.post("[1, 2]").json() == [1, 2]


def test_serves_a_packed_archive(tmp_path):
    from modelport.archive.pack import pack_archive

    source = write_model(tmp_path / "src", "def model_fn(d): return 3\ndef predict_fn(x, m): return (x * m).tolist()\n")
    archive = pack_archive(source, tmp_path / "model.tar.gz")
    with ModelServer(archive, home=tmp_path / "home") as server:
        assert server.post("[1, 2]").json() == [3, 6]
    assert any((tmp_path / "home" / "models").iterdir())


def test_workers_do_not_outlive_a_killed_supervisor(tmp_path):
    model = write_model(tmp_path / "m", "def model_fn(d): return 1\ndef predict_fn(x, m): return x.tolist()\n")
    server = ModelServer(model, workers=2).start()
    workers = server.worker_pids()
    server.process.kill()
    server.process.wait()

    def alive() -> list[int]:
        return [pid for pid in workers if os.path.exists(f"/proc/{pid}") and "Z" not in open(f"/proc/{pid}/stat").read().split()[2]]

    eventually(lambda: not alive(), 10, message=lambda: f"workers {alive()} outlived the supervisor")
    assert alive() == []


def test_worker_stuck_where_the_timeout_cannot_reach_is_replaced(tmp_path):
    # Blocking SIGALRM stands in for native code that never returns to Python.
    model = write_model(tmp_path / "stuck", """
        import signal, time
        def model_fn(d): return 1
        def predict_fn(x, m):
            if x.tolist() == ["hang"]:
                signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
                time.sleep(60)
            return x.tolist()
    """)
    with ModelServer(model, env={"SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS": "1"}) as server:
        victim = server.worker_pids()
        started = time.monotonic()
        with pytest.raises(httpx.TransportError):
            server.post('["hang"]')
        assert time.monotonic() - started < 30
        server.wait_ready(30)
        assert server.worker_pids() != victim
        assert server.post("[1]").json() == [1]


def test_connections_are_shared_between_workers(tmp_path):
    # 16 keep-alive connections opened at once must not all land on one worker (one idle core).
    model = write_model(tmp_path / "pid", """
        import os
        def model_fn(d): return None
        def transform_fn(model, data, content_type, accept): return str(os.getpid()), "text/plain"
    """)
    with ModelServer(model, workers=2) as server:
        connections = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(16)]
        try:
            owners = []
            for conn in connections:
                conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                owners.append(conn.recv(1000).split(b"\r\n\r\n", 1)[1])
        finally:
            for conn in connections:
                conn.close()
    counts = sorted(owners.count(owner) for owner in set(owners))
    assert len(counts) == 2 and counts[0] >= 4, counts


def test_lean_entry_point_serves_like_the_cli(tmp_path):
    import subprocess
    import sys

    from tests.helpers.processes import free_port, stop, wait_until_up

    model = write_model(tmp_path / "m", "def model_fn(d): return 1\ndef predict_fn(x, m): return x.tolist()\n")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "modelport.runtime", str(model), "--port", str(port), "--workers", "1"])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", process, lambda: "(output on the console)")
        answer = httpx.post(f"http://127.0.0.1:{port}/invocations", content="[4]", headers={"Content-Type": "application/json"})
        assert answer.json() == [4]
    finally:
        assert stop(process, grace=20) == 0
