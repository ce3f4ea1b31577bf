"""modelport's HTTP server (modelport.net) on 127.0.0.1 with small applications: the parser's limits, bodies,
Expect, pipelining, timeouts, the connection cap, streamed request bodies and the lingering close."""

from __future__ import annotations

import asyncio
import socket
import time

import orjson
import pytest

from modelport.net.handler import HandlerConnection
from modelport.net.messages import BodyResponse, BodyTooLarge, Deferred, Response
from modelport.net.wire import HeaderInjection, response_head
from tests.helpers.net import ThreadServer, closed_by_peer, connect, exchange, read_response
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)
LIMIT = 1000


class EchoApp:
    """Sync application: what it received, as JSON."""

    max_body_bytes = LIMIT

    def handle(self, request):
        if request.path.startswith("/stream"):
            return BodyResponse(200, iter([b"a", b"b"]), "text/plain")
        if request.path == "/inject":
            return BodyResponse(200, b"{}", headers=[("x-bad", "a\r\nset-cookie: evil=1")])
        return BodyResponse(200, orjson.dumps({"method": request.method, "path": request.path, "query": request.query,
                                               "headers": request.headers, "bytes": len(request.body)}))

    def error(self, status, code, message):
        return BodyResponse(status, orjson.dumps({"error": code, "message": message}))


class AsyncApp:
    """Async application: sleeps `?seconds`, streams `/stream`, reads `/upload` as a stream (limit 4 MB there)."""

    def __init__(self) -> None:
        self.server = None
        self.upload_max_buffered = 0
        self.done = 0

    def body_limit(self, request):
        return 4 * 1024 * 1024 if request.path == "/upload" else LIMIT

    def stream_body(self, request):
        return request.path == "/upload"

    async def handle(self, request):
        if request.path == "/upload":
            total = 0
            async for chunk in request.stream():
                total += len(chunk)
                await asyncio.sleep(0.001)  # a slow consumer: the server must stop reading, not buffer it all
                conn = next(iter(self.server.connections))
                self.upload_max_buffered = max(self.upload_max_buffered, conn.body_stream._buffered if conn.body_stream else 0)
            return Response(200, [("content-type", "application/json")], orjson.dumps({"bytes": total}))
        if request.path == "/stream":
            async def chunks():
                try:
                    while True:
                        yield b"x" * 65536
                        await asyncio.sleep(0)
                finally:
                    self.done += 1
            return Response(200, [("content-type", "text/plain")], stream=chunks())
        await asyncio.sleep(float(request.query or 0))
        return Response(200, [("content-type", "text/plain")], request.path.encode())

    def error(self, status, code, message):
        return Response(status, [("content-type", "application/json")], orjson.dumps({"error": code, "message": message}))


@pytest.fixture(scope="module")
def echo():
    with ThreadServer(EchoApp(), header_timeout=1, keepalive_timeout=1, body_timeout=1, linger_timeout=1) as server:
        yield server


