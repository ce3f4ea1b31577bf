"""The only way the gateway reaches models: the SageMaker Runtime API through boto3.

Locally ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` points at modelport's hosting, and the gateway presents
hosting's token (``MODELPORT_HOSTING_TOKEN``, else the token file under ``MODELPORT_HOME``) as its
access key id; in Lambda it is real SageMaker with the function's role. boto3 is imported and its clients are built on first use, not at import (cold starts).
SageMaker's errors are translated here into the gateway's JSON errors (``ModelError`` → 502 with the
model's own status and message, timeouts → 504, not ready → 503, ...).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.gateway.errors import ApiError
from modelport.gateway.settings import GatewaySettings

DEFAULT_REGION = "us-east-1"
STATUS_TIMEOUT_S = 3.0
STATUS_CACHE_S = 5.0


@dataclass(frozen=True)
class Invocation:
    """What a model answered: the body as bytes, its content type, the variant, the call's duration."""

    body: bytes
    content_type: str | None
    variant: str | None
    latency_ms: float


# InvokeEndpoint's optional fields: (boto3 parameter, the HTTP header it travels in on the wire).
_INVOKE_FIELDS = (
    ("ContentType", "Content-Type"),
    ("Accept", "Accept"),
    ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
)


def _optional_fields(*values: str | None) -> list[tuple[str, str, str]]:
    """(parameter, header, value) for each given optional field, in _INVOKE_FIELDS order."""
    return [(param, header, value) for (param, header), value in zip(_INVOKE_FIELDS, values) if value]


