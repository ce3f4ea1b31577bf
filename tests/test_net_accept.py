"""Accepting when file descriptors run out: a runtime worker limited to 200 open files, flooded with 400
connections, must back off instead of spinning a core on accept(), then recover once clients leave."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from net_helpers import child_pids, cpu_seconds, runtime_server

pytestmark = pytest.mark.timeout(120)


def test_out_of_file_descriptors_the_acceptor_backs_off_and_recovers(tmp_path):
    # long header timeout: the flood's idle connections stay open while the CPU is measured
    server = runtime_server(tmp_path, MODELPORT_HTTP_HEADER_TIMEOUT="60").start(max_open_files=200)
    flood = []
    try:
        (worker,) = child_pids(server.process.pid)
        for _ in range(400):  # the kernel completes every handshake (backlog 2048); the worker runs out of fds
            flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        time.sleep(1.0)
        before = cpu_seconds(worker)
        time.sleep(3.0)
        used = cpu_seconds(worker) - before
        assert "accept() failed (Too many open files)" in server.log.read_text()
        assert used < 0.6, f"the worker used {used:.2f} s of CPU in 3 s while out of file descriptors"
        for sock in flood:
            sock.close()
        flood.clear()
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            try:
                status = httpx.get(server.url + "/ping", timeout=2).status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert status == 200
        assert httpx.post(server.url + "/invocations", content=b"abc").json() == {"bytes": 3}
    finally:
        for sock in flood:
            sock.close()
        server.stop()
