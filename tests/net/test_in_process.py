"""``net/in_process.py``: an application called in process gets what the HTTP server would give it, and answers
what the server would answer — the body limit from its head hook, its own error shape for a BodyError and
for a crash — and only on the loop it serves on."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from modelport.net.in_process import InProcessClient, finish
from modelport.net.messages import BodyError, Request, Response


class ShapedApp:
    """Echoes what it received; its errors have a shape of their own; bodies over 8 bytes are refused on /small."""

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.done = 0

    def body_limit(self, request: Request) -> int:
        request.state = "noted by the head hook"
        return 8 if request.path == "/small" else 1024

    def error(self, status: int, code: str, message: str, request: Request | None = None) -> Response:
        return Response(status, [("x-shape", "mine")], orjson.dumps({"kind": code, "text": message,
                                                                       "path": request.path if request else None}))

    async def handle(self, request: Request) -> Response:
        self.seen.append(request)
        if request.path == "/refuse":
            raise BodyError(422, "Unprocessable", "the body cannot be read")
        if request.path == "/crash":
            raise RuntimeError("a bug")
        return Response(200, [("content-type", "application/json")], orjson.dumps({
            "method": request.method, "query": request.query, "headers": request.headers,
            "body": request.body.decode(), "client": request.client, "state": request.state}),
            on_done=self._finished)

    def _finished(self) -> None:
        self.done += 1


def call(app, *args, **kwargs) -> Response:
    async def run() -> Response:
        client = InProcessClient(app, asyncio.get_running_loop())
        return await client.request(*args, **kwargs)
    return asyncio.run(run())


def test_the_application_gets_the_request_as_the_server_would_give_it():
    app = ShapedApp()
    response = call(app, "POST", "/echo", {"content-type": "text/plain"}, b"hello", query="a=1")
    assert response.status == 200
    assert orjson.loads(response.body) == {"method": "POST", "query": "a=1", "headers": {"content-type": "text/plain"},
                                           "body": "hello", "client": "127.0.0.1", "state": "noted by the head hook"}
    assert app.done == 0, "the caller owns the answer until it finishes it"
    finish(response)
    finish(response)
    assert app.done == 1, "on_done runs once"


def test_a_body_over_the_limit_gets_the_applications_413_before_it_is_handled():
    app = ShapedApp()
    response = call(app, "POST", "/small", {}, b"123456789")
    assert response.status == 413 and dict(response.headers)["x-shape"] == "mine"
    answer = orjson.loads(response.body)
    assert answer["kind"] == "PayloadTooLarge" and "8 bytes" in answer["text"] and answer["path"] == "/small"
    assert app.seen == []
    assert call(app, "POST", "/small", {}, b"12345678").status == 200, "exactly the limit passes"


def test_a_body_error_and_a_crash_are_answered_in_the_applications_shape():
    app = ShapedApp()
    refused = call(app, "POST", "/refuse", {}, b"x")
    assert refused.status == 422 and orjson.loads(refused.body)["kind"] == "Unprocessable"
    crashed = call(app, "POST", "/crash", {}, b"x")
    assert crashed.status == 500 and orjson.loads(crashed.body) == {
        "kind": "InternalError", "text": "The server failed on this request; see its log.", "path": "/crash"}


def test_a_call_from_another_event_loop_is_refused():
    app = ShapedApp()

    async def make() -> InProcessClient:
        return InProcessClient(app, asyncio.get_running_loop())

    client = asyncio.run(make())
    with pytest.raises(RuntimeError, match="event loop the application serves on"):
        asyncio.run(client.request("GET", "/echo", {}))
    assert app.seen == []


def test_after_a_call_on_its_loop_a_call_from_another_loop_is_still_refused():
    # the loop check remembers the thread its loop runs on: another loop, on that thread or another, is refused
    import threading

    app = ShapedApp()
    refusals = []

    async def serve_then_try_elsewhere() -> None:
        client = InProcessClient(app, asyncio.get_running_loop())
        assert (await client.request("GET", "/echo", {})).status == 200

        def other_thread() -> None:
            try:
                asyncio.run(client.request("GET", "/echo", {}))
            except RuntimeError as exc:
                refusals.append(str(exc))

        worker = threading.Thread(target=other_thread)
        worker.start()
        await asyncio.get_running_loop().run_in_executor(None, worker.join)
        return client

    client = asyncio.run(serve_then_try_elsewhere())
    with pytest.raises(RuntimeError, match="event loop the application serves on"):
        asyncio.run(client.request("GET", "/echo", {}))  # the same thread, a new loop: its own loop has ended
    assert len(refusals) == 1 and "event loop the application serves on" in refusals[0]
    assert len(app.seen) == 1


def test_only_async_applications_with_a_body_limit_can_be_called():
    class Sync:
        max_body_bytes = 10

        def handle(self, request):
            return Response(200, [], b"")

    class NoLimit:
        async def handle(self, request):
            return Response(200, [], b"")

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError, match="async handle"):
            InProcessClient(Sync(), loop)
        with pytest.raises(TypeError, match="max_body_bytes or body_limit"):
            InProcessClient(NoLimit(), loop)
    finally:
        loop.close()
