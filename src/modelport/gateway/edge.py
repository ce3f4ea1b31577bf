"""The gateway's edge: what every request needs, around the app, in one lean layer.

In order: request id, CORS preflight, API key (wrong keys limited per client address), rate limit,
body size limit; then the app; then
``X-Request-Id`` and CORS headers on the response (errors included), one structured log line, and the
request counted in the gateway's metrics (API paths only; ``metrics.py``).
Locally (not in Lambda) it also keeps the event loop polling briefly after each answer (``BusyPoll``).

Two entries share those steps (:meth:`Edge.begin` and :meth:`Edge.end`): the ASGI middleware
(``__call__``, what Lambda and every route use), and, on this machine's server, the direct lane of the
hot routes (:meth:`Edge.direct_lane`): ``POST /predict`` and ``/invoke`` answered from the raw request,
without an ASGI scope, messages or middleware (``net/asgi.py``). Plain code rather than a framework
middleware, to keep the per-request cost small.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelport.gateway.auth import ApiKeys
from modelport.gateway.cors import Cors
from modelport.gateway.errors import ApiError, error_parts, internal_error, send_error
from modelport.gateway.hot_routes import HotRoutes, hot_target
from modelport.gateway.logs import log_json
from modelport.gateway.metrics import GatewayMetrics
from modelport.gateway.ratelimit import FAILED_KEY_LIMIT, TokenBuckets, retry_after_header
from modelport.net.asgi_types import ASGIApp, Message, Receive, Scope, Send
from modelport.net.busypoll import BusyPoll, busy_poll_of
from modelport.net.messages import Response

if TYPE_CHECKING:
    from modelport.net.asgi import DirectHandler, DirectRequest

# Paths that call models (and the metrics, which name them): these need the API key, count against the rate
# limit and are counted in the metrics.
API_PREFIXES = ("/models", "/predict/", "/invoke/", "/chat", "/v1/", "/metrics")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:=+/-]{1,128}$")  # also API Gateway ids like "JKJaXmPLvHcESHA="


def is_api_path(path: str) -> bool:
    """Whether `path` is an API route (not health, docs or the page)."""
    return path.startswith(API_PREFIXES) or path == "/chat"


def pick_request_id(headers: dict[str, str], event: Any = None) -> str:
    """The caller's X-Request-Id when sane, else API Gateway's request id (``event``: Lambda's, from the
    scope's ``aws.event``), else a new one."""
    given = headers.get("x-request-id")
    if given and _REQUEST_ID_RE.match(given):
        return given
    if isinstance(event, dict):
        aws_id = (event.get("requestContext") or {}).get("requestId")
        if isinstance(aws_id, str) and _REQUEST_ID_RE.match(aws_id):
            return aws_id
    # 32 hex digits like a uuid4's; not a secret, so no getrandom() system call per request
    return f"{random.getrandbits(128):032x}"


class Visit:
    """One request as the edge sees it, from :meth:`Edge.begin` to :meth:`Edge.end`."""

    __slots__ = ("method", "path", "client", "started", "headers", "request_id", "state", "origin", "extra",
                 "refusal")

    def __init__(self, method: str, path: str, client: str, started: float, headers: dict[str, str],
                 request_id: str, state: dict, origin: str | None, extra: list[tuple[bytes, bytes]],
                 refusal: ApiError | None) -> None:
        self.method = method
        self.path = path
        self.client = client  # the peer's address ("?" when unknown)
        self.started = started
        self.headers = headers  # by lower-case name (the last of a repeated header)
        self.request_id = request_id
        self.state = state  # the request's facts for the log and the metrics (route, model, error_code, ...)
        self.origin = origin
        self.extra = extra  # headers every answer carries: X-Request-Id and CORS
        self.refusal = refusal  # what stops it before the app (key, rate, size), or None


class _BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, "payload_too_large",
            f"the request body is larger than {limit} bytes ({limit / 1048576:g} MiB), the gateway's limit",
        )


