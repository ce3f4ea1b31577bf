"""Accepting: a runtime worker limited to 200 open files, flooded with 400 connections, must back off
instead of spinning a core on accept(), then recover once clients leave; two workers on one socket
share a client's keep-alive connections instead of one taking them all; and a burst of new connections
is split between them in one wake-up each, not one connection per (possibly long, loaded) loop turn."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from modelport.net.acceptor import MAX_DEFER_IDLE_SECONDS, MAX_DEFER_SECONDS, Acceptor, waiting_connections
from modelport.net.server import bind_socket
from modelport.runtime.readiness import SERVING, Readiness
from tests.helpers.net import child_pids, cpu_seconds, runtime_server
from tests.helpers.waiting import eventually

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
        status = eventually(lambda: httpx.get(server.url + "/ping", timeout=2).status_code == 200 and 200, 20, 0.2,
                            ignore=(httpx.TransportError,), message="the worker never answered /ping again")
        assert status == 200
        assert httpx.post(server.url + "/invocations", content=b"abc").json() == {"bytes": 3}
    finally:
        for sock in flood:
            sock.close()
        server.stop()


PID_MODEL = '''
import json, os
def model_fn(model_dir):
    return None
def predict_fn(data, model):
    return {"pid": os.getpid()}
def output_fn(prediction, accept):
    return json.dumps(prediction)
'''


def test_two_workers_share_a_clients_connections(tmp_path):
    server = runtime_server(tmp_path, script=PID_MODEL, workers=2).start()
    clients = []
    try:
        pids = []
        for _ in range(16):  # 16 keep-alive connections opened one after another, as a benchmark does
            client = httpx.Client(base_url=server.url, timeout=10)
            clients.append(client)
            pids.append(client.post("/invocations", content=b"{}", headers={"content-type": "application/json"}).json()["pid"])
        counts = sorted(pids.count(pid) for pid in set(pids))
        assert len(counts) == 2 and counts[0] >= 5, counts  # not 16/0: both cores get work
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_the_kernel_says_how_many_connections_wait_to_be_accepted():
    listener = bind_socket("127.0.0.1", 0)
    clients = []
    try:
        assert waiting_connections(listener) == 0
        clients = [socket.create_connection(listener.getsockname()) for _ in range(7)]
        assert waiting_connections(listener) == 7  # loopback handshakes complete before connect() returns
        listener.accept()[0].close()
        assert waiting_connections(listener) == 6
        assert waiting_connections(clients[0]) is None  # not a listening socket
    finally:
        for client in clients:
            client.close()
        listener.close()


def test_a_burst_of_new_connections_is_split_evenly_in_one_wake_up_each(tmp_path):
    board = Readiness(tmp_path / "board", workers=2, create=True)
    board.set(0, SERVING)
    board.set(1, SERVING)
    listener = bind_socket("127.0.0.1", 0)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(40)]
    taken: dict[int, list[socket.socket]] = {0: [], 1: []}

    async def wake_ups() -> None:
        # each worker has its own descriptor of the shared socket, as forked workers do
        first, second = (Acceptor(listener.dup(), taken[i].append, max_connections=1000, backoff_seconds=1.0,
                                  board=board, index=i) for i in (0, 1))
        first._on_readable()  # what the event loop calls when the socket is readable
        assert len(taken[0]) == 20 and board.connections(0) == 20  # its share of 40, at once
        first._on_readable()
        assert len(taken[0]) == 20  # above its share now: it leaves the rest to the other worker
        time.sleep(MAX_DEFER_SECONDS * 2)
        first._on_readable()
        assert len(taken[0]) == 20  # the other worker is idle, only waiting for a core: it is given longer
        board.set_busy(1, time.monotonic())  # now it is predicting (perhaps stuck in a long prediction)
        first._on_readable()
        assert len(taken[0]) == 21  # and has left them waiting for more than 5 ms: this one takes one
        board.set_busy(1, 0.0)
        second._on_readable()
        assert len(taken[1]) == 19 and waiting_connections(listener) == 0
        for acceptor in (first, second):
            acceptor.close()
            acceptor.sock.close()

    try:
        asyncio.run(wake_ups())
    finally:
        for sock in clients + taken[0] + taken[1]:
            sock.close()
        listener.close()


def test_a_connection_left_to_another_worker_does_not_cut_short_the_wait_for_the_next_one(tmp_path):
    board = Readiness(tmp_path / "board", workers=2, create=True)
    board.set(0, SERVING)
    board.set(1, SERVING)
    listener = bind_socket("127.0.0.1", 0)
    clients: list[socket.socket] = []
    taken: list[socket.socket] = []

    def connect() -> None:
        clients.append(socket.create_connection(listener.getsockname()))

    async def scenario() -> None:
        first = Acceptor(listener.dup(), taken.append, max_connections=1000, backoff_seconds=1.0, board=board, index=0)
        connect()
        first._on_readable()
        assert len(taken) == 1  # its share of one
        connect()
        first._on_readable()
        assert len(taken) == 1  # above its share: left to the other worker...
        listener.accept()[0].close()  # ...which takes it (and is done with it)
        await asyncio.sleep(MAX_DEFER_IDLE_SECONDS * 1.5)  # the deferral ends; long past any patience
        connect()  # a new connection, above this worker's share again
        first._on_readable()
        assert len(taken) == 1, "the wait for the earlier connection counted towards this one's"
        first.close()
        first.sock.close()

    try:
        asyncio.run(scenario())
    finally:
        for sock in clients + taken:
            sock.close()
        listener.close()
