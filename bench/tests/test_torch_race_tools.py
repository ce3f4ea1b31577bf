"""Checks of the PyTorch race's own tools: extra request headers through wrk, the memory check after N requests
(on a real server process), the per-format verdict, the plot, and Triton's binary body.

Part of `make test`; alone: `.venv/bin/pytest bench/tests` from the repo root (needs wrk; no peer environments, no
torch model).
"""
from __future__ import annotations

import json
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import endurance, load, plots, processes, torch_report  # noqa: E402
from benchlib.torch_servers import TORCH_SERVERS, _triton_binary, _triton_header  # noqa: E402

# A server that answers 200 only when the request carries X-Bench: yes (else 400), in a process of its own.
SERVER = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = 200 if self.headers.get("X-Bench") == "yes" else 400
            body = b'{"ok": true}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
""")


@pytest.fixture(scope="module")
def header_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("header-server")
    (folder / "server.py").write_text(SERVER)
    port = processes.free_port()
    proc = processes.start(processes.Launch([sys.executable, str(folder / "server.py"), str(port)], {}, folder),
                           folder / "log")
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(urllib.request.Request(url, data=b"x", headers={"X-Bench": "yes"}), timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    body = folder / "body"
    body.write_bytes(b"[1]")
    yield proc, url, body
    processes.stop(proc, grace_seconds=2)


def test_wrk_sends_extra_headers(header_server):
    _, url, body = header_server
    with_header = load.run_wrk(url, body, "application/json", 2, 1, headers={"X-Bench": "yes"})
    without = load.run_wrk(url, body, "application/json", 2, 1)
    assert with_header.requests > 0 and with_header.errors == 0
    assert without.requests > 0 and without.non2xx == without.requests


def test_memory_check_sends_at_least_the_target_and_reads_the_family(header_server):
    proc, url, body = header_server
    result = endurance.rss_after_requests(url, body, "application/json", proc.pid, target=300, concurrency=2,
                                          headers={"X-Bench": "yes"}, first_chunk_s=1)
    assert result["requests"] >= 300 and result["reached_target"] and result["errors"] == 0
    assert result["rss_before_mib"] > 0 and result["rss_after_mib"] > 0
    assert result["ok"] == (result["rss_growth"] < endurance.GROWTH_BAR)


def _entry(title: str, rps: dict[int, float], p50_c1: float = 1.0, errors: int = 0) -> dict:
    return {"ok": True, "title": title, "config": "", "versions": {}, "cold_start_s": 1.0,
            "points": [{"concurrency": c, "requests_per_s": r, "p50_ms": p50_c1 if c == 1 else 5.0,
                        "p99_ms": 9.0, "errors": errors} for c, r in rps.items()]}


def _results(batch_json: dict[int, float], batch_p50: float = 1.02) -> dict:
    return {"run_id": "test", "settings": {"duration_s": 1}, "machine": {"cores": 2}, "servers": {
        "modelport": _entry("modelport", {1: 900, 64: 1000}, p50_c1=1.0),
        "modelport-batch": _entry("modelport batching", batch_json, p50_c1=batch_p50),
        "fastapi": _entry("FastAPI", {1: 500, 64: 600}),
        "triton-binary": _entry("Triton binary", {1: 5000, 64: 9000}),  # binary: never compared with JSON rows
    }}


def test_verdict_compares_json_rows_with_json_rows():
    peers = ["fastapi", "triton-binary"]
    met = torch_report.bar_verdict(_results({1: 760, 64: 1250}), peers)
    assert met["met"], met["reasons"]
    assert met["formats"]["json"]["checks"][0]["best_peer"] == "fastapi"
    assert met["formats"]["json"]["batching_p50_cost_ms"] == pytest.approx(0.02)
    slow = torch_report.bar_verdict(_results({1: 700, 64: 1250}), peers)
    assert not slow["met"] and any("c=1" in r for r in slow["reasons"])
    costly = torch_report.bar_verdict(_results({1: 760, 64: 1250}, batch_p50=1.05), peers)
    assert not costly["met"] and any("batching costs" in r for r in costly["reasons"])
    missing = torch_report.bar_verdict(_results({1: 760, 64: 1250}), peers + ["rayserve"])
    assert not missing["met"] and any("rayserve" in r for r in missing["reasons"])


def test_plot_is_written(tmp_path):
    out = plots.plot_race(_results({1: 760, 64: 1250}), ["modelport", "modelport-batch", "fastapi"], "test",
                          tmp_path / "race.png")
    assert out == tmp_path / "race.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_triton_binary_body_is_header_plus_raw_float32():
    sample = [i / 784 for i in range(784)]
    body = _triton_binary(sample)
    header = _triton_header()
    assert body[:len(header)] == header and len(body) == len(header) + 784 * 4
    assert json.loads(header)["inputs"][0]["parameters"]["binary_data_size"] == 784 * 4
    assert TORCH_SERVERS["triton-binary"].headers == {"Inference-Header-Content-Length": str(len(header))}
