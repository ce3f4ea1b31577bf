"""``python -m modelport.stack.services`` (what ``modelport up`` runs): hosting and the gateway in one real process.

The gateway answers through hosting's Runtime API in process; SIGTERM stops both and every instance; a gateway
port already taken, or a bad gateway setting, stops the process with its own exit code and leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from modelport.process import PORT_IN_USE_EXIT
from modelport.stack.services import CONFIG_ERROR_EXIT
from tests.helpers.hosting import clients, deploy, make_archive, remember_token
from tests.helpers.processes import free_port, processes_of_home, stop, wait_until_up
from tests.helpers.waiting import eventually


class Services:
    """The service process with its state in ``root/home`` and its output in ``root/services.log``."""

    def __init__(self, root: Path, gateway_port: int | None = None, **env: str) -> None:
        self.home = root / "home"
        self.log = root / "services.log"
        self.hosting_port = free_port()
        self.gateway_port = gateway_port or free_port()
        self.env = {**os.environ, "MODELPORT_HOME": str(self.home), "MODELPORT_MODEL_ROOTS": str(root),
                    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.hosting_url, "MODELPORT_INVOKE_ENDPOINTS": "tiny",
                    "MODELPORT_RUNTIME_CLIENT": "auto", **env}
        self.process: subprocess.Popen | None = None

    @property
    def hosting_url(self) -> str:
        return f"http://127.0.0.1:{self.hosting_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self) -> "Services":
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "modelport.stack.services", "--hosting-port", str(self.hosting_port),
                 "--gateway-port", str(self.gateway_port)], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def test_the_gateway_answers_through_hosting_in_process_and_sigterm_stops_everything(tmp_path):
    services = Services(tmp_path).start()
    try:
        wait_until_up(services.gateway_url + "/health", services.process, services.output)
        assert "SageMaker Runtime API: in-process" in services.output()
        sm, _ = clients(services.hosting_url, token=remember_token(services.hosting_url, services.home))
        deploy(sm, "tiny", str(make_archive(tmp_path / "tiny")))
        answer = httpx.post(services.gateway_url + "/invoke/tiny", content=b'{"x": 21}',
                            headers={"Content-Type": "application/json"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["y"] == 42.0
        refused = httpx.post(services.gateway_url + "/invoke/tiny", content=b'{"fail": true, "x": 5}',
                             headers={"Content-Type": "application/json"}, timeout=30)
        assert refused.status_code == 400 and "bad x: 5" in refused.text, "the model's own 400 comes through"
        # hosting keeps its own gate on its own port: no token, no answer
        assert httpx.post(services.hosting_url + "/endpoints/tiny/invocations", content=b"{}").status_code == 403
        assert set(processes_of_home(services.home)) - {services.process.pid}, "the endpoint's instance runs"
    finally:
        services.process.send_signal(signal.SIGTERM)
        code = services.process.wait(timeout=60)
    assert code == 0, services.output()
    eventually(lambda: not processes_of_home(services.home), 20,
               message=lambda: f"left running: {processes_of_home(services.home)}")


def test_a_taken_gateway_port_stops_hosting_too_with_exit_98(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        services = Services(tmp_path, gateway_port=taken.getsockname()[1]).start()
        try:
            code = services.process.wait(timeout=60)
        finally:
            stop(services.process)
    assert code == PORT_IN_USE_EXIT, services.output()
    assert f"cannot listen on 127.0.0.1:{services.gateway_port} for the gateway" in services.output()
    with socket.socket() as sock:  # hosting let its port go
        sock.bind(("127.0.0.1", services.hosting_port))


@pytest.mark.parametrize(("variable", "value"), [("MODELPORT_RATE_LIMIT", "lots"), ("MODELPORT_BACKEND_TIMEOUT", "soon")])
def test_a_bad_gateway_setting_is_exit_2_with_the_setting_named(tmp_path, variable, value):
    services = Services(tmp_path, **{variable: value}).start()
    try:
        code = services.process.wait(timeout=60)
    finally:
        stop(services.process)
    assert code == CONFIG_ERROR_EXIT, services.output()
    assert "gateway configuration error" in services.output() and variable in services.output()