class SageMakerBackend:
    """Lazily built boto3 clients for the SageMaker Runtime (invoke) and control (status) APIs."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.timeout = settings.backend_timeout
        self.runtime_url = settings.runtime_endpoint_url or None
        # hosting serves the control API on the same port as the runtime API
        self.control_url = settings.control_endpoint_url or self.runtime_url
        self.region = settings.region or None
        self.local = settings.run_mode == "local"
        self.hosting_token = settings.hosting_token or (_token_file_value() if self.local and self.runtime_url else "")
        self._lock = threading.Lock()
        self._runtime = None
        self._control = None
        self._status_cache: dict[str, tuple[float, dict]] = {}
        self.http = None  # the lean client, when MODELPORT_RUNTIME_CLIENT=http
        self.config_error: str | None = None
        choice = settings.runtime_client.strip().lower() or "boto3"
        if choice == "http":
            if self.runtime_url and self.runtime_url.startswith("http://"):
                from modelport.gateway.runtime_http import RuntimeHttpClient

                self.http = RuntimeHttpClient(self.runtime_url, token=self.hosting_token)
            else:
                self.config_error = (
                    "MODELPORT_RUNTIME_CLIENT=http needs AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME set to a plain http:// URL "
                    "(modelport hosting); using boto3"
                )
        elif choice != "boto3":
            self.config_error = f"MODELPORT_RUNTIME_CLIENT={settings.runtime_client!r} is not known; accepted: boto3, http (using boto3)"

    # ---- clients -------------------------------------------------------------------------------
    def _session_kwargs(self) -> dict[str, Any]:
        """Region and, for local hosting, its token as the access key id (hosting checks no signature)."""
        kwargs: dict[str, Any] = {"region_name": self.region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION}
        if self.local and self.runtime_url and (self.hosting_token or not _has_aws_credentials()):
            kwargs.update(aws_access_key_id=self.hosting_token or "modelport", aws_secret_access_key="modelport")
        return kwargs

    def runtime_client(self):
        """The `sagemaker-runtime` client (built once, thread-safe)."""
        if self._runtime is None:
            with self._lock:
                if self._runtime is None:
                    import boto3
                    from botocore.config import Config

                    config = Config(
                        connect_timeout=min(5.0, self.timeout),
                        read_timeout=self.timeout,
                        retries={"mode": "standard", "total_max_attempts": 1},
                        max_pool_connections=64,
                        tcp_keepalive=True,
                    )
                    self._runtime = boto3.session.Session(**self._session_kwargs()).client(
                        "sagemaker-runtime", endpoint_url=self.runtime_url, config=config
                    )
        return self._runtime

    def control_client(self):
        """The `sagemaker` control-plane client, used only to read endpoint status."""
        if self._control is None:
            with self._lock:
                if self._control is None:
                    import boto3
                    from botocore.config import Config

                    config = Config(
                        connect_timeout=STATUS_TIMEOUT_S, read_timeout=STATUS_TIMEOUT_S,
                        retries={"mode": "standard", "total_max_attempts": 1},
                    )
                    self._control = boto3.session.Session(**self._session_kwargs()).client(
                        "sagemaker", endpoint_url=self.control_url, config=config
                    )
        return self._control

    # ---- invoke --------------------------------------------------------------------------------
    def invoke_sync(
        self,
        endpoint: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        *,
        custom_attributes: str | None = None,
        target_variant: str | None = None,
    ) -> Invocation:
        """Call InvokeEndpoint (blocking) and return the answer; raises ApiError on any failure."""
        params: dict[str, Any] = {"EndpointName": endpoint, "Body": body}
        params.update({param: value for param, _, value in _optional_fields(content_type, accept, custom_attributes, target_variant)})
        client = self.runtime_client()
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
        """InvokeEndpoint bounded by the backend timeout (→ 504): boto3 in a worker thread, or the lean client."""
        if self.http is not None:
            return await self._invoke_http(endpoint, body, content_type, accept, **extra)
        import anyio

        def call() -> Invocation:
            return self.invoke_sync(endpoint, body, content_type, accept, **extra)

        # botocore's read timeout normally fires first; this also bounds connects and slow trickles.
        with anyio.move_on_after(self.timeout + 1.0):
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        raise _timeout_error(endpoint, self.timeout)

    async def _invoke_http(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, custom_attributes: str | None = None, target_variant: str | None = None,
    ) -> Invocation:
        """InvokeEndpoint with the lean pooled HTTP client (local hosting only)."""
        # imported here, not at module top: httptools is not shipped to Lambda, where boto3 is used
        from modelport.gateway.runtime_http import UpstreamError, runtime_error, unavailable

        headers = {header: value for _, header, value in _optional_fields(content_type, accept, custom_attributes, target_variant)}
        try:
            status, answer_headers, payload, latency_ms = await self.http.invoke(endpoint, body, headers, timeout=self.timeout)
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError since Python 3.11
            raise _timeout_error(endpoint, self.timeout) from None
        except UpstreamError as exc:
            if exc.answered:  # a response had begun: malformed or cut short
                raise ApiError(502, "backend_error", f"the Runtime API sent a malformed or cut-short answer for endpoint {endpoint}", retryable=True) from None
            raise unavailable(endpoint) from None
        except OSError:
            raise unavailable(endpoint) from None
        if status >= 300:
            error = runtime_error(status, answer_headers, payload)
            raise service_error(error.code, error.message, error.fields, endpoint)
        return Invocation(
            body=payload,
            content_type=answer_headers.get("content-type"),
            variant=answer_headers.get("x-amzn-invoked-production-variant"),
            latency_ms=latency_ms,
        )

    # ---- status --------------------------------------------------------------------------------
    def status_sync(self, endpoint: str) -> dict[str, Any]:
        """Live status of an endpoint from DescribeEndpoint (cached a few seconds); never raises."""
        cached = self._status_cache.get(endpoint)
        now = time.monotonic()
        if cached and now - cached[0] < STATUS_CACHE_S:
            return cached[1]
        try:
            described = self.control_client().describe_endpoint(EndpointName=endpoint)
            status = {
                "status": described.get("EndpointStatus", "unknown"),
                "variants": [
                    {
                        "name": v.get("VariantName"),
                        "instances": v.get("CurrentInstanceCount"),
                        "weight": v.get("CurrentWeight"),
                    }
                    for v in described.get("ProductionVariants") or []
                ],
            }
            if described.get("FailureReason"):
                status["failureReason"] = described["FailureReason"]
        except Exception as exc:  # noqa: BLE001 - status is best effort
            code = _error_code(exc)
            if code == "ValidationException" and "not find" in str(exc).lower():
                status = {"status": "NotFound", "reason": f"no endpoint named {endpoint}"}
            else:
                status = {"status": "unknown", "reason": f"the backend cannot tell ({code or type(exc).__name__})"}
        self._status_cache[endpoint] = (now, status)
        return status

    async def statuses(self, endpoints: list[str]) -> dict[str, dict[str, Any]]:
        """Live status of several endpoints, looked up concurrently."""
        import anyio

        results: dict[str, dict[str, Any]] = {}
        # building the client (loading botocore's large SageMaker model) is not part of the time limit
        try:
            await anyio.to_thread.run_sync(self.control_client)
        except Exception as exc:  # noqa: BLE001 - status is best effort
            reason = f"the backend cannot tell ({type(exc).__name__})"
            return {name: {"status": "unknown", "reason": reason} for name in endpoints}

        async def one(name: str) -> None:
            results[name] = await anyio.to_thread.run_sync(self.status_sync, name, abandon_on_cancel=True)

        with anyio.move_on_after(STATUS_TIMEOUT_S * 2):
            async with anyio.create_task_group() as group:
                for name in endpoints:
                    group.start_soon(one, name)
        for name in endpoints:
            results.setdefault(name, {"status": "unknown", "reason": "the status lookup timed out"})
        return results


def _token_file_value() -> str:
    """Hosting's token from the file under MODELPORT_HOME, or "" when there is none (never created here)."""
    from modelport.token import TokenError, load

    try:
        return load(create=False).value
    except (OSError, TokenError):
        return ""


