"""Deploy a model archive to an endpoint through the SageMaker API: the one copy of the sequence.

    store the archive → CreateModel → CreateEndpointConfig → CreateEndpoint, or a blue/green
    UpdateEndpoint → wait until InService

:func:`deploy_archive` is what ``modelport deploy`` (``cli/hosting.py``), :class:`modelport.sdk.Model`
and ``modelport up`` (``stack/deploy.py``) call. Hosting serves local model data only from
``MODELPORT_HOME``, ``MODELPORT_MODEL_ROOTS`` and ``s3://``, so a local archive is first copied into
the store (``MODELPORT_HOME/artifacts/<model>/``), as a SageMaker user uploads it to S3.

The defaults of a deploy (role, image, variant name, instance type) are defined here once;
``aws/sagemaker.py`` takes the variant, :func:`production_variant` and :func:`endpoint_action` from here
for real SageMaker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLE_ARN = "arn:aws:iam::123456789012:role/modelport-local"  # hosting checks no IAM, but SageMaker wants a role
IMAGE = "modelport"  # hosting runs every image with modelport's runtime
VARIANT = "AllTraffic"  # SageMaker's name for an endpoint's one variant
INSTANCE_TYPE = "ml.m5.large"  # recorded in the endpoint config; a local instance is a process
TRANSITIONAL = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")

Progress = Callable[[str], None]


class DeployError(RuntimeError):
    """The endpoint does not serve the archive; the message says why (and what to do)."""


@dataclass(frozen=True)
class Deployment:
    """What :func:`deploy_archive` did."""

    endpoint: str
    model: str
    config: str
    action: str  # created, updated or unchanged
    described: dict[str, Any] | None  # DescribeEndpoint once InService; None when not waited for


def unique_name(base: str) -> str:
    """``base`` plus the time to the millisecond, within SageMaker's 63 characters."""
    suffix = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1000:03d}"
    return f"{base[: 62 - len(suffix)]}-{suffix}"


def model_data_url(model_data: str | Path) -> str:
    """``s3://`` and ``file://`` URLs as they are; a path as the ``file://`` URL of its absolute path."""
    text = str(model_data)
    if text.startswith(("s3://", "file://")):
        return text
    return f"file://{Path(text).expanduser().resolve()}"


def stored_archive_url(model_name: str, archive: str | Path) -> str:
    """Where a local archive registered as ``model_name`` is kept: ``MODELPORT_HOME/artifacts/<model>/<file>``."""
    from modelport.settings import get_settings

    name = Path(str(archive).removeprefix("file://")).name
    return f"file://{get_settings().path('artifacts', model_name, name).resolve()}"


def in_store(url: str) -> bool:
    """Whether a ``file://`` URL lies under MODELPORT_HOME already (nothing to copy)."""
    from modelport.settings import get_settings

    return Path(url.removeprefix("file://")).resolve().is_relative_to(get_settings().home.resolve())


def store_archive(archive: str | Path, model_name: str, *, upload: str | None = None, copy: bool = True,
                  progress: Progress | None = None) -> str:
    """The ModelDataUrl to register for ``archive``, after copying it where hosting may read it.

    ``upload`` (an ``s3://`` or ``file://`` URI): copy it there. Otherwise, with ``copy``, a local
    archive outside MODELPORT_HOME is copied to ``MODELPORT_HOME/artifacts/<model_name>/``; ``s3://``
    archives and those already in the store are registered where they are.
    """
    from modelport import store

    url = model_data_url(archive)
    if url.startswith("s3://") and not upload:
        return url
    local = url.removeprefix("file://")
    if not Path(local).is_file():
        raise DeployError(f"no such archive: {archive}; pass a model.tar.gz (see `modelport pack`)")
    if not upload and copy and not in_store(url):
        upload = stored_archive_url(model_name, local)
    if not upload:
        return url
    if progress:
        progress(f"uploading {archive} to {upload}")
    store.upload(local, upload)
    return model_data_url(upload)


