"""The direct lane of modelport.net.asgi: requests the application's hook claims skip ASGI (read whole, answered
by the handler's Response in one write); everything else, and every request the hook does not take, is ASGI's,
on the same connection, in order."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import requests

from modelport.net.asgi import AsgiApp, AsgiConnection, DirectRequest
from modelport.net.messages import Response
from tests.helpers.net import ThreadServer, closed_by_peer, connect, read_response
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.timeout(60)
LIMIT = 1_000_000
CALLS: list[str] = []


async def asgi_app(scope, receive, send):
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps({"lane": "asgi", "size": size})})


async def direct_answer(request: DirectRequest) -> Response:
    CALLS.append(request.path)
    if request.path == "/direct/boom":
        raise RuntimeError("a bug in the handler")
    if request.path == "/direct/bad-header":
        return Response(200, [("x-bad", "a\r\nb")], b"{}")
    if request.path == "/direct/slow":
        await asyncio.sleep(0.2)
    payload = {"lane": "direct", "method": request.method, "path": request.path,
               "query": request.query_string.decode(), "client": request.client[0],
               "headers": [[k.decode(), v.decode()] for k, v in request.headers], "size": len(request.body)}
    return Response(200, [("x-lane", "direct")], orjson.dumps(payload), content_type="application/json")


def claim(method: str, path: str, length: int):
    if method == "POST" and path.startswith("/direct/") and length <= LIMIT:
        return direct_answer
    return None


def json_error(status, code, message):
    return Response(status, [("content-type", "application/json")], orjson.dumps({"code": code, "message": message}))


@pytest.fixture(scope="module")
def port():
    with ThreadServer(AsgiApp(asgi_app, error=json_error, direct=claim), connection=AsgiConnection) as server:
        yield server.port


def test_a_claimed_request_gets_the_raw_head_and_the_whole_body(port):
    answer = requests.post(f"http://127.0.0.1:{port}/direct/a%20b?x=1&y=%20", data=b"12345",
                           headers={"X-Thing": "v", "X-Thing-2": "w"})
    body = answer.json()
    assert answer.headers["x-lane"] == "direct" and answer.headers["content-length"] == str(len(answer.content))
    assert (body["method"], body["path"], body["query"], body["size"]) == ("POST", "/direct/a b", "x=1&y=%20", 5)
    assert body["client"] == "127.0.0.1"
    names = [name for name, _ in body["headers"]]
    assert names.index("x-thing") < names.index("x-thing-2") and ["x-thing", "v"] in body["headers"]


@pytest.mark.parametrize(("what", "raw"), [
    ("another method", b"PUT /direct/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"),
    ("another path", b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"),
    ("a chunked body", b"POST /direct/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
    ("a body over the hook's limit", b"POST /direct/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1)
     + b"a" * (LIMIT + 1)),
])
def test_what_the_hook_does_not_claim_is_asgis(port, what, raw):
    with connect(port) as sock:
        sock.sendall(raw)
        status, _, body = read_response(sock)
    assert status == 200 and orjson.loads(body)["lane"] == "asgi", what


def test_expect_continue_stays_with_asgi(port):
    with connect(port) as sock:
        sock.sendall(b"POST /direct/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        assert read_response(sock)[0] == 100
        sock.sendall(b"abcd")
        status, _, body = read_response(sock)
    assert status == 200 and orjson.loads(body) == {"lane": "asgi", "size": 4}


def test_pipelined_requests_of_both_lanes_are_answered_in_order(port):
    requests_ = [b"POST /direct/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na",
                 b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
                 b"POST /direct/third HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"]
    with connect(port) as sock:
        sock.sendall(b"".join(requests_))
        answers = [orjson.loads(read_response(sock)[2]) for _ in requests_]
    assert [(a["lane"], a["size"]) for a in answers] == [("direct", 1), ("asgi", 2), ("direct", 3)]
    assert answers[0]["path"] == "/direct/slow" and answers[2]["path"] == "/direct/third"


def test_a_large_body_is_read_whole_in_many_pieces(port):
    size = 900_000  # beyond the ASGI lane's high water mark: the direct lane must not pause reading
    with connect(port) as sock:
        sock.sendall(b"POST /direct/big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        for _ in range(size // 10_000):
            sock.sendall(b"b" * 10_000)
        status, _, body = read_response(sock)
    assert status == 200 and orjson.loads(body)["size"] == size


def test_a_handler_error_is_the_applications_500_and_the_server_goes_on(port):
    answer = requests.post(f"http://127.0.0.1:{port}/direct/boom", data=b"x")
    assert answer.status_code == 500 and answer.json()["code"] == "InternalError"
    invalid = requests.post(f"http://127.0.0.1:{port}/direct/bad-header", data=b"x")
    assert invalid.status_code == 500 and "x-bad" not in invalid.headers
    assert requests.post(f"http://127.0.0.1:{port}/direct/after", data=b"x").json()["lane"] == "direct"


def test_a_client_gone_before_its_body_arrived_never_reaches_the_handler(port):
    CALLS.clear()
    with connect(port) as sock:
        sock.sendall(b"POST /direct/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
    # the server is free and the cut request never ran
    eventually(lambda: requests.post(f"http://127.0.0.1:{port}/direct/next", data=b"x").status_code == 200, 5)
    assert "/direct/cut" not in CALLS and "/direct/next" in CALLS


def test_connection_close_is_honoured(port):
    with connect(port) as sock:
        sock.sendall(b"POST /direct/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1\r\n\r\na")
        status, headers, _ = read_response(sock)
        assert status == 200 and headers["connection"] == "close"
        assert closed_by_peer(sock, 5)


def test_keep_alive_carries_many_direct_requests_on_one_connection(port):
    with connect(port) as sock:
        for i in range(20):
            sock.sendall(b"POST /direct/n%d HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na" % i)
            status, headers, body = read_response(sock)
            assert status == 200 and orjson.loads(body)["path"] == f"/direct/n{i}" and "connection" not in headers
