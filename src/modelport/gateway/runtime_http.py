"""A lean SageMaker Runtime API client for local hosting: InvokeEndpoint over pooled keep-alive HTTP/1.1.

Opt-in with ``MODELPORT_RUNTIME_CLIENT=http`` (default ``boto3``). It speaks exactly the wire format that
boto3's ``sagemaker-runtime`` client speaks to InvokeEndpoint (``POST /endpoints/{name}/invocations``,
``X-Amzn-SageMaker-*`` headers, errors named by ``x-amzn-ErrorType`` with ``OriginalStatusCode`` /
``OriginalMessage``), but without request signing, threads or botocore's per-call machinery, which
cost about 1 ms of CPU per call. Only for plain ``http://`` endpoints that need no AWS signature
(modelport hosting); real SageMaker always goes through boto3.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import orjson

from modelport.gateway.errors import ApiError

MAX_IDLE = 64  # idle keep-alive connections kept per gateway process


class RuntimeHttpError(Exception):
    """The Runtime API answered an error: its type (x-amzn-ErrorType), message and modelled fields."""

    def __init__(self, code: str, message: str, fields: dict) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class RuntimeHttpClient:
    """InvokeEndpoint over a pool of keep-alive connections to one `http://host:port` base URL."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the http runtime client needs a plain http:// URL, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.host_header = f"{self.host}:{self.port}".encode()
        self._idle: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # connections belong to one event loop

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        return _Connection(reader, writer)

    async def invoke(
        self, endpoint: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, float]:
        """POST the invocation; returns (status, lower-case headers, body, milliseconds)."""
        head = [
            b"POST %s/endpoints/%s/invocations HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
            % (self.prefix.encode(), endpoint.encode(), self.host_header, len(body))
        ]
        head.extend(b"%s: %s\r\n" % (k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        request = b"".join(head) + b"\r\n" + body
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._idle = []  # connections of another (finished) loop cannot be used here
            self._loop = loop
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else await self._connect()
        try:
            status, response_headers, payload, keep = await self._exchange(connection, request)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            connection.close()
            if not reused:
                raise
            # a pooled connection the server had closed while idle: once more on a fresh one
            connection = await self._connect()
            try:
                status, response_headers, payload, keep = await self._exchange(connection, request)
            except BaseException:
                connection.close()
                raise
        except BaseException:  # cancelled (timeout) or broken: never reuse a half-read connection
            connection.close()
            raise
        if keep and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        else:
            connection.close()
        return status, response_headers, payload, round((time.perf_counter() - started) * 1000, 3)

    @staticmethod
    async def _exchange(connection: _Connection, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        connection.writer.write(request)
        reader = connection.reader
        raw_head = await reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            payload = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            payload = b"".join(chunks)
        else:
            payload = await reader.read()
            return status, headers, payload, False
        keep = headers.get("connection", "").lower() != "close"
        return status, headers, payload, keep

    def close(self) -> None:
        """Close the idle connections."""
        while self._idle:
            self._idle.pop().close()


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
