"""ASGI on modelport's HTTP server (modelport.net.asgi), as the local gateway runs: the scope, receive() with
more_body and flow control, 100 Continue on demand, responses in one write, streaming with disconnect,
the lifespan, errors, and the early answer that a client still sending its body reads."""

from __future__ import annotations

import asyncio
import threading
import time

import orjson
import pytest
import requests
import uvloop

from modelport.net.asgi import AsgiApp, AsgiConnection, serve_asgi
from modelport.net.limits import HttpLimits
from modelport.net.messages import Response
from modelport.net.server import bind_socket
from tests.helpers.net import closed_by_peer, connect, read_response
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)
EVENTS: list[str] = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello"
                EVENTS.append("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                EVENTS.append("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("a bug")
    if path == "/refuse":  # refuses from the head, never reads the body
        await respond(send, 413, {"refused": True})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})

        async def watch():
            while (await receive())["type"] != "http.disconnect":
                pass
            EVENTS.append("disconnect")

        watcher = asyncio.ensure_future(watch())
        for i in range(2000):
            if watcher.done():
                break
            await send({"type": "http.response.body", "body": b"data: %d\n\n" % i * 200, "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message["more_body"])
        size += len(message["body"])
        if not message["more_body"]:
            break
    shown = {k: v for k, v in scope.items() if k not in ("headers", "raw_path", "query_string", "asgi")}
    await respond(send, 200, {"scope": shown, "asgi": scope["asgi"], "raw_path": scope["raw_path"].decode(),
                              "query": scope["query_string"].decode(), "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
                              "size": size, "more_body": messages})


async def respond(send, status, payload):
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps(payload)})


def json_error(status, code, message):
    return Response(status, [("content-type", "application/json")], orjson.dumps({"code": code, "message": message}))


class _CountingTransport:
    """Forwards everything to the real transport, counting write() calls."""

    def __init__(self, transport):
        self._transport = transport

    def write(self, data):
        CountingWrites.writes += 1
        self._transport.write(data)

    def __getattr__(self, name):
        return getattr(self._transport, name)


class CountingWrites(AsgiConnection):
    """Counts the transport writes of each connection (one per small response is the goal)."""

    writes = 0

    def connection_made(self, transport):
        super().connection_made(_CountingTransport(transport))


@pytest.fixture(scope="module")
def server():
    sock = bind_socket("127.0.0.1", 0)
    ready, holder = threading.Event(), {}

    async def main():
        holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
        await serve_asgi(AsgiApp(app, error=json_error), sock, holder["stop"], limits=HttpLimits(linger_timeout=3),
                         on_ready=ready.set)

    thread = threading.Thread(target=lambda: uvloop.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield sock.getsockname()[1]
    holder["loop"].call_soon_threadsafe(holder["stop"].set)
    thread.join(10)
    sock.close()
    assert EVENTS[-1] == "shutdown"


def test_the_scope_has_every_standard_key_and_the_lifespan_state(server):
    answer = requests.post(f"http://127.0.0.1:{server}/a%20b/c?x=1&y=%20", data=b"12345", headers={"X-Thing": "v"}).json()
    scope = answer["scope"]
    assert scope["type"] == "http" and scope["http_version"] == "1.1" and scope["method"] == "POST"
    assert scope["scheme"] == "http" and scope["root_path"] == "" and scope["path"] == "/a b/c"
    assert answer["raw_path"] == "/a%20b/c" and answer["query"] == "x=1&y=%20"
    assert answer["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["client"][0] == "127.0.0.1" and scope["server"] == ["127.0.0.1", server]
    assert scope["state"] == {"greeting": "hello"} and EVENTS[0] == "startup"
    assert ["x-thing", "v"] in answer["headers"] and answer["size"] == 5


def test_the_client_is_the_sockets_peer_whatever_proxy_headers_say(server):
    """uvicorn believed X-Forwarded-For from 127.0.0.1 by default; here no header can choose the client address."""
    with requests.Session() as session:
        session.mount("http://", _SourceAddressAdapter("127.0.0.2"))
        answer = session.post(f"http://127.0.0.1:{server}/who", data=b"", headers={
            "X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9", "Forwarded": "for=203.0.113.9",
            "X-Forwarded-Proto": "https"}).json()
    assert answer["scope"]["client"][0] == "127.0.0.2" and answer["scope"]["scheme"] == "http"


class _SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects from a chosen local address (another loopback address stands for another machine)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def test_a_body_arrives_in_messages_with_more_body(server):
    def pieces():
        for _ in range(3):
            yield b"a" * 1000
            time.sleep(0.05)

    answer = requests.post(f"http://127.0.0.1:{server}/echo", data=pieces()).json()  # chunked, in three writes
    assert answer["size"] == 3000 and answer["more_body"][-1] is False and len(answer["more_body"]) >= 2


def test_continue_is_sent_only_when_the_application_reads(server):
    with connect(server) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        assert read_response(sock)[0] == 100
        sock.sendall(b"abcd")
        assert orjson.loads(read_response(sock)[2])["size"] == 4
    with connect(server) as sock:
        sock.sendall(b"POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4000000\r\n\r\n")
        status, headers, _ = read_response(sock)
        assert status == 413 and headers["connection"] == "close"


def test_an_early_answer_is_read_by_a_client_still_sending(server):
    response = requests.post(f"http://127.0.0.1:{server}/refuse", data=b"x" * (7 * 1024 * 1024))
    assert response.status_code == 413 and response.json() == {"refused": True}


def test_a_small_response_is_one_write():
    sock = bind_socket("127.0.0.1", 0)
    ready, holder = threading.Event(), {}

    async def main():
        from modelport.net.server import HttpServer

        holder["loop"], holder["stop"] = asyncio.get_running_loop(), asyncio.Event()
        http = HttpServer(AsgiApp(app, error=json_error), connection=CountingWrites)
        http.serve(sock)
        ready.set()
        await holder["stop"].wait()
        await http.close()

    thread = threading.Thread(target=lambda: uvloop.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        with requests.Session() as session:
            for _ in range(5):
                assert session.get(f"http://127.0.0.1:{sock.getsockname()[1]}/echo").status_code == 200
        assert CountingWrites.writes == 5
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


def test_a_stream_stops_when_the_client_goes_away(server):
    with connect(server) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"data:") < 200:
            received += sock.recv(65536)
        assert b"transfer-encoding: chunked" in received
    eventually(lambda: "disconnect" in EVENTS, 10, message=lambda: f"events: {EVENTS}")
    assert "disconnect" in EVENTS


def test_an_application_error_is_a_json_500_and_the_server_goes_on(server):
    response = requests.get(f"http://127.0.0.1:{server}/boom")
    assert response.status_code == 500 and response.json()["code"] == "InternalError"
    assert requests.get(f"http://127.0.0.1:{server}/echo").status_code == 200


def test_limits_hold_for_asgi_too(server):
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(200)) + b"\r\n")
        status, _, body = read_response(sock)
        assert status == 431 and orjson.loads(body)["code"] == "RequestHeaderFieldsTooLarge"
        assert closed_by_peer(sock, 5)
