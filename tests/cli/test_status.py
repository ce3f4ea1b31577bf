"""``modelport status``: the traffic table from a real hosting's /metrics (requests/s, p50/p99, errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from tests.helpers.hosting import clients, deploy, make_archive, start_hosting


def modelport_status(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELPORT_HOME": str(home), "COLUMNS": "200"}
    env.pop("MODELPORT_HOSTING_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "modelport", "status", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_status_without_a_stack_or_a_url_says_so(tmp_path):
    result = modelport_status(tmp_path / "home")
    assert result.returncode == 1
    assert "modelport is not running" in result.stdout


def test_status_shows_each_endpoints_traffic_from_hostings_metrics(tmp_path):
    home = tmp_path / "home"
    server = start_hosting(home)
    stop = threading.Event()
    thread = None
    try:
        sm, rt = clients(server.url)
        deploy(sm, "busy", str(make_archive(tmp_path)))

        def load() -> None:
            while not stop.is_set():
                rt.invoke_endpoint(EndpointName="busy", Body=json.dumps({"x": 1}).encode(), ContentType="application/json")

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        result = modelport_status(home, "--hosting-url", server.url, "--interval", "1")
    finally:
        stop.set()
        if thread is not None:
            thread.join(30)  # its last call ends before hosting stops
        server.stop()
    assert result.returncode == 0, result.stderr
    assert "requests/s" in result.stdout and "p99 ms" in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if " busy " in f" {line} "]
    cells = [cell.strip() for cell in row.replace("│", "|").split("|") if cell.strip()]
    assert cells[0] == "busy"
    assert float(cells[1]) > 5  # requests/s while the load ran
    assert float(cells[2]) > 0 and float(cells[3]) >= float(cells[2])  # p50 <= p99, in ms
    assert cells[5] == "0.0%" and cells[6] == "0.0%"  # no errors
