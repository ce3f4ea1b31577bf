"""HTTP limits on all three real servers (runtime `modelport serve`, `modelport hosting`, `modelport gateway`),
each a process on 127.0.0.1 with shortened timeouts: 431, 414, 413 with and without Content-Length,
Expect: 100-continue, 100k repeated headers, slowloris, and the early 413 that urllib, requests and curl
read while still sending a 7 MB body."""

from __future__ import annotations

import resource
import selectors
import socket
import subprocess
import time
import urllib.error
import urllib.request

import orjson
import pytest
import requests

from tests.helpers.net import SERVERS, connect, read_response, short_limits
from tests.helpers.pinger import Pinger
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(120)
SEVEN_MB = 7 * 1024 * 1024
TOO_LARGE = {"runtime": "PayloadTooLarge", "hosting": "ValidationError", "gateway": "payload_too_large"}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def server(request, tmp_path_factory):
    process = SERVERS[request.param](tmp_path_factory.mktemp(request.param), **short_limits()).start()
    yield process
    process.stop()


def error_code(server, body: bytes) -> str:
    """The error code in each server's own JSON shape."""
    data = orjson.loads(body)
    if server.name == "runtime":
        return data["error"]
    if server.name == "hosting":
        return data["__type"]
    return data["error"]["code"]


def head(method: str, path: str, extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def test_a_big_header_is_431(server):
    with connect(server.port) as sock:
        sock.sendall(head("GET", server.ping, "X-Big: " + "a" * 64 * 1024 + "\r\n"))
        status, headers, body = read_response(sock)
    assert status == 431 and error_code(server, body).lower().replace("_", "") == "requestheaderfieldstoolarge"


def test_many_headers_are_431(server):
    with connect(server.port) as sock:
        sock.sendall(head("GET", server.ping, "".join(f"X-H{i}: v\r\n" for i in range(500))))
        status, _, _ = read_response(sock)
    assert status == 431


def test_a_long_url_is_414(server):
    with connect(server.port) as sock:
        sock.sendall(head("GET", server.ping + "?q=" + "a" * 20000))
        status, _, body = read_response(sock)
    assert status == 414 and "MODELPORT_HTTP_MAX_URL_BYTES" in body.decode()


def test_a_body_over_the_limit_is_413_from_its_content_length_before_it_is_sent(server):
    with connect(server.port) as sock:
        sock.sendall(head("POST", server.post, f"Content-Type: application/json\r\nContent-Length: {server.limit + 1}\r\n"))
        status, headers, body = read_response(sock)  # the body was never sent
    assert status == 413 and headers["connection"] == "close"
    assert error_code(server, body) == TOO_LARGE[server.name]


def test_a_chunked_body_over_the_limit_is_413(server):
    with connect(server.port) as sock:
        sock.sendall(head("POST", server.post, "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"))
        piece = b"%x\r\n%s\r\n" % (256 * 1024, b"1" * 256 * 1024)
        try:
            for _ in range(server.limit // len(piece) + 2):
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, _, body = read_response(sock)
    assert status == 413 and error_code(server, body) == TOO_LARGE[server.name]


def test_expect_continue_only_when_the_body_will_be_read(server):
    with connect(server.port) as sock:
        sock.sendall(head("POST", server.post, "Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"{}")
        status, _, _ = read_response(sock)
        assert status != 413
    with connect(server.port) as sock:
        sock.sendall(head("POST", server.post, f"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                                               f"Content-Length: {server.limit + 1}\r\n"))
        status, _, _ = read_response(sock)
        assert status == 413  # and no 100 Continue before it


def test_100k_repeated_headers_are_answered_fast_while_ping_stays_fast(server):
    flood = head("GET", server.ping, "X-Same: v\r\n" * 100_000)
    attempts = []
    for _ in range(3):  # the machine is shared: a bound missed once under others' load is tried again
        pinger = Pinger(server, pause=0.005)
        pinger.start()
        time.sleep(0.05)
        with connect(server.port) as sock:
            started = time.perf_counter()
            sock.sendall(flood)
            status, _, _ = read_response(sock)
            answered = time.perf_counter() - started
        time.sleep(0.05)
        pings = pinger.stop()
        assert status == 431 and not pinger.failures and len(pings) >= 3
        attempts.append((answered, max(pings)))
        if answered < 0.05 and max(pings) < 0.05:
            return
    pytest.fail(f"(answer s, slowest ping s) per attempt: {attempts}")


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def test_slowloris_connections_are_closed_while_ping_stays_fast(server):
    _raise_fd_limit(4500)
    pinger = Pinger(server)
    pinger.start()
    sockets = []
    try:
        opened = time.monotonic()
        for i in range(2000):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if i % 2:  # half-sent: a head that never ends
                sock.sendall(b"POST " + server.post.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sockets.append(sock)
        selector = selectors.DefaultSelector()
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        still_open = [len(sockets)]

        def all_closed() -> bool:
            """One round of reading: count the connections the server closed."""
            for key, _ in selector.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    selector.unregister(key.fileobj)
                    still_open[0] -= 1
            return still_open[0] == 0

        eventually(all_closed, 15 - (time.monotonic() - opened), 0,
                   message=lambda: f"{still_open[0]} of 2000 still open after {time.monotonic() - opened:.1f} s")
        open_count = still_open[0]
        elapsed = time.monotonic() - opened
        pings = pinger.stop()
    finally:
        pinger.stop()
        for sock in sockets:
            sock.close()
    assert open_count == 0, f"{open_count} of 2000 still open after {elapsed:.1f} s"
    assert not pinger.failures, pinger.failures[:3]
    # fast: nine in ten pings under 0.1 s and none near a timeout (one slow tick of a loaded CI core is
    # not what this guards against; a server stuck on 2,000 sockets answers in seconds, or never)
    slowest = sorted(pings)
    assert len(pings) >= 10 and slowest[int(len(slowest) * 0.9)] < 0.1 and slowest[-1] < 0.5, slowest[-5:]


def test_early_413_reaches_urllib_requests_and_curl(server):
    body = b"1" * SEVEN_MB
    url = server.url + server.post
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413 and error_code(server, refused.value.read()) == TOO_LARGE[server.name]

    response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413 and error_code(server, response.content) == TOO_LARGE[server.name]

    curl = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\\n%{http_code}", "-H", "Content-Type: application/json",
                           "--data-binary", "@-", url], input=body, capture_output=True, timeout=60)
    answer, _, code = curl.stdout.rpartition(b"\n")
    assert code == b"413" and error_code(server, answer) == TOO_LARGE[server.name], curl.stderr
    assert requests.get(server.url + server.ping, timeout=10).status_code == 200  # and it goes on serving
