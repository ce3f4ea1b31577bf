"""``modelport up --detach`` from a clean MODELPORT_HOME, every route, ``down``, and a fast second ``up``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np

from tests.helpers.processes import free_port, processes_of_home
from tests.helpers.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


def _modelport(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "modelport", *args], env=env, capture_output=True, text=True, timeout=timeout)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_up_serves_every_route_goes_down_cleanly_and_comes_back_without_retraining(tmp_path):
    home = tmp_path / "home"
    port, hosting_port = free_port(), free_port()
    args = ("up", "--detach", "--fast", "--port", str(port), "--hosting-port", str(hosting_port))
    first = _modelport(home, *args)
    assert first.returncode == 0, first.stderr + first.stdout
    assert f"http://127.0.0.1:{port}" in first.stdout
    record = json.loads((home / "stack.json").read_text())
    gateway = record["gateway"]
    try:
        assert httpx.get(gateway + "/health").json()["status"] == "ok"
        models = {m["name"]: m for m in httpx.get(gateway + "/models").json()["models"]}
        assert {"mnist-sklearn", "mnist-pytorch", "sentiment"} <= set(models)
        assert all(m["status"] == "InService" for m in models.values())
        digit = np.zeros((28, 28))
        digit[6:22, 13:15] = 1.0  # a plain vertical stroke
        for name in ("mnist-sklearn", "mnist-pytorch"):
            answer = httpx.post(f"{gateway}/predict/{name}", json={"pixels": digit.ravel().tolist()}).json()
            assert len(answer["predictions"][0]["probabilities"]) == 10 and answer["endpoint"] == name
        sentiment = httpx.post(f"{gateway}/predict/sentiment", json={"text": "I love this, what a wonderful day"}).json()
        assert sentiment["predictions"][0]["label"] in ("negative", "neutral", "positive")
        passthrough = httpx.post(f"{gateway}/invoke/sentiment", content=b'{"text": "awful"}', headers={"Content-Type": "application/json"})
        assert passthrough.status_code == 200 and "predictions" in passthrough.json()
        if "chat" in record["endpoints"]:
            chat = httpx.post(f"{gateway}/chat", json={"messages": [{"role": "user", "content": "hello"}], "maxTokens": 8}, timeout=60)
            assert chat.status_code == 200 and isinstance(chat.json()["reply"], str)
            completion = httpx.post(f"{gateway}/v1/chat/completions", json={"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}, timeout=60)
            assert completion.status_code == 200 and completion.json()["choices"][0]["message"]["role"] == "assistant"
        assert httpx.get(f"{gateway}/v1/models").status_code == (200 if "chat" in record["endpoints"] else 503)
        assert httpx.get(f"{gateway}/docs").status_code == 200
        if record.get("page"):
            page = httpx.get(record["page"])
            assert page.status_code == 200 and "<html" in page.text.lower()
        assert _modelport(home, "status").returncode == 0
    finally:
        down = _modelport(home, "down", timeout=120)
    assert down.returncode == 0 and "down" in down.stdout
    eventually(lambda: not processes_of_home(home), 20, 0.2, message=lambda: f"still running: {processes_of_home(home)}")
    assert processes_of_home(home) == []
    assert _port_free(port) and _port_free(hosting_port)
    assert _modelport(home, "status").returncode == 1

    second = _modelport(home, *args)
    try:
        assert second.returncode == 0, second.stderr + second.stdout
        second_run = (home / "logs" / "stack.log").read_text().split("stopped.")[-1]
        assert "modelport training" not in second_run
        assert second_run.count("unchanged") == len(record["endpoints"])
        answer = httpx.post(f"{gateway}/predict/sentiment", json={"text": "terrible"}).json()
        assert answer["predictions"][0]["label"] in ("negative", "neutral", "positive")
    finally:
        assert _modelport(home, "down", timeout=120).returncode == 0

    # Make one archive stale: the next up retrains only it and updates its restored endpoint.
    (home / "bundled" / "sentiment" / "fingerprint.txt").write_text("built from older code\n")
    third = _modelport(home, *args)
    try:
        assert third.returncode == 0, third.stderr + third.stdout
        third_run = (home / "logs" / "stack.log").read_text().split("stopped.")[-1]
        assert [line for line in third_run.splitlines() if "modelport training" in line] == ["modelport training sentiment (fast) ..."]
        assert third_run.count("unchanged") == len(record["endpoints"]) - 1
        assert "updated" in third_run
    finally:
        assert _modelport(home, "down", timeout=120).returncode == 0
    assert processes_of_home(home) == []


def test_up_refuses_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        result = _modelport(tmp_path / "home", "up", "--fast", "--port", str(busy), "--hosting-port", str(free_port()), timeout=120)
    assert result.returncode == 1
    assert f"port {busy}" in result.stdout + result.stderr and "--port" in result.stdout + result.stderr
