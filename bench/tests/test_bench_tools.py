"""Checks of the benchmark's own tools on real processes and a real local HTTP server.

Part of `make test` (pytest's testpaths); alone: `.venv/bin/pytest bench/tests` from the repo root (needs wrk).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import load, probe, processes, report  # noqa: E402


def _server(status: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'[[0.25, 0.75]]'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status", [200, 500])
def test_wrk_script_counts_non_2xx(tmp_path, status):
    server = _server(status)
    body = tmp_path / "body.json"
    body.write_text("[[1.0, 2.0]]")
    try:
        point = load.run_wrk(f"http://127.0.0.1:{server.server_port}/", body, "application/json", 1, 1)
    finally:
        server.shutdown()
    assert point.requests > 0
    if status == 200:
        assert point.non2xx == 0 and point.errors == 0
    else:
        assert point.non2xx == point.requests and point.errors >= point.requests


def test_gate_compares_probabilities():
    reference = np.array([0.25, 0.75])
    parse = lambda body: __import__("json").loads(body)[0]  # noqa: E731
    assert probe.check(probe.Reply(200, b"[[0.25, 0.75]]"), parse, reference).ok
    wrong = probe.check(probe.Reply(200, b"[[0.75, 0.25]]"), parse, reference)
    assert not wrong.ok and wrong.max_abs_diff == pytest.approx(0.5)
    assert not probe.check(probe.Reply(500, b"boom"), parse, reference).ok
    assert not probe.check(probe.Reply(200, b"not json"), parse, reference).ok
    assert probe.check(probe.Reply(200, b"anything"), None, reference).ok  # the floor: any 2xx


@pytest.mark.parametrize("handled", [True, False])
def test_a_run_ended_by_sigterm_stops_the_servers_it_started(tmp_path, handled):
    # a bench run starts its servers in sessions of their own, so a SIGTERM to the run never reaches them: only
    # the run's own `finally` can stop them, and by default Python dies of SIGTERM without running it
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
        from benchlib import processes
        if {handled}:
            processes.stop_servers_on_sigterm()
        server = processes.start(processes.Launch([sys.executable, "-c", "import time; time.sleep(60)"], {{}}, "."),
                                 processes.Path({str(tmp_path / "server.log")!r}))
        try:
            print(server.pid, flush=True)
            time.sleep(60)
        finally:
            processes.stop(server, grace_seconds=5)
    """))
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    server = psutil.Process(int(run.stdout.readline()))
    try:
        run.terminate()
        assert run.wait(timeout=30) == (143 if handled else -15)
        stopped = not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
        assert stopped == handled  # unhandled: the server outlives the run (what this guards against)
    finally:
        if server.is_running():
            server.kill()


def test_stop_ends_the_whole_family_including_escaped_processes(tmp_path):
    # The parent starts one child in a session of its own (like BentoML's workers) and one orphan that
    # outlives its parent (like the Java front end `multi-model-server --start` leaves behind).
    script = tmp_path / "family.py"
    script.write_text(textwrap.dedent("""
        import subprocess, sys, time
        sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
        subprocess.Popen(sleep, start_new_session=True)
        subprocess.Popen([sys.executable, "-c",
                          "import subprocess, sys; subprocess.Popen(%r)" % (sleep,)])
        time.sleep(60)
    """))
    proc = processes.start(processes.Launch([sys.executable, str(script)], {}, tmp_path), tmp_path / "log")
    # settled when both sleepers run and the orphan's parent has exited (for a moment there are 4, or 3 others)
    deadline = time.monotonic() + 10
    family = []
    while time.monotonic() < deadline:
        family = processes.session_processes(proc.pid)
        try:
            sleepers = [m for m in family if m.pid != proc.pid and m.cmdline()[-1:] == ["import time; time.sleep(60)"]]
        except psutil.Error:  # one exited while we looked
            sleepers = []
        if len(family) == 3 and len(sleepers) == 2:
            break
        time.sleep(0.05)
    assert len(family) == 3
    assert processes.memory(proc.pid).rss_mib > 0
    processes.stop(proc, grace_seconds=5)
    for member in family:
        assert not member.is_running() or member.status() == psutil.STATUS_ZOMBIE