def _has_aws_credentials() -> bool:
    """Whether AWS credentials are configured in the environment or the shared files (no network)."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    shared = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or str(Path.home() / ".aws" / "credentials")
    return Path(shared).is_file()


def _error_code(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return (response.get("Error") or {}).get("Code")
    return None


def _timeout_error(endpoint: str, timeout: float) -> ApiError:
    return ApiError(
        504, "backend_timeout", f"endpoint {endpoint} did not answer within {timeout:g} s", retryable=True,
    )


def translate_error(exc: Exception, endpoint: str, timeout: float) -> ApiError:
    """Map a boto3/botocore failure of InvokeEndpoint to the gateway's error for the client."""
    from botocore import exceptions as bex

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, (bex.ReadTimeoutError,)):
        return _timeout_error(endpoint, timeout)
    if isinstance(exc, (bex.ConnectTimeoutError, bex.EndpointConnectionError, bex.ConnectionClosedError)):
        return ApiError(
            503, "backend_unavailable",
            f"the SageMaker Runtime API is not reachable for endpoint {endpoint} (is hosting running?)",
            retryable=True, headers={"Retry-After": "2"},
        )
    if isinstance(exc, bex.NoCredentialsError):
        return ApiError(502, "backend_misconfigured", "the gateway has no AWS credentials to call SageMaker")
    if not isinstance(exc, bex.ClientError):
        return ApiError(502, "backend_error", f"calling endpoint {endpoint} failed ({type(exc).__name__})", retryable=True)
    response = exc.response
    code = _error_code(exc) or "Unknown"
    message = (response.get("Error") or {}).get("Message") or str(exc)
    return service_error(code, message, response, endpoint)


def service_error(code: str, message: str, fields: dict, endpoint: str) -> ApiError:
    """Map a SageMaker Runtime error (its type, message and modelled fields) to the gateway's error."""
    if code == "ModelError":
        model_status = fields.get("OriginalStatusCode")
        model_message = fields.get("OriginalMessage") or message
        return ApiError(
            502, "model_error", f"the model behind endpoint {endpoint} failed: {model_message}",
            retryable=isinstance(model_status, int) and model_status >= 500,
            modelStatus=model_status, modelMessage=model_message,
        )
    if code == "ValidationError" and "not found" in message.lower():
        return ApiError(503, "endpoint_not_found", f"endpoint {endpoint} does not exist (not deployed yet?): {message}")
    if code == "ValidationError":
        return ApiError(400, "backend_rejected", f"SageMaker refused the request to endpoint {endpoint}: {message}")
    if code == "ModelNotReadyException":
        return ApiError(503, "model_not_ready", f"endpoint {endpoint} is not ready yet: {message}",
                        retryable=True, headers={"Retry-After": "5"})
    if code in ("ThrottlingException", "TooManyRequestsException"):
        return ApiError(429, "backend_throttled", f"SageMaker is throttling endpoint {endpoint}",
                        retryable=True, headers={"Retry-After": "1"})
    if code == "ServiceUnavailable":
        return ApiError(503, "backend_unavailable", f"endpoint {endpoint} is unavailable: {message}",
                        retryable=True, headers={"Retry-After": "2"})
    if code in ("AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException"):
        return ApiError(502, "backend_misconfigured", f"the gateway may not call endpoint {endpoint}: {message}")
    return ApiError(502, "backend_error", f"SageMaker failed on endpoint {endpoint} ({code}): {message}", retryable=True)
