"""A lean SageMaker Runtime API client for local hosting: InvokeEndpoint over pooled keep-alive HTTP/1.1.

Opt-in with ``MODELPORT_RUNTIME_CLIENT=http`` (default ``boto3``). It speaks exactly the wire format that
boto3's ``sagemaker-runtime`` client speaks to InvokeEndpoint (``POST /endpoints/{name}/invocations``,
``X-Amzn-SageMaker-*`` headers, errors named by ``x-amzn-ErrorType`` with ``OriginalStatusCode`` /
``OriginalMessage``), but without request signing, threads or botocore's per-call machinery, which
cost about 1 ms of CPU per call. Only for plain ``http://`` endpoints that need no AWS signature
(modelport hosting, which takes its token as ``Authorization: Bearer``); real SageMaker always goes
through boto3.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import orjson

from modelport.gateway.errors import ApiError
from modelport.net.upstream import UpstreamError, UpstreamPool

__all__ = ["RuntimeHttpClient", "RuntimeHttpError", "UpstreamError", "runtime_error", "unavailable"]

MAX_IDLE = 64  # idle keep-alive connections kept per gateway process


class RuntimeHttpError(Exception):
    """The Runtime API answered an error: its type (x-amzn-ErrorType), message and modelled fields."""

    def __init__(self, code: str, message: str, fields: dict) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class RuntimeHttpClient:
    """InvokeEndpoint over a pool of keep-alive connections to one `http://host:port` base URL.

    Connections belong to the event loop that opened them; once that loop is closed (a new
    ``asyncio.run``, as in tests) the pool starts afresh on the next one.
    """

    def __init__(self, base_url: str, token: str = "") -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the http runtime client needs a plain http:// URL, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self._auth = [("Authorization", f"Bearer {token}")] if token else []
        self._pool: UpstreamPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def invoke(
        self, endpoint: str, body: bytes, headers: dict[str, str], timeout: float | None = None,
    ) -> tuple[int, dict[str, str], bytes, float]:
        """POST the invocation; returns (status, lower-case headers, body, milliseconds).

        Raises ``asyncio.TimeoutError`` after `timeout` seconds and ``UpstreamError`` when the
        connection fails (``answered`` tells whether a response had begun).
        """
        if self._loop is None or self._loop.is_closed():  # (get_running_loop() costs a getpid() call)
            self.close()
            self._pool = UpstreamPool(self.host, self.port, max_idle=MAX_IDLE)
            self._loop = asyncio.get_running_loop()
        started = time.perf_counter()
        response = await self._pool.request(
            "POST", f"{self.prefix}/endpoints/{endpoint}/invocations", [*headers.items(), *self._auth], body,
            timeout=timeout,
        )
        return response.status, response.headers, response.body, round((time.perf_counter() - started) * 1000, 3)

    def close(self) -> None:
        """Close the idle connections."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def runtime_error(status: int, headers: dict[str, str], body: bytes) -> RuntimeHttpError:
    """The Runtime API error in a non-2xx answer, read the way botocore reads rest-json errors."""
    code = headers.get("x-amzn-errortype", "").split(":", 1)[0]
    fields: dict = {}
    try:
        parsed = orjson.loads(body) if body else {}
        if isinstance(parsed, dict):
            fields = parsed
    except orjson.JSONDecodeError:
        pass
    code = code or str(fields.get("__type") or fields.get("code") or "").rsplit("#", 1)[-1] or f"HTTP{status}"
    message = str(fields.get("message") or fields.get("Message") or body[:200].decode("utf-8", "replace"))
    return RuntimeHttpError(code, message, fields)


def unavailable(endpoint: str) -> ApiError:
    """The 503 for a Runtime API that cannot be reached."""
    return ApiError(
        503, "backend_unavailable",
        f"the SageMaker Runtime API is not reachable for endpoint {endpoint} (is hosting running?)",
        retryable=True, headers={"Retry-After": "2"},
    )
