"""The gateway's SageMaker: the Runtime API through one transport, and the control API for endpoint status.

The transport (``gateway/transports/``) is chosen by ``MODELPORT_RUNTIME_CLIENT``: boto3's
``sagemaker-runtime`` client, or for local hosting's plain ``http://`` URL a pooled keep-alive HTTP
client that speaks the same API. Locally ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` points at modelport's
hosting, and the gateway presents hosting's token (``MODELPORT_HOSTING_TOKEN``, else the token file under
``MODELPORT_HOME``): as the access key id to boto3, as a bearer token over HTTP; in Lambda it is real
SageMaker with the function's role. boto3 is imported and its clients are built on first use, not at
import (cold starts). Every failure reaches the caller as the gateway's ``ApiError``
(``transports/errors.py``: ``ModelError`` → 502 with the model's own status and message, timeouts →
504, not ready → 503, ...).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator

from modelport.gateway.settings import GatewaySettings
from modelport.gateway.transports import Invocation, RuntimeTransport, choose_transport

DEFAULT_REGION = "us-east-1"
STATUS_TIMEOUT_S = 3.0
STATUS_CACHE_S = 5.0


class SageMakerBackend:
    """The Runtime API transport chosen by settings (invocations) and a lazily built control client (status)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.timeout = settings.backend_timeout
        runtime_url = settings.runtime_endpoint_url or None
        # hosting serves the control API on the same port as the runtime API
        self.control_url = settings.control_endpoint_url or runtime_url
        local = settings.run_mode == "local"
        hosting_token = settings.hosting_token or (_token_file_value() if local and runtime_url else "")
        self.session_kwargs = _session_kwargs(settings.region or None, hosting_token if local and runtime_url else None)
        self._lock = threading.Lock()
        self._control = None
        self._status_cache: dict[str, tuple[float, dict]] = {}
        self.transport: RuntimeTransport
        self.transport, self.config_error = choose_transport(
            settings.runtime_client, runtime_url, local=local, hosting_token=hosting_token,
            session_kwargs=self.session_kwargs, timeout=self.timeout,
        )

    # ---- invoke --------------------------------------------------------------------------------
    async def invoke(self, endpoint: str, body: bytes, content_type: str | None, accept: str | None, **extra) -> Invocation:
        """InvokeEndpoint through the transport, bounded by the backend timeout (→ 504); raises ApiError."""
        return await self.transport.invoke(endpoint, body, content_type, accept, **extra)

    def invoke_stream(self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
                      *, idle_timeout: float, **extra) -> AsyncIterator[bytes]:
        """InvokeEndpointWithResponseStream through the transport: the PayloadPart bytes; raises ApiError."""
        return self.transport.invoke_stream(endpoint, body, content_type, accept, idle_timeout=idle_timeout, **extra)

    # ---- control client ------------------------------------------------------------------------
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
                    self._control = boto3.session.Session(**self.session_kwargs).client(
                        "sagemaker", endpoint_url=self.control_url, config=config
                    )
        return self._control

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


def _session_kwargs(region: str | None, local_hosting_token: str | None) -> dict[str, Any]:
    """boto3 session arguments: the region and, for local hosting (``local_hosting_token`` not None), its
    token as the access key id (hosting checks no signature) unless AWS credentials are configured."""
    kwargs: dict[str, Any] = {"region_name": region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION}
    if local_hosting_token is not None and (local_hosting_token or not _has_aws_credentials()):
        kwargs.update(aws_access_key_id=local_hosting_token or "modelport", aws_secret_access_key="modelport")
    return kwargs


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
