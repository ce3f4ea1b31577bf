"""The hot path: ``POST /predict/{model}`` and ``POST /invoke/{endpoint}`` in plain ASGI.

These two routes carry nearly all traffic. Served through FastAPI's router, request and response
objects and exception middleware, they cost the gateway several times the work of the call itself
(measured with py-spy under load: about 70% of the gateway's CPU was framework layers). This middleware
sits just inside ``Edge`` (which still does request ids, CORS, keys, rate and size limits and the access
log) and answers these two routes itself with ``ModelCalls``, the same code the FastAPI routes use;
everything else, and any path these patterns do not match, goes on to FastAPI unchanged.
"""

from __future__ import annotations

from modelport.gateway.errors import ApiError, send_error
from modelport.gateway.model_calls import ModelCalls
from modelport.net.asgi_types import ASGIApp, Receive, Scope, Send

# Request headers the two routes read (ASGI gives names in lower case).
_WANTED = {
    b"content-type": "content-type",
    b"accept": "accept",
    b"x-amzn-sagemaker-custom-attributes": "x-amzn-sagemaker-custom-attributes",
    b"x-amzn-sagemaker-target-variant": "x-amzn-sagemaker-target-variant",
    b"x-amzn-sagemaker-target-model": "x-amzn-sagemaker-target-model",
}


def _split(path: str) -> tuple[str, str] | None:
    """('predict' | 'invoke', name) for a hot path, else None. A name is one non-empty path segment."""
    if path.startswith("/predict/"):
        kind, name = "predict", path[9:]
    elif path.startswith("/invoke/"):
        kind, name = "invoke", path[8:]
    else:
        return None
    if not name or "/" in name:
        return None
    return kind, name


def query_target(query_string: bytes) -> str | None:
    """``?target=NAME`` of POST /invoke/{endpoint} (a multi-model endpoint's TargetModel), or None."""
    if not query_string:
        return None
    from urllib.parse import parse_qs

    values = parse_qs(query_string.decode("latin-1")).get("target")
    return values[0] if values else None


async def read_body(receive: Receive) -> bytes:
    """The whole request body from ASGI `receive` messages."""
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


class HotRoutes:
    """ASGI middleware answering POST /predict/{model} and POST /invoke/{endpoint} via `ModelCalls`."""

    def __init__(self, app: ASGIApp, *, calls: ModelCalls) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = _split(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        kind, name = target
        state = scope.setdefault("state", {})
        state["route"] = "/predict/{model}" if kind == "predict" else "/invoke/{endpoint}"
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            wanted = _WANTED.get(key)
            if wanted is not None and wanted not in headers:  # the first one wins, as in Starlette
                headers[wanted] = value.decode("latin-1")
        try:
            body = await read_body(receive)
            if kind == "predict":
                answer, answer_headers = await self.calls.predict(name, headers.get("content-type"), body, state)
            else:
                answer, answer_headers = await self.calls.invoke(name, headers, body, state,
                                                                 query_target(scope.get("query_string", b"")))
        except ApiError as exc:
            state["error_code"] = exc.code
            await send_error(send, exc, state.get("request_id"))
            return
        raw_headers = [(b"content-length", b"%d" % len(answer))]
        raw_headers.extend((k.encode("latin-1"), v.encode("latin-1")) for k, v in answer_headers.items())
        await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
        await send({"type": "http.response.body", "body": answer})