def _results(modelport_rps, peer_rps, p50=0.2, errors=0, batch_c64=8000, batch_p50=0.21, floor_c64=12000,
             peer_errors=0):
    def entry(rps, errors=0, p50=1.0):
        return {"ok": True, "title": "x", "points": [
            {"concurrency": c, "requests_per_s": r, "p50_ms": p50 if c == 1 else 5.0, "errors": errors}
            for c, r in zip((1, 16, 64), rps)]}
    return {"bare_work": {"p50_ms": 0.19}, "servers": {
        "modelport": entry(modelport_rps, errors, p50), "fastapi-async": entry(peer_rps, peer_errors),
        "fastapi-orjson": entry([1000, 2000, 2500]), "modelport-batch": entry([1200, 5000, batch_c64], 0, batch_p50),
        "floor": entry([5000, 10000, floor_c64])}}


def test_bar_verdict():
    peers = ["fastapi-async"]
    met = report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000]), peers)
    assert met["met"] and met["batching"]["best_peer_c64"] == "fastapi-orjson" and met["batching"]["ratio_c64"] == 3.2
    slow = report.bar_verdict(_results([1100, 2400, 2400], [1000, 2000, 2000]), peers)
    assert not slow["met"] and "c=1" in slow["reasons"][0]
    over_bare = report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000], p50=0.23), peers)
    assert not over_bare["met"] and "over the bare work" in over_bare["reasons"][0]
    assert not report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000], errors=1), peers)["met"]
    missing = report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000]), peers + ["mlserver"])
    assert not missing["met"] and any("not measured" in r for r in missing["reasons"])
    # batching: 3x the best peer's best configuration (FastAPI + orjson counts), half the floor, ≤ 0.03 ms at c=1
    assert "batching c=64: 2.80x" in report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000], batch_c64=7000),
                                                         peers)["reasons"][0]
    assert "of the HTTP floor" in report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000], floor_c64=17000),
                                                     peers)["reasons"][0]
    assert "batching costs 0.040 ms" in report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 2000], batch_p50=0.24),
                                                           peers)["reasons"][0]


def test_a_peer_answering_errors_is_not_the_best_peer():
    # a peer that answered 5x faster with errors (a server shedding load) does not set the bar
    verdict = report.bar_verdict(_results([1200, 2400, 2400], [1000, 2000, 12000], peer_errors=0), ["fastapi-async"])
    assert not verdict["met"]
    errored = _results([1200, 2400, 2400], [1000, 2000, 2000])
    errored["servers"]["fastapi-async"]["points"][2].update(requests_per_s=12000, errors=50)
    verdict = report.bar_verdict(errored, ["fastapi-async"])
    assert verdict["checks"][2]["best_peer"] is None and "c=64: no peer measured without errors" in verdict["reasons"]


def test_free_port_stays_below_mms_limit():
    assert all(20000 <= processes.free_port() < 32767 for _ in range(20))


@pytest.mark.parametrize(("cmdline", "kind"), [
    ("/repo/.venv/bin/python -m modelport gateway --port 8000", "gateway"),
    ("/repo/.venv/bin/python -m modelport hosting --port 8001", "hosting"),
    ("/repo/.venv/bin/python -m modelport.runtime /m/model.tar.gz --host 127.0.0.1 --port 9", "runtime"),
    ("/repo/.venv/bin/python -m modelport.runtime.worker --index 0 --model-dir /m", "runtime"),
    ("/repo/.venv/bin/python -m modelport serve /m --port 8080", "runtime"),
    ("/usr/bin/python3 -m http.server", None),
])
def test_cpu_per_request_tells_the_parts_apart(cmdline, kind):
    from cpu_per_request import kind_of

    assert kind_of(cmdline) == kind


def test_hosting_overhead_measures_both_paths_through_real_hosting(tmp_path):
    # The whole bench, shortened: real hosting in this process, one real instance, wrk on both paths.
    import json

    from hosting_overhead import main

    out = tmp_path / "overhead.json"
    assert main(["--duration", "1", "--concurrency", "1", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert 0 < results["create_to_in_service_s"] < 60
    point = results["c1"]
    for path in ("direct", "hosting"):
        assert point[path]["requests"] > 0 and point[path]["errors"] == 0, point
    assert point["hosting"]["hosting_cpu_us_per_request"] > 0
    assert point["added_p50_ms"] == round(point["hosting"]["p50"] - point["direct"]["p50"], 4)
