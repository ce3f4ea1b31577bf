"""Deploy the bundled archives to hosting through the SageMaker API, idempotently."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import ClientError

from modelport.checksum import sha256_of

ROLE = "arn:aws:iam::123456789012:role/modelport-local"


def archive_digest(archive: Path) -> str:
    """A short content hash of the archive: part of the model's name, so a change is visible."""
    return sha256_of(archive)[:12]


def _described(describe: Callable[..., dict], **name: str) -> dict | None:
    """A Describe* call's answer, or None when SageMaker says there is no such resource."""
    try:
        return describe(**name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationException":
            return None
        raise


def _describe(sm: Any, endpoint: str) -> dict | None:
    return _described(sm.describe_endpoint, EndpointName=endpoint)


TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")


def _settled(sm: Any, endpoint: str, timeout: float = 300.0) -> dict | None:
    """DescribeEndpoint once the endpoint is not in the middle of a change (e.g. being restored)."""
    deadline = time.monotonic() + timeout
    described = _describe(sm, endpoint)
    while described is not None and described["EndpointStatus"] in TRANSITIONAL:
        if time.monotonic() > deadline:
            raise RuntimeError(f"endpoint {endpoint} is still {described['EndpointStatus']} after {timeout:g} s")
        time.sleep(0.2)
        described = _describe(sm, endpoint)
    return described


def _serving_model(sm: Any, described: dict) -> str | None:
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    variants = config.get("ProductionVariants") or []
    return variants[0].get("ModelName") if variants else None


def _ensure_model(sm: Any, name: str, archive: Path) -> None:
    if _described(sm.describe_model, ModelName=name) is not None:
        return
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{archive.resolve()}", "Environment": {}},
    )


def _ensure_config(sm: Any, name: str, instances: int) -> None:
    if _described(sm.describe_endpoint_config, EndpointConfigName=name) is not None:
        return
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instances,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0,
        }],
    )


def deploy(sm: Any, endpoint: str, archive: Path, instances: int = 1, wait: Callable[[str], dict] | None = None) -> str:
    """Make ``endpoint`` serve ``archive``; return what was done: unchanged, created or updated.

    An endpoint already serving this archive's content (same model name) is left as it is; one
    serving something else is updated blue/green; a missing one is created.
    """
    name = f"{endpoint}-{archive_digest(archive)}"
    described = _settled(sm, endpoint)
    if described is not None and described["EndpointStatus"] == "Failed":
        sm.delete_endpoint(EndpointName=endpoint)
        from modelport.hosting.client import wait_deleted

        wait_deleted(sm, endpoint)
        described = None
    if described is not None and _serving_model(sm, described) == name:
        action = "unchanged"
    else:
        _ensure_model(sm, name, archive)
        _ensure_config(sm, name, instances)
        if described is None:
            sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)
            action = "created"
        else:
            sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
            action = "updated"
    if wait is not None:
        wait(endpoint)
    return action