def get(path: str = "/", headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()


def test_a_plain_request_and_keep_alive(echo):
    with connect(echo.port) as sock:
        for i in range(3):
            sock.sendall(get(f"/p{i}?q=1"))
            status, headers, body = read_response(sock)
            assert status == 200 and orjson.loads(body)["path"] == f"/p{i}" and orjson.loads(body)["query"] == "q=1"
            assert "connection" not in headers


def test_long_url_is_414(echo):
    status, headers, body = exchange(echo.port, get("/" + "a" * 9000))
    assert status == 414 and orjson.loads(body)["error"] == "URITooLong"
    assert headers["connection"] == "close"


def test_big_header_is_431(echo):
    status, _, body = exchange(echo.port, get("/", "X-Big: " + "a" * 40000 + "\r\n"))
    assert status == 431 and "MODELPORT_HTTP_MAX_HEADER_BYTES" in orjson.loads(body)["message"]


def test_many_headers_are_431(echo):
    status, _, body = exchange(echo.port, get("/", "".join(f"X-H{i}: v\r\n" for i in range(150))))
    assert status == 431 and orjson.loads(body)["error"] == "RequestHeaderFieldsTooLarge"


def test_a_header_line_that_never_ends_is_refused_before_it_ends(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        sock.setblocking(False)
        sent = [0]

        def answer() -> bytes | None:
            """Send more of the line (up to 32 MiB) unless the socket is full; the answer once one arrives."""
            if sent[0] < 32 * 1024 * 1024:
                try:
                    sent[0] += sock.send(b"a" * 65536)
                except BlockingIOError:
                    pass
            try:
                return sock.recv(100)
            except BlockingIOError:
                return None

        status = eventually(answer, 10, 0.01, message=lambda: f"no answer after {sent[0]} bytes")
        assert status and status.startswith(b"HTTP/1.1 431"), status
        assert sent[0] < 32 * 1024 * 1024  # answered while the line was still being sent


def test_repeated_headers_are_joined():
    status_echo = EchoApp()
    with ThreadServer(status_echo) as server:
        status, _, body = exchange(server.port, get("/", "X-A: 1\r\nX-B: b\r\nx-a: 2\r\nX-A: 3\r\n"))
    assert status == 200 and orjson.loads(body)["headers"]["x-a"] == "1, 2, 3"


def test_100k_repeated_headers_are_collected_in_linear_time():
    # with the caps lifted: joining values one string at a time took seconds for 80k headers
    with ThreadServer(EchoApp(), max_headers=200_000, max_header_bytes=16 * 1024 * 1024) as server:
        started = time.perf_counter()
        status, _, body = exchange(server.port, get("/", "X-Same: value\r\n" * 100_000), timeout=30)
        elapsed = time.perf_counter() - started
    assert status == 200 and orjson.loads(body)["headers"]["x-same"].count("value") == 100_000
    assert elapsed < 2.0


def test_a_body_over_the_limit_is_refused_from_its_content_length_before_it_is_sent(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")
        status, headers, body = read_response(sock)  # nothing of the body was sent
        assert status == 413 and orjson.loads(body)["error"] == "PayloadTooLarge"
        assert headers["connection"] == "close"
        sock.sendall(b"a" * 5_000_000)  # a client that sends anyway is read, not reset (lingering close)
        assert closed_by_peer(sock, 10)


def test_expect_continue_only_when_the_body_will_be_read(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        status, _, body = read_response(sock)
        assert status == 200 and orjson.loads(body)["bytes"] == 5
    with connect(echo.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
        status, _, _ = read_response(sock)
        assert status == 413  # no 100 Continue first


def test_a_chunked_body_growing_past_the_limit_is_413(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"100\r\n" + b"a" * 256 + b"\r\n")
        sock.sendall(b"400\r\n" + b"a" * 1024 + b"\r\n")
        status, _, body = read_response(sock)
        assert status == 413 and "1000 bytes" in orjson.loads(body)["message"]
    with connect(echo.port) as sock:  # within the limit: read whole
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n")
        status, _, body = read_response(sock)
        assert status == 200 and orjson.loads(body)["bytes"] == 8


def test_head_request_has_no_body(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/after"))
        sock.settimeout(5)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
            data += sock.recv(65536)
    first, _, second = data.partition(b"\r\n\r\n")
    assert second.startswith(b"HTTP/1.1 200")  # the HEAD answer carried no body bytes


def test_malformed_request_is_400_json(echo):
    status, _, body = exchange(echo.port, b"BLAH / HTTP/1.1\r\n\r\n")
    assert status == 400 and orjson.loads(body)["error"] == "BadRequest"


def test_a_header_with_a_line_break_is_never_sent(echo):
    status, headers, body = exchange(echo.port, get("/inject"))
    assert status == 500 and "set-cookie" not in headers
    with pytest.raises(HeaderInjection):
        response_head(200, "text/plain", [("x", "a\nb")], 0, True)


def test_head_timeout_answers_408_and_closes(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        started = time.monotonic()
        status, _, body = read_response(sock, timeout=10)
        assert status == 408 and orjson.loads(body)["error"] == "RequestTimeout"
        assert 0.9 < time.monotonic() - started < 5
        assert closed_by_peer(sock, 5)


def test_idle_and_silent_connections_are_closed(echo):
    with connect(echo.port) as silent, connect(echo.port) as idle:
        idle.sendall(get())
        read_response(idle)
        assert closed_by_peer(silent, 5) and closed_by_peer(idle, 5)


def test_a_body_that_stops_arriving_is_closed(echo):
    with connect(echo.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        status, _, _ = read_response(sock, timeout=10)
        assert status == 408


def test_pipelined_requests_are_answered_in_order():
    app = AsyncApp()
    with ThreadServer(app) as server:
        with connect(server.port) as sock:
            sock.sendall(get("/one?0.05") + get("/two") + get("/three?0.02"))
            assert [read_response(sock)[2] for _ in range(3)] == [b"/one", b"/two", b"/three"]


class LaterApp:
    """Sync application that answers later: a Deferred resolved after ?SECONDS (the runtime's batching)."""

    max_body_bytes = LIMIT

    def __init__(self) -> None:
        self.resolved: list[str] = []

    def handle(self, request):
        if request.path == "/now":
            return BodyResponse(200, b"/now", "text/plain")
        answer = Deferred()
        delay = float(request.query or 0)

        def resolve():
            self.resolved.append(request.path)
            answer.resolve(BodyResponse(200, request.path.encode(), "text/plain"))

        asyncio.get_running_loop().call_later(delay, resolve)
        return answer

    def error(self, status, code, message):
        return BodyResponse(status, orjson.dumps({"error": code, "message": message}))


def test_a_deferred_answer_keeps_the_connection_and_the_order_of_pipelined_requests():
    with ThreadServer(LaterApp()) as server:
        with connect(server.port) as sock:
            sock.sendall(get("/one?0.05") + get("/now") + get("/three?0.01"))
            assert [read_response(sock)[2] for _ in range(3)] == [b"/one", b"/now", b"/three"]
            sock.sendall(get("/again"))  # still open, and reading again
            assert read_response(sock)[2] == b"/again"


def test_a_deferred_answer_for_a_client_that_left_is_dropped():
    app = LaterApp()
    with ThreadServer(app) as server:
        with connect(server.port) as sock:
            sock.sendall(get("/gone?0.1"))
        eventually(lambda: app.resolved == ["/gone"], timeout=5)
        with connect(server.port) as sock:  # the server is fine
            sock.sendall(get("/now"))
            assert read_response(sock)[2] == b"/now"


class CountingConnection(HandlerConnection):
    """Records the longest queue of pipelined requests any connection held."""

    most_pending = 0

    def _enqueue(self, request, keep_alive):
        try:
            super()._enqueue(request, keep_alive)
        finally:
            CountingConnection.most_pending = max(CountingConnection.most_pending, len(self.pending))


def test_pipelining_is_bounded():
    with ThreadServer(AsyncApp(), connection=CountingConnection, max_pipelined=4) as server:
        with connect(server.port) as sock:  # spread over writes: reading stops while 4 wait, none is lost
            for i in range(12):
                sock.sendall(get(f"/r{i}?0.02"))
                time.sleep(0.005)
            assert [read_response(sock)[2] for _ in range(12)] == [f"/r{i}".encode() for i in range(12)]
        assert CountingConnection.most_pending == 4
        CountingConnection.most_pending = 0
        with connect(server.port) as sock:  # 100 in one write: parsed as the queue drains, none is lost
            sock.sendall(b"".join(get(f"/f{i}?0.001") for i in range(100)))
            assert [read_response(sock)[2] for _ in range(100)] == [f"/f{i}".encode() for i in range(100)]
        assert CountingConnection.most_pending == 4


def test_an_inline_handler_bounds_its_queue_behind_a_streamed_answer():
    # inline handlers parse a read whole; only behind a streamed answer can requests queue, and a read
    # holding more than the queue takes is answered up to the queue, then the connection closes
    with ThreadServer(EchoApp(), connection=CountingConnection, max_pipelined=4) as server:
        CountingConnection.most_pending = 0
        with connect(server.port) as sock:
            sock.sendall(b"".join(get(f"/stream{i}") for i in range(30)))
            answers = []
            with pytest.raises(ConnectionError):
                while True:
                    answers.append(read_response(sock)[2])
        assert answers == [b"ab"] * len(answers) and 1 <= len(answers) <= 5
        assert CountingConnection.most_pending == 4


def test_a_client_that_stops_reading_is_dropped():
    app = AsyncApp()
    with ThreadServer(app, write_timeout=1) as server:
        with connect(server.port) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(get("/stream"))
            eventually(lambda: app.done != 0, 10, 0.1, message="the endless stream was never closed")
            assert app.done == 1 and not server.server.connections


def test_the_connection_cap_holds_new_clients_in_the_backlog():
    with ThreadServer(EchoApp(), max_connections=2) as server:
        first, second = connect(server.port), connect(server.port)
        for sock in (first, second):
            sock.sendall(get())
            assert read_response(sock)[0] == 200
        third = connect(server.port)  # the kernel completes the handshake; the server does not accept it
        third.sendall(get("/third"))
        third.settimeout(0.5)
        with pytest.raises(socket.timeout):
            third.recv(100)
        first.close()
        status, _, body = read_response(third)
        assert status == 200 and orjson.loads(body)["path"] == "/third"
        second.close()
        third.close()


def test_a_streamed_upload_is_read_with_flow_control():
    app = AsyncApp()
    with ThreadServer(app) as server:
        app.server = server.server
        size = 3 * 1024 * 1024
        with connect(server.port) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % size)
            assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"  # sent when the handler first reads
            sock.sendall(b"u" * size)
            status, _, body = read_response(sock)
            assert status == 200 and orjson.loads(body)["bytes"] == size
        assert app.upload_max_buffered < 1024 * 1024  # never the whole body in memory
        with connect(server.port) as sock:  # past this path's 4 MB limit while streaming: 413 from the handler
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b"u" * 1024 * 1024)
            try:
                for _ in range(6):
                    sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            status, _, body = read_response(sock)
            assert status == 413 and "4 MB" in orjson.loads(body)["message"]


def test_body_error_messages():
    assert "2 MB" in str(BodyTooLarge(2 * 1024 * 1024))


class ObjectApp:
    """Async application that answers like S3: a stream or a HEAD answer with its own Content-Length."""

    max_body_bytes = LIMIT

    async def handle(self, request):
        size = 200_000
        declared = [("content-type", "application/octet-stream"), ("Content-Length", str(size))]
        if request.method == "HEAD":
            return Response(200, declared, b"")
        if request.path == "/short":  # promises more than it sends
            async def short():
                yield b"s" * 1000
            return Response(200, declared, stream=short())

        async def chunks():
            for _ in range(size // 50_000):
                yield b"o" * 50_000
        return Response(200, declared, stream=chunks())

    def error(self, status, code, message):
        return Response(status, [("content-type", "application/json")], orjson.dumps({"error": code, "message": message}))


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head of one response (up to its blank line), and whatever arrived after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.lower(), rest


def test_a_stream_with_its_own_content_length_is_sent_as_is_not_chunked():
    with ThreadServer(ObjectApp()) as server, connect(server.port) as sock:
        for _ in range(2):  # and the connection stays usable
            sock.sendall(get("/object"))
            status, headers, body = read_response(sock)
            assert status == 200 and headers["content-length"] == "200000" and "transfer-encoding" not in headers
            assert body == b"o" * 200_000


def test_a_head_answer_keeps_the_applications_content_length_and_sends_no_body():
    with ThreadServer(ObjectApp()) as server, connect(server.port) as sock:
        sock.sendall(b"HEAD /object HTTP/1.1\r\nHost: x\r\n\r\n")
        head, rest = read_head(sock)
        assert head.count(b"content-length:") == 1 and b"content-length: 200000" in head
        assert b"transfer-encoding" not in head and rest == b""
        sock.sendall(get("/object"))  # the next answer on the connection starts right after the HEAD's head
        status, headers, body = read_response(sock)
        assert status == 200 and body == b"o" * 200_000


def test_a_stream_short_of_its_content_length_closes_the_connection():
    with ThreadServer(ObjectApp()) as server, connect(server.port) as sock:
        sock.sendall(get("/short"))
        head, rest = read_head(sock)
        assert b"content-length: 200000" in head and b"transfer-encoding" not in head
        assert closed_by_peer(sock, 5)  # the client cannot take 1,000 bytes as the whole 200,000
