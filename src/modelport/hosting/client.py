"""boto3 clients for modelport hosting (or real SageMaker), shared by the CLI and the Python SDK.

The clients present hosting's token (:mod:`modelport.token`) as their access key id, so callers
never handle it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from modelport.hosting.settings import get_hosting_settings
from modelport.token import hosting_token


def local_clients(url: str | None = None, token: str | None = None) -> tuple[Any, Any]:
    """``sagemaker`` and ``sagemaker-runtime`` clients pointed at modelport hosting.

    ``url`` defaults to ``MODELPORT_HOSTING_URL``; ``token`` to hosting's token
    (``MODELPORT_HOSTING_TOKEN``, else the token file under ``MODELPORT_HOME``). The token is the
    access key id; hosting checks no signature, so the secret key is a placeholder.
    """
    import boto3
    from botocore.config import Config

    settings = get_hosting_settings()
    url = url or settings.url
    session = boto3.session.Session()
    creds = {"aws_access_key_id": token or hosting_token(), "aws_secret_access_key": "modelport"}
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32)
    region = session.region_name or settings.region
    sm = boto3.client("sagemaker", endpoint_url=url, region_name=region, config=config, **creds)
    rt = boto3.client("sagemaker-runtime", endpoint_url=url, region_name=region, config=config, **creds)
    return sm, rt


def wait_for_endpoint(
    sm: Any,
    name: str,
    timeout: float = 600.0,
    on_status: Callable[[dict[str, Any]], None] | None = None,
    poll: float = 0.2,
) -> dict[str, Any]:
    """Poll DescribeEndpoint until InService (returned) or Failed (RuntimeError with the reason).

    ``on_status`` sees every DescribeEndpoint answer (progress displays).
    """
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if on_status is not None:
            on_status(described)
        status = described["EndpointStatus"]
        if status == "InService":
            return described
        if status == "Failed":
            raise RuntimeError(f"endpoint {name} failed: {described.get('FailureReason', 'no reason given')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"endpoint {name} is still {status} after {timeout:g} s")
        time.sleep(poll)


def wait_deleted(sm: Any, name: str, timeout: float = 300.0) -> None:
    """Wait until DescribeEndpoint says the endpoint is gone."""
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sm.describe_endpoint(EndpointName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                return
            raise
        time.sleep(0.2)
    raise TimeoutError(f"endpoint {name} was not deleted within {timeout:g} s")


def local_s3_client(url: str | None = None, token: str | None = None) -> Any:
    """A boto3 ``s3`` client for hosting's S3 (same ``url`` and ``token`` defaults as :func:`local_clients`)."""
    import boto3
    from botocore.config import Config

    settings = get_hosting_settings()
    return boto3.client("s3", endpoint_url=url or settings.url, region_name=settings.region,
                        aws_access_key_id=token or hosting_token(), aws_secret_access_key="modelport",
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}))


def hosting_metrics(url: str | None = None, token: str | None = None) -> str | None:
    """Hosting's ``GET /metrics`` text, or None when its metrics are off (MODELPORT_METRICS=0)."""
    import httpx

    url = (url or get_hosting_settings().url).rstrip("/")
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token or hosting_token()}"}, timeout=10)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.text
