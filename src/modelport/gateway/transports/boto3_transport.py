"""The Runtime API through boto3's ``sagemaker-runtime`` client: real SageMaker (signed requests), or any URL.

boto3 is imported and the client built on first use, not at import (Lambda cold starts). Blocking calls
run in worker threads; botocore's failures are translated into the gateway's errors with the shared
table (``transports/errors.py``).
"""

from __future__ import annotations

import time
from contextlib import aclosing
from typing import Any, AsyncIterator

from modelport.gateway.boto3_client import LazyClient
from modelport.gateway.chat.stream import thread_stream
from modelport.gateway.errors import ApiError
from modelport.gateway.transports.base import Invocation, optional_fields
from modelport.gateway.transports.errors import (
    call_failed, no_credentials, service_error, stream_idle_error, timeout_error, unavailable,
)


class Boto3Transport:
    """InvokeEndpoint and its response stream with one lazily built, thread-safe boto3 client."""

    name = "boto3"

    def __init__(self, endpoint_url: str | None, session_kwargs: dict[str, Any], timeout: float) -> None:
        self.endpoint_url = endpoint_url
        self.session_kwargs = session_kwargs
        self.timeout = timeout
        self._client = LazyClient(
            "sagemaker-runtime", endpoint_url, session_kwargs,
            connect_timeout=min(5.0, timeout), read_timeout=timeout,
            retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=64, tcp_keepalive=True,
        )

    def client(self):
        """The `sagemaker-runtime` client (built once, thread-safe)."""
        return self._client.get()

    @staticmethod
    def _params(endpoint: str, body: bytes, content_type: str | None, accept: str | None,
                custom_attributes: str | None, target_variant: str | None,
                target_model: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"EndpointName": endpoint, "Body": body}
        fields = optional_fields(content_type, accept, custom_attributes, target_variant, target_model)
        params.update({param: value for param, _, value in fields})
        return params

    def invoke_sync(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, custom_attributes: str | None = None, target_variant: str | None = None, target_model: str | None = None,
    ) -> Invocation:
        """Call InvokeEndpoint (blocking) and return the answer; raises ApiError on any failure."""
        params = self._params(endpoint, body, content_type, accept, custom_attributes, target_variant, target_model)
        client = self.client()
        started = time.perf_counter()
        try:
            response = client.invoke_endpoint(**params)
            payload = response["Body"].read()
        except Exception as exc:  # noqa: BLE001 - every botocore failure becomes a JSON error
            raise translate_error(exc, endpoint, self.timeout) from None
        return Invocation(
            body=payload,
            content_type=response.get("ContentType"),
            variant=response.get("InvokedProductionVariant"),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    async def invoke(self, endpoint: str, body: bytes, content_type: str | None, accept: str | None, **extra) -> Invocation:
        """InvokeEndpoint in a worker thread, bounded by the backend timeout (→ 504)."""
        import anyio

        def call() -> Invocation:
            return self.invoke_sync(endpoint, body, content_type, accept, **extra)

        # botocore's read timeout normally fires first; this also bounds connects and slow trickles.
        with anyio.move_on_after(self.timeout + 1.0):
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        raise timeout_error(endpoint, self.timeout)

    async def invoke_stream(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, idle_timeout: float, custom_attributes: str | None = None, target_variant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """InvokeEndpointWithResponseStream, botocore's EventStream read in a thread; yields PayloadPart bytes."""
        params = self._params(endpoint, body, content_type, accept, custom_attributes, target_variant)

        def open_stream():
            events = self.client().invoke_endpoint_with_response_stream(**params)["Body"]
            return events, events.close

        try:
            # botocore raises an error event (ModelStreamError, ...) as an EventStreamError while iterating
            async with aclosing(thread_stream(open_stream, idle_timeout)) as events:
                async for event in events:
                    part = event.get("PayloadPart")
                    if part is not None:
                        yield part.get("Bytes") or b""
        except TimeoutError:
            raise stream_idle_error(endpoint, idle_timeout) from None
        except Exception as exc:  # noqa: BLE001 - every botocore failure becomes a JSON error
            raise translate_error(exc, endpoint, self.timeout) from None


def translate_error(exc: Exception, endpoint: str, timeout: float) -> ApiError:
    """Map a boto3/botocore failure of a Runtime API call to the gateway's error for the client."""
    from botocore import exceptions as bex

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, bex.ReadTimeoutError):
        return timeout_error(endpoint, timeout)
    if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError, bex.ConnectionClosedError)):
        return unavailable(endpoint)
    if isinstance(exc, bex.NoCredentialsError):
        return no_credentials()
    if not isinstance(exc, bex.ClientError):
        return call_failed(endpoint, type(exc).__name__)
    response = exc.response
    code = (response.get("Error") or {}).get("Code") or "Unknown"
    message = (response.get("Error") or {}).get("Message") or str(exc)
    return service_error(code, message, response, endpoint)
