"""Live endpoint status for ``/models`` and chat's provider choice: DescribeEndpoint, cached a few seconds.

Two ways to ask, picked as the Runtime API transport is (``transports.choose_transport``):

- ``HttpDescriber``: local hosting's plain-``http://`` control API over pooled keep-alive connections
  (``net/upstream.py``, hosting's token as a bearer token). That pool closes a connection as soon as
  hosting hangs up on it, so an idle gateway holds no half-closed sockets (hosting closes idle keep-alive
  connections after 15 s; boto3's urllib3 pool notices only when it next reuses one, and the soak found
  the gateway holding a CLOSE_WAIT socket between status lookups).
- ``Boto3Describer``: boto3's ``sagemaker`` client in a worker thread, for real SageMaker (signed requests).

Status is best effort: a lookup never raises, it answers ``unknown`` with a reason.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import anyio
import orjson

from modelport.gateway.boto3_client import LazyClient

STATUS_TIMEOUT_S = 3.0
STATUS_CACHE_S = 5.0


class DescribeFailed(Exception):
    """DescribeEndpoint failed: ``code`` is the AWS error name when the service answered, else None."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code


class Describer(Protocol):
    """One DescribeEndpoint call."""

    async def prepare(self) -> None:
        """Build what the first call needs (not counted in the status time limit)."""
        ...

    async def describe(self, endpoint: str) -> dict[str, Any]:
        """DescribeEndpoint's answer; raises DescribeFailed."""
        ...


class HttpDescriber:
    """DescribeEndpoint as AWS JSON 1.1 (``POST /``, ``X-Amz-Target: SageMaker.DescribeEndpoint``) to hosting."""

    def __init__(self, control_url: str, token: str) -> None:
        from modelport.gateway.transports.http_transport import bearer, plain_http_address
        from modelport.net.upstream import LoopBoundPool

        host, port, self.prefix = plain_http_address(control_url)
        self._pools = LoopBoundPool(host, port, max_idle=4)
        self._headers = [("X-Amz-Target", "SageMaker.DescribeEndpoint"),
                         ("Content-Type", "application/x-amz-json-1.1"), *bearer(token)]

    async def prepare(self) -> None:
        """Nothing to build."""

    async def describe(self, endpoint: str) -> dict[str, Any]:
        """POST the call on a pooled connection, bounded by STATUS_TIMEOUT_S."""
        from modelport.gateway.transports.wire import aws_error
        from modelport.net.upstream import UpstreamError

        body = orjson.dumps({"EndpointName": endpoint})
        try:
            response = await self._pools.get().request("POST", self.prefix + "/", self._headers, body,
                                                       timeout=STATUS_TIMEOUT_S)
        except (UpstreamError, OSError, TimeoutError) as exc:
            raise DescribeFailed(None, str(exc) or type(exc).__name__) from None
        if response.status >= 300:
            code, message, _ = aws_error(response.status, response.headers, response.body)
            raise DescribeFailed(code, message)
        try:
            described = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            raise DescribeFailed(None, "the answer is not JSON") from None
        if not isinstance(described, dict):
            raise DescribeFailed(None, "the answer is not a JSON object")
        return described

    def close(self) -> None:
        """Close the idle connections."""
        self._pools.close()


class Boto3Describer:
    """DescribeEndpoint with one lazily built boto3 ``sagemaker`` client, called in a worker thread."""

    def __init__(self, control_url: str | None, session_kwargs: dict[str, Any]) -> None:
        self._client = LazyClient("sagemaker", control_url, session_kwargs,
                                  connect_timeout=STATUS_TIMEOUT_S, read_timeout=STATUS_TIMEOUT_S,
                                  retries={"mode": "standard", "total_max_attempts": 1})

    def client(self):
        """The ``sagemaker`` client (built once; loading botocore's SageMaker model takes a while)."""
        return self._client.get()

    async def prepare(self) -> None:
        """Build the client in a thread."""
        try:
            await anyio.to_thread.run_sync(self.client)
        except Exception as exc:  # noqa: BLE001 - status is best effort
            raise DescribeFailed(None, type(exc).__name__) from None

    async def describe(self, endpoint: str) -> dict[str, Any]:
        """The blocking call in a worker thread (abandoned, not waited for, when the lookup is cancelled)."""

        def call() -> dict[str, Any]:
            try:
                return self.client().describe_endpoint(EndpointName=endpoint)
            except Exception as exc:  # noqa: BLE001 - status is best effort
                response = getattr(exc, "response", None)
                code = (response.get("Error") or {}).get("Code") if isinstance(response, dict) else None
                raise DescribeFailed(code, str(exc) if code else type(exc).__name__) from None

        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)

    def close(self) -> None:
        """Nothing to close: urllib3's connections go with the client."""


class EndpointStatus:
    """Endpoint status as the gateway reports it, from one describer, each answer cached STATUS_CACHE_S."""

    def __init__(self, describer: Describer) -> None:
        self.describer = describer
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def status(self, endpoint: str) -> dict[str, Any]:
        """``{"status": ..., "variants": [...]}`` (or a reason when it cannot tell); never raises."""
        cached = self._cache.get(endpoint)
        now = time.monotonic()
        if cached and now - cached[0] < STATUS_CACHE_S:
            return cached[1]
        try:
            status = summary(await self.describer.describe(endpoint))
        except DescribeFailed as exc:
            if exc.code == "ValidationException" and "not find" in str(exc).lower():
                status = {"status": "NotFound", "reason": f"no endpoint named {endpoint}"}
            else:
                status = {"status": "unknown", "reason": f"the backend cannot tell ({exc.code or exc})"}
        self._cache[endpoint] = (now, status)
        return status

    async def statuses(self, endpoints: list[str]) -> dict[str, dict[str, Any]]:
        """The status of several endpoints, looked up concurrently within 2 x STATUS_TIMEOUT_S."""
        try:
            await self.describer.prepare()
        except DescribeFailed as exc:
            reason = f"the backend cannot tell ({exc})"
            return {name: {"status": "unknown", "reason": reason} for name in endpoints}
        results: dict[str, dict[str, Any]] = {}

        async def one(name: str) -> None:
            results[name] = await self.status(name)

        with anyio.move_on_after(STATUS_TIMEOUT_S * 2):
            async with anyio.create_task_group() as group:
                for name in endpoints:
                    group.start_soon(one, name)
        for name in endpoints:
            results.setdefault(name, {"status": "unknown", "reason": "the status lookup timed out"})
        return results


def summary(described: dict[str, Any]) -> dict[str, Any]:
    """The parts of a DescribeEndpoint answer the gateway shows: status, variants, failure reason."""
    status: dict[str, Any] = {
        "status": described.get("EndpointStatus", "unknown"),
        "variants": [
            {"name": v.get("VariantName"), "instances": v.get("CurrentInstanceCount"), "weight": v.get("CurrentWeight")}
            for v in described.get("ProductionVariants") or []
        ],
    }
    if described.get("FailureReason"):
        status["failureReason"] = described["FailureReason"]
    return status
