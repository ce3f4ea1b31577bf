"""`modelport gateway` as a real process (modelport's HTTP server) → real boto3 → the SageMaker-Runtime stand-in for
hosting, through real HTTP on 127.0.0.1: predictions, bad input, CORS, API keys and throttling."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.helpers.processes import free_port, stop, wait_until_up
from tests.helpers.standin_runtime import answer_json, mnist_answer

SITE = "http://localhost:5173"
PIXELS = [0.0] * 784


def gateway_env(standin_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELPORT_", "AWS_", "MNIST_", "SENTIMENT_", "ALLOWED_"))}
    env.update(
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=standin_url, MNIST_SKLEARN_ENDPOINT="mnist-sk",
        ALLOWED_ORIGINS=SITE, MODELPORT_API_KEYS="e2e-key", MODELPORT_RATE_LIMIT="1/min:3",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def standin_behaviours():
    return {"mnist-sk": answer_json(mnist_answer(2))}


@pytest.fixture(scope="module")
def gateway_url(standin, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "gateway", "--port", str(port)],
        env=gateway_env(standin.url), stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/health", proc, log.read_text)
    yield url
    stop(proc, grace=10)
    # stopped by SIGTERM within the grace period (not SIGKILLed after it)
    assert proc.returncode in (0, -15)
    output = log.read_text()
    assert "Traceback" not in output and "mnist-sklearn" in output


def test_gateway_process_end_to_end(gateway_url, standin):
    key = {"x-api-key": "e2e-key", "origin": SITE}
    ok = httpx.post(f"{gateway_url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers=key)
    assert ok.status_code == 200, ok.text
    assert ok.json()["predictions"][0]["label"] == 2 and ok.json()["endpoint"] == "mnist-sk"
    assert ok.headers["access-control-allow-origin"] == SITE and ok.headers["x-request-id"]

    bad = httpx.post(f"{gateway_url}/predict/mnist-sklearn", json={"pixels": [3]}, headers=key)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "pixels"
    assert bad.headers["access-control-allow-origin"] == SITE

    assert httpx.post(f"{gateway_url}/predict/mnist-sklearn", json={"pixels": PIXELS}).status_code == 401
    preflight = httpx.options(f"{gateway_url}/predict/mnist-sklearn", headers={"origin": SITE, "access-control-request-method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == SITE

    third = httpx.post(f"{gateway_url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers=key)
    assert third.status_code == 200  # burst of 3: ok, bad, third
    throttled = httpx.post(f"{gateway_url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers=key)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    assert throttled.json()["error"]["code"] == "throttled"


def test_gateway_refuses_bad_configuration_and_a_taken_port(standin):
    bad = subprocess.run(
        [sys.executable, "-m", "modelport", "gateway", "--port", str(free_port())],
        env=gateway_env(standin.url, MODELPORT_ROUTES="oops"), capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "MODELPORT_ROUTES" in bad.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "modelport", "gateway", "--port", str(port)],
            env=gateway_env(standin.url), capture_output=True, text=True, timeout=60,
        )
    assert busy.returncode == 1 and "already in use" in busy.stderr


def test_gateway_with_two_worker_processes(standin, tmp_path):
    port = free_port()
    log = tmp_path / "gateway.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "gateway", "--port", str(port), "--workers", "2"],
        env=gateway_env(standin.url, MODELPORT_RATE_LIMIT="off"), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/health", proc, log.read_text)
        for _ in range(6):
            response = httpx.post(f"{url}/predict/mnist-sklearn", json={"pixels": PIXELS}, headers={"x-api-key": "e2e-key"})
            assert response.status_code == 200 and response.json()["predictions"][0]["label"] == 2
    finally:
        stop(proc, grace=20)
    assert "Traceback" not in log.read_text()
