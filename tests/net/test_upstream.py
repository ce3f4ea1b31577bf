"""The pooled keep-alive client (``net/upstream.py``) against real servers on 127.0.0.1: a request is
never sent twice, "could not be sent" is told apart from "sent, then the connection died", an
idle connection the server closed (keep-alive idle timeout) costs no request, and streamed bodies and answers
arrive whole."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvloop

from modelport.net.upstream import StreamedBody, UpstreamError, UpstreamPool


class Server:
    """A tiny HTTP/1.1 server: answers ``GET /ok``, hangs up on ``POST /die`` after reading it, and
    closes connections idle longer than ``idle_timeout``. Counts connections and requests."""

    def __init__(self, idle_timeout: float = 60.0) -> None:
        self.idle_timeout = idle_timeout
        self.connections = 0
        self.requests: list[str] = []
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> "Server":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout)
                except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return
                line = head.split(b"\r\n", 1)[0].decode()
                length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                               if h.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                self.requests.append(line)
                if line.startswith("POST /echo"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    await writer.drain()
                    continue
                if line.startswith("POST /die"):
                    return  # like a worker that died while answering
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        finally:
            writer.close()

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def run(coro):
    return uvloop.run(coro)


def test_a_request_whose_connection_dies_is_not_resent():
    async def scenario():
        server = await Server().start()
        pool = UpstreamPool("127.0.0.1", server.port)
        assert (await pool.request("GET", "/ok")).body == b"ok"  # leaves an idle pooled connection
        with pytest.raises(UpstreamError) as excinfo:
            await pool.request("POST", "/die", body=b"{}")
        await server.stop()
        return excinfo.value, server.requests

    error, requests = run(scenario())
    assert (error.sent, error.answered) == (True, False)
    assert requests.count("POST /die HTTP/1.1") == 1


def test_a_connection_that_cannot_be_opened_was_not_sent():
    async def scenario():
        server = await Server().start()
        port = server.port
        await server.stop()
        with pytest.raises(UpstreamError) as excinfo:
            await UpstreamPool("127.0.0.1", port).request("GET", "/ok")
        return excinfo.value

    error = run(scenario())
    assert (error.sent, error.answered) == (False, False)


def test_an_idle_connection_closed_by_the_server_costs_no_request():
    async def scenario():
        server = await Server(idle_timeout=0.2).start()
        pool = UpstreamPool("127.0.0.1", server.port)
        answers = []
        for _ in range(5):
            answers.append((await pool.request("GET", "/ok")).body)
            await asyncio.sleep(0.3)  # the server closes the idle connection meanwhile
        await server.stop()
        return answers, server

    answers, server = run(scenario())
    assert answers == [b"ok"] * 5
    assert len(server.requests) == 5 and server.connections == 5


def test_a_server_hangup_the_loop_has_not_seen_yet_is_caught_before_writing():
    # A server in another thread answers once per connection, then hangs up; the client's loop is
    # kept busy (blocked) meanwhile, so the pooled connection's protocol has not been told when the
    # next request picks it: only the check before writing can see the hang-up.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                received.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                time.sleep(0.05)
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def scenario():
        pool = UpstreamPool("127.0.0.1", port)
        await pool.request("GET", "/ok")
        time.sleep(0.3)  # blocks the loop: the server's FIN arrives unseen
        blind = [not c.closed for c in pool._idle]
        response = await pool.request("GET", "/ok")
        return blind, response.body

    blind, body = run(scenario())
    thread.join(5)
    assert blind == [True]  # the loop had not noticed the hang-up
    assert body == b"ok" and len(received) == 2  # and yet the request went out once, on a fresh connection


def test_connections_idle_too_long_are_retired_before_the_server_closes_them():
    async def scenario():
        server = await Server(idle_timeout=60).start()
        pool = UpstreamPool("127.0.0.1", server.port, max_idle_seconds=0.1)
        await pool.request("GET", "/ok")
        await pool.request("GET", "/ok")  # reused at once
        await asyncio.sleep(0.2)
        await pool.request("GET", "/ok")  # too old: a fresh connection
        await server.stop()
        return server

    server = run(scenario())
    assert len(server.requests) == 3 and server.connections == 2


async def _chunks(count: int, size: int, produced: list[int]):
    for i in range(count):
        produced.append(i)
        yield bytes([i % 256]) * size


def test_a_streamed_body_and_a_streamed_answer_arrive_whole():
    async def main() -> None:
        server = await Server().start()
        pool = UpstreamPool("127.0.0.1", server.port)
        produced: list[int] = []
        try:
            answer = await pool.request("POST", "/echo", [], StreamedBody(24 << 20, _chunks(24, 1 << 20, produced)),
                                        stream=True, timeout=30)
            received = b"".join([chunk async for chunk in answer.chunks()])
            assert answer.status == 200 and len(received) == 24 << 20
            assert received == b"".join(bytes([i]) * (1 << 20) for i in range(24))
            assert produced == list(range(24)) and server.requests == ["POST /echo HTTP/1.1"]
        finally:
            pool.close()
            await server.stop()

    run(main())


def test_a_streamed_body_shorter_than_announced_is_an_error():
    async def main() -> None:
        server = await Server().start()
        pool = UpstreamPool("127.0.0.1", server.port)
        try:
            with pytest.raises(UpstreamError, match="had 2048 bytes where 4096 were announced"):
                await pool.request("POST", "/echo", [], StreamedBody(4096, _chunks(2, 1024, [])), timeout=5)
        finally:
            pool.close()
            await server.stop()

    run(main())