def describe(call: Callable[..., dict[str, Any]], **name: str) -> dict[str, Any] | None:
    """A Describe* call's answer, or None when SageMaker says there is no such resource."""
    from botocore.exceptions import ClientError

    try:
        return call(**name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ValidationException":
            return None
        raise


def production_variant(model: str, **hosting: Any) -> dict[str, Any]:
    """The one ProductionVariant of a deploy: all traffic to ``model``; ``hosting`` says on what
    (``InstanceType`` + ``InitialInstanceCount``, or a ``ServerlessConfig``)."""
    return {"VariantName": VARIANT, "ModelName": model, "InitialVariantWeight": 1.0, **hosting}


def endpoint_action(described: dict[str, Any] | None, config: str) -> str:
    """What makes an endpoint serve endpoint config ``config``, from its DescribeEndpoint (None: none yet).

    ``create``; ``recreate`` when it Failed (delete it, then create); ``unchanged`` when it is on
    ``config`` already; else ``update`` (blue/green UpdateEndpoint).
    """
    if described is None:
        return "create"
    if described["EndpointStatus"] == "Failed":
        return "recreate"
    if described["EndpointConfigName"] == config:
        return "unchanged"
    return "update"


def register_model(sm: Any, name: str, archive: str | Path, *, environment: dict[str, str] | None = None,
                   image: str = IMAGE, role: str = ROLE_ARN, upload: str | None = None, copy: bool = True,
                   progress: Progress | None = None) -> str:
    """CreateModel ``name`` for ``archive`` (stored first, see :func:`store_archive`) unless it exists; its ModelDataUrl."""
    model_data = store_archive(archive, name, upload=upload, copy=copy, progress=progress)
    if describe(sm.describe_model, ModelName=name) is None:
        sm.create_model(ModelName=name, ExecutionRoleArn=role,
                        PrimaryContainer={"Image": image, "ModelDataUrl": model_data, "Environment": environment or {}})
    return model_data


def settled(sm: Any, endpoint: str, timeout: float, progress: Progress | None = None) -> dict[str, Any] | None:
    """DescribeEndpoint once the endpoint is not in the middle of a change (None: there is no such endpoint)."""
    deadline = time.monotonic() + timeout
    described = describe(sm.describe_endpoint, EndpointName=endpoint)
    while described is not None and described["EndpointStatus"] in TRANSITIONAL:
        if time.monotonic() > deadline:
            raise DeployError(f"endpoint {endpoint} is still {described['EndpointStatus']} after {timeout:g} s")
        if progress:
            progress(f"waiting for endpoint {endpoint}: {described['EndpointStatus']}")
        time.sleep(0.2)
        described = describe(sm.describe_endpoint, EndpointName=endpoint)
    return described


def deploy_archive(
    sm: Any,
    archive: str | Path,
    endpoint: str,
    *,
    model: str | None = None,
    config: str | None = None,
    instances: int = 1,
    instance_type: str = INSTANCE_TYPE,
    environment: dict[str, str] | None = None,
    image: str = IMAGE,
    role: str = ROLE_ARN,
    upload: str | None = None,
    copy: bool = True,
    wait: bool = True,
    timeout: float = 600.0,
    progress: Progress | None = None,
) -> Deployment:
    """Make ``endpoint`` serve ``archive`` (a path, ``file://`` or ``s3://`` URL) through the SageMaker client ``sm``.

    ``model`` / ``config`` name the model and endpoint config; by default fresh names
    (``<endpoint>-<time>``), so every call deploys anew. Names that exist already are reused, and an
    endpoint on ``config`` already is left ``unchanged`` (``modelport up`` names them by the
    archive's digest). An endpoint in the middle of a change is waited for first; a Failed one is
    deleted and created again; another one is updated blue/green. ``upload`` / ``copy``: see
    :func:`store_archive`. With ``wait``, returns once the endpoint is InService (RuntimeError when
    it fails, :class:`DeployError` when an update was rolled back, TimeoutError after ``timeout``).
    ``progress`` receives a line per step (for a status display).
    """
    from modelport.hosting.client import wait_deleted, wait_for_endpoint

    model = model or unique_name(endpoint)
    config = config or unique_name(endpoint)
    current = settled(sm, endpoint, timeout, progress)
    action = endpoint_action(current, config)
    if action != "unchanged":
        register_model(sm, model, archive, environment=environment, image=image, role=role, upload=upload, copy=copy,
                       progress=progress)
        if describe(sm.describe_endpoint_config, EndpointConfigName=config) is None:
            sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
                production_variant(model, InitialInstanceCount=instances, InstanceType=instance_type)])
    if action == "recreate":
        if progress:
            reason = (current.get("FailureReason") or "no reason given").splitlines()[0]
            progress(f"endpoint {endpoint} is Failed ({reason}); recreating it")
        sm.delete_endpoint(EndpointName=endpoint)
        wait_deleted(sm, endpoint)
    if action in ("create", "recreate"):
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    elif action == "update":
        sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    done = {"create": "created", "recreate": "created", "update": "updated"}.get(action, action)
    if not wait:
        return Deployment(endpoint, model, config, done, None)
    described = wait_for_endpoint(sm, endpoint, timeout, on_status=_show(endpoint, done, progress))
    if described["EndpointConfigName"] != config:
        raise DeployError(f"the update of {endpoint} did not take: {described.get('FailureReason', 'no reason given')}")
    return Deployment(endpoint, model, config, done, described)


def _show(endpoint: str, done: str, progress: Progress | None) -> Callable[[dict[str, Any]], None] | None:
    """A DescribeEndpoint watcher that reports the instances ready and the time waited so far."""
    if progress is None:
        return None
    verb = {"created": "creating", "updated": "updating"}.get(done, "waiting for")
    start = time.monotonic()

    def show(described: dict[str, Any]) -> None:
        counts = ", ".join(f"{v['VariantName']} {v.get('CurrentInstanceCount', 0)}/{v.get('DesiredInstanceCount', 0)}"
                           for v in described.get("ProductionVariants", []))
        progress(f"{verb} endpoint {endpoint}: {described['EndpointStatus']} "
                 f"({counts} instances ready, {time.monotonic() - start:.1f} s)")

    return show