class Edge:
    """What every request needs — request id, CORS, API keys, rate limit, size limit, access log, metrics — as
    ASGI middleware (``__call__``) and around the hot routes' direct lane (:meth:`direct_lane`)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cors: Cors,
        keys: ApiKeys,
        buckets: TokenBuckets | None,
        max_body_bytes: int,
        logger: logging.Logger,
        access_log: bool = True,
        busy_poll_seconds: float = 0.0,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.app = app
        self.cors = cors
        self.keys = keys
        self.buckets = buckets
        self.failed_keys = TokenBuckets(FAILED_KEY_LIMIT)  # per client address
        self.max_body_bytes = max_body_bytes
        self.logger = logger
        self.access_log = access_log
        self.metrics = metrics
        self.busy_poll_seconds = busy_poll_seconds
        self.busy_poll: BusyPoll | None = None  # built on the first request, on the serving loop

    def begin(self, method: str, path: str, raw_headers: list[tuple[bytes, bytes]], client: tuple | None,
              state: dict, event: Any = None) -> Visit:
        """Start a request: its request id, CORS headers, and the refusal that stops it before the app."""
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        request_id = pick_request_id(headers, event)
        state["request_id"] = request_id
        state["started"] = started
        origin = headers.get("origin")
        extra = [(b"x-request-id", request_id.encode()), *self.cors.response_headers(origin)]
        address = (client or ("?",))[0]
        refusal = self._refuse(method, path, headers, address)
        if refusal is not None:
            state["error_code"] = refusal.code
        return Visit(method, path, address, started, headers, request_id, state, origin, extra, refusal)

    def end(self, visit: Visit, status: int) -> None:
        """Finish a request answered with ``status`` (0: none was sent): its log line, metrics, busy polling."""
        state = visit.state
        if self.access_log:
            self._log(visit, status)
        if self.metrics is not None and is_api_path(visit.path):
            self.metrics.record(state.get("route") or "", state.get("model") or "", state.get("endpoint") or "",
                                status, state.get("model_latency_ms"), time.perf_counter() - visit.started)
        if self.busy_poll_seconds > 0:
            self._kick_busy_poll()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        visit = self.begin(scope["method"], scope["path"], scope["headers"], scope.get("client"), state,
                           scope.get("aws.event"))
        extra = visit.extra
        status_box = [0]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            if scope["method"] == "OPTIONS" and visit.refusal is None:
                await self._preflight(visit.headers, visit.origin, send_with_headers, visit.request_id)
            elif visit.refusal is not None:
                await send_error(send_with_headers, visit.refusal, visit.request_id)
            else:
                await self.app(scope, self._limited_receive(receive), send_with_headers)
        except Exception:  # never a traceback to the client; the log keeps it
            self.logger.exception("unhandled error (requestId=%s)", visit.request_id)
            if status_box[0] == 0:
                state["error_code"] = "internal_error"
                await send_error(send_with_headers, internal_error(), visit.request_id)
        finally:
            if "route" not in state and scope.get("route") is not None:  # FastAPI's matched route
                state["route"] = getattr(scope["route"], "path", None)
            self.end(visit, status_box[0])

    def direct_lane(self, hot: HotRoutes) -> "Callable[[str, str, int], DirectHandler | None]":
        """The hook of the local server's direct lane (``net.asgi.AsgiApp(direct=...)``): it claims POST requests
        to ``hot``'s routes whose Content-Length is within the limit; anything else (a body over the limit
        included, which Edge answers with its 413) goes the ASGI way."""
        limit = self.max_body_bytes

        async def answer(request: "DirectRequest") -> Response:
            return await self._answer_direct(hot, request)

        def claim(method: str, path: str, length: int) -> "DirectHandler | None":
            if method != "POST" or length > limit or hot_target(path) is None:
                return None
            return answer

        return claim

    async def _answer_direct(self, hot: HotRoutes, request: "DirectRequest") -> Response:
        """The edge's steps around ``hot``'s answer, as ``__call__`` takes them, on a request read whole."""
        state: dict = {}
        visit = self.begin("POST", request.path, request.headers, request.client, state)
        status = 0
        try:
            if visit.refusal is not None:
                status, headers, body = error_parts(visit.refusal, visit.request_id)
            else:
                status, headers, body = await hot.answer(request.path, request.headers, request.query_string,
                                                         request.body, state)
        except Exception:  # never a traceback to the client; the log keeps it
            self.logger.exception("unhandled error (requestId=%s)", visit.request_id)
            state["error_code"] = "internal_error"
            status, headers, body = error_parts(internal_error(), visit.request_id)
        finally:
            self.end(visit, status)
        headers.extend((k.decode("latin-1"), v.decode("latin-1")) for k, v in visit.extra)
        return Response(status, headers, body)

    def _kick_busy_poll(self) -> None:
        if self.busy_poll is None:
            self.busy_poll = busy_poll_of(asyncio.get_running_loop(), self.busy_poll_seconds)
        self.busy_poll.kick()

    def _refuse(self, method: str, path: str, headers: dict[str, str], address: str) -> ApiError | None:
        """The error that stops this request before the app (key, rate, size), or None."""
        if method == "OPTIONS" or not is_api_path(path):
            return None
        key = ApiKeys.presented(headers)
        if self.keys.enabled:
            refused = self._check_key(key, address)
            if refused is not None:
                return refused
        if self.buckets is not None:
            client = f"key:{key}" if (key and self.keys.enabled) else f"ip:{address}"
            wait = self.buckets.take(client)
            if wait > 0:
                return ApiError(
                    429, "throttled", "too many requests: slow down and retry after the time in Retry-After",
                    retryable=True, headers={"Retry-After": retry_after_header(wait)},
                )
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body_bytes:
            return _BodyTooLarge(self.max_body_bytes)
        return None

    def _check_key(self, key: str | None, address: str) -> ApiError | None:
        """The key's 401/403, or 429 for an address out of failed attempts (see ratelimit.py)."""
        if key is not None:
            wait = self.failed_keys.wait(address)
            if wait > 0:
                return ApiError(
                    429, "too_many_failed_keys",
                    "too many wrong API keys from this address: retry after the time in Retry-After",
                    retryable=True, headers={"Retry-After": retry_after_header(wait)},
                )
        try:
            self.keys.check(key)
        except ApiError as exc:
            if key is not None:
                self.failed_keys.take(address)
            return exc
        return None

    async def _preflight(self, headers: dict[str, str], origin: str | None, send: Send, request_id: str) -> None:
        """Answer OPTIONS: 204 with the CORS grant, 403 for an origin that is not allowed."""
        if origin and headers.get("access-control-request-method") and not self.cors.allows(origin):
            await send_error(send, ApiError(403, "origin_not_allowed", f"origin {origin} is not in ALLOWED_ORIGINS"), request_id)
            return
        # Vary / Allow-Origin are added by `send` like on every response; add the preflight grant.
        grant = self.cors.preflight_grant() if origin and self.cors.allows(origin) else []
        await send({
            "type": "http.response.start", "status": 204,
            "headers": [(b"allow", b"GET, POST, OPTIONS"), *grant],
        })
        await send({"type": "http.response.body", "body": b""})

    def _limited_receive(self, receive: Receive) -> Receive:
        """Wrap `receive` so a body that grows past the limit (no or false Content-Length) is refused."""
        limit = self.max_body_bytes
        seen = [0]

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    raise _BodyTooLarge(limit)
            return message

        return limited

    def _log(self, visit: Visit, status: int) -> None:
        state = visit.state
        log_json(
            self.logger, logging.INFO, "request",
            requestId=visit.request_id,
            method=visit.method,
            path=visit.path,
            route=state.get("route"),
            status=status,
            latencyMs=round((time.perf_counter() - visit.started) * 1000, 3),
            model=state.get("model"),
            endpoint=state.get("endpoint"),
            modelLatencyMs=state.get("model_latency_ms"),
            error=state.get("error_code"),
            client=None if visit.client == "?" else visit.client,
        )
