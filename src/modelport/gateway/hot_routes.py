"""The hot path: ``POST /predict/{model}`` and ``POST /invoke/{endpoint}`` without a framework.

These two routes carry nearly all traffic. Served through FastAPI's router, request and response
objects and exception middleware, they cost the gateway several times the work of the call itself
(measured with py-spy under load: about 70% of the gateway's CPU was framework layers). ``HotRoutes``
answers them itself with ``ModelCalls``, the same code the FastAPI routes use, in two ways that share
:meth:`HotRoutes.answer`: as plain-ASGI middleware just inside ``Edge`` (which still does request ids,
CORS, keys, rate and size limits and the access log; what Lambda runs), and on this machine's server as
the direct lane ``Edge.direct_lane`` sets up (no ASGI at all). Everything else, and any path these
patterns do not match, goes on to FastAPI unchanged.
"""

from __future__ import annotations

from modelport.gateway.errors import ApiError, error_parts, raw_headers
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


ROUTES = {"predict": "/predict/{model}", "invoke": "/invoke/{endpoint}"}  # each kind's route pattern


def hot_target(path: str) -> tuple[str, str] | None:
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


def wanted_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request headers the two routes read, from raw ASGI pairs (the first of a repeated one wins)."""
    headers: dict[str, str] = {}
    for key, value in raw:
        wanted = _WANTED.get(key)
        if wanted is not None and wanted not in headers:  # the first one wins, as in Starlette
            headers[wanted] = value.decode("latin-1")
    return headers


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
        target = hot_target(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if target is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            body = await read_body(receive)
        except ApiError as exc:  # the body outgrew the limit on the way in (Edge's receive)
            state["route"] = ROUTES[target[0]]
            status, headers, answer = _refused(exc, state)
        else:
            status, headers, answer = await self.answer(scope["path"], scope["headers"], scope.get("query_string", b""),
                                                        body, state)
        await send({"type": "http.response.start", "status": status, "headers": raw_headers(headers, answer)})
        await send({"type": "http.response.body", "body": answer})

    async def answer(self, path: str, raw: list[tuple[bytes, bytes]], query_string: bytes, body: bytes,
                     state: dict) -> tuple[int, list[tuple[str, str]], bytes]:
        """The answer to POST ``path`` (a hot route: :func:`hot_target` is not None) as status, headers (no
        Content-Length) and body; errors too, in the gateway's shape. Facts for the log go into ``state``."""
        kind, name = hot_target(path)
        state["route"] = ROUTES[kind]
        headers = wanted_headers(raw)
        try:
            if kind == "predict":
                answer, answer_headers = await self.calls.predict(name, headers.get("content-type"), body, state)
            else:
                answer, answer_headers = await self.calls.invoke(name, headers, body, state, query_target(query_string))
        except ApiError as exc:
            return _refused(exc, state)
        return 200, list(answer_headers.items()), answer


def _refused(error: ApiError, state: dict) -> tuple[int, list[tuple[str, str]], bytes]:
    """A hot route's error answer (status, headers, body); its code noted for the log."""
    state["error_code"] = error.code
    return error_parts(error, state.get("request_id"))
