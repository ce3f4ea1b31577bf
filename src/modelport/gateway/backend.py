"""The gateway's SageMaker: the Runtime API through one transport, and the control API for endpoint status.

The transport (``gateway/transports/``) is chosen by ``MODELPORT_RUNTIME_CLIENT``: boto3's
``sagemaker-runtime`` client, or for local hosting's plain ``http://`` URL a pooled keep-alive HTTP
client that speaks the same API. Endpoint status comes from the control API's DescribeEndpoint
(``endpoint_status.py``: over HTTP when the transport is HTTP, else boto3). Locally
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` points at modelport's hosting, which serves both APIs, and the
gateway presents hosting's token (``MODELPORT_HOSTING_TOKEN``, else the token file under
``MODELPORT_HOME``): as the access key id to boto3, as a bearer token over HTTP; in Lambda it is real
SageMaker with the function's role. boto3 is imported and its clients are built on first use, not at
import (cold starts). Every failure reaches the caller as the gateway's ``ApiError``
(``transports/errors.py``: ``ModelError`` → 502 with the model's own status and message, timeouts →
504, not ready → 503, ...).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, AsyncIterator

from modelport.gateway.endpoint_status import Boto3Describer, Describer, EndpointStatus, HttpDescriber
from modelport.gateway.settings import GatewaySettings
from modelport.gateway.transports import Invocation, RuntimeTransport, choose_transport

DEFAULT_REGION = "us-east-1"


class SageMakerBackend:
    """The Runtime API transport chosen by settings (invocations) and endpoint status (``endpoint_status.py``)."""

    def __init__(self, settings: GatewaySettings, transport: RuntimeTransport | None = None) -> None:
        """``transport``: one already built (``modelport up``'s in-process one), instead of the settings' choice."""
        self.timeout = settings.backend_timeout
        runtime_url = settings.runtime_endpoint_url or None
        # hosting serves the control API on the same port as the runtime API
        self.control_url = settings.control_endpoint_url or runtime_url
        local = settings.run_mode == "local"
        hosting_token = settings.hosting_token or (_token_file_value() if local and runtime_url else "")
        self.session_kwargs = _session_kwargs(settings.region or None, hosting_token if local and runtime_url else None)
        self.transport: RuntimeTransport
        self.config_error: str | None = None
        if transport is not None:
            self.transport = transport
        else:
            self.transport, self.config_error = choose_transport(
                settings.runtime_client, runtime_url, local=local, hosting_token=hosting_token,
                session_kwargs=self.session_kwargs, timeout=self.timeout,
            )
        self.endpoint_status = EndpointStatus(_describer(self.transport.name, self.control_url, hosting_token,
                                                         self.session_kwargs))

    # ---- invoke --------------------------------------------------------------------------------
    async def invoke(self, endpoint: str, body: bytes, content_type: str | None, accept: str | None, **extra) -> Invocation:
        """InvokeEndpoint through the transport, bounded by the backend timeout (→ 504); raises ApiError."""
        return await self.transport.invoke(endpoint, body, content_type, accept, **extra)

    def invoke_stream(self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
                      *, idle_timeout: float, **extra) -> AsyncIterator[bytes]:
        """InvokeEndpointWithResponseStream through the transport: the PayloadPart bytes; raises ApiError."""
        return self.transport.invoke_stream(endpoint, body, content_type, accept, idle_timeout=idle_timeout, **extra)

    # ---- status --------------------------------------------------------------------------------
    async def status(self, endpoint: str) -> dict[str, Any]:
        """Live status of an endpoint from DescribeEndpoint (cached a few seconds); never raises."""
        return await self.endpoint_status.status(endpoint)

    async def statuses(self, endpoints: list[str]) -> dict[str, dict[str, Any]]:
        """Live status of several endpoints, looked up concurrently; never raises."""
        return await self.endpoint_status.statuses(endpoints)


def _describer(transport_name: str, control_url: str | None, hosting_token: str,
               session_kwargs: dict[str, Any]) -> Describer:
    """DescribeEndpoint over HTTP when invocations go to local hosting (over HTTP or in process) and the control
    URL is plain http:// too; boto3 otherwise."""
    if transport_name in ("http", "in-process") and control_url and control_url.startswith("http://"):
        return HttpDescriber(control_url, hosting_token)
    return Boto3Describer(control_url, session_kwargs)


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

