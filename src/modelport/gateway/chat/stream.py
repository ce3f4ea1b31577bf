"""Streaming plumbing of chat: Server-Sent Events out, blocking (boto3) streams in.

``EventStreamResponse`` sends ``text/event-stream`` chunks as they come and, when the client goes away,
stops at once and closes the event source (so the provider closes its upstream stream and the model
stops generating). ``thread_stream`` turns a blocking iterator (boto3's EventStream) into an async one,
reading it in a worker thread that closes the stream when the reader stops.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Callable, Iterable

import anyio
import orjson
from starlette.responses import Response

from modelport.net.asgi_types import Receive, Scope, Send

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE message carrying `data` as JSON (or a raw string such as "[DONE]")."""
    body = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return (b"event: %s\n" % event.encode() if event else b"") + b"data: " + body + b"\n\n"


class EventStreamResponse(Response):
    """A streamed `text/event-stream` response that stops and closes its source when the client leaves."""

    media_type = "text/event-stream"

    def __init__(self, chunks: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> None:
        super().__init__(content=b"", headers={**SSE_HEADERS, **(headers or {})}, media_type=self.media_type)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async with anyio.create_task_group() as group:
                async def watch_disconnect() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            group.cancel_scope.cancel()
                            return

                group.start_soon(watch_disconnect)
                async for chunk in self.chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                group.cancel_scope.cancel()
        except OSError:
            pass  # the client went away while we were writing
        finally:
            close = getattr(self.chunks, "aclose", None)
            if close is not None:
                with anyio.CancelScope(shield=True):
                    await close()


async def thread_stream(open_stream: Callable[[], tuple[Iterable[Any], Callable[[], None]]],
                        idle_timeout: float) -> AsyncIterator[Any]:
    """Items of a blocking stream, read in a thread. `open_stream()` → (iterable, close function).

    Errors of `open_stream` or of the iteration are raised here. When the consumer stops early (client
    gone, cancelled), the thread closes the stream after its next item; `idle_timeout` bounds each wait.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:
            pass  # the loop is gone

    def work() -> None:
        close = None
        try:
            items, close = open_stream()
            for item in items:
                if stop.is_set():
                    break
                put("item", item)
            else:
                put("end", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the async side
            put("error", exc)
        finally:
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass

    thread = threading.Thread(target=work, name="chat-stream", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, value = await asyncio.wait_for(queue.get(), idle_timeout)
            except TimeoutError:
                raise TimeoutError(f"no data for {idle_timeout:g} s") from None
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
