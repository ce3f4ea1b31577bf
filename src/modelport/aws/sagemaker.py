"""Per model: a SageMaker model, endpoint config and endpoint; update on change, leave alone otherwise.

Model and endpoint-config names carry a digest of everything that defines them (archive, image,
hosting settings), so an unchanged model maps to the names that already exist, and a changed one
gets new names and a blue/green ``UpdateEndpoint`` onto them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.errors import DeployError, is_missing
from modelport.aws.iam import retry_while_role_propagates
from modelport.aws.names import TAG_KEY, Names
from modelport.aws.progress import Progress
# The variant (name, weight) and the endpoint decision are the local deploy's (one home: hosting/deploy.py).
from modelport.hosting.deploy import endpoint_action, production_variant


@dataclass(frozen=True)
class ModelPlan:
    """What one model's endpoint should be."""

    model: str
    image: str
    archive_uri: str
    role_arn: str
    hosting: dict[str, Any]
    environment: dict[str, str]
    archive_sha256: str

    @property
    def digest(self) -> str:
        """Digest of the definition: same digest, same SageMaker model and endpoint config."""
        text = json.dumps([self.archive_sha256, self.image, self.hosting, self.environment, self.role_arn],
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def container_environment(region: str) -> dict[str, str]:
    """Environment of the framework containers: run code/inference.py from the unpacked archive."""
    return {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": region}


def _unless_missing(call, **params) -> dict[str, Any] | None:
    """``call(**params)``'s answer, or None when AWS says the resource does not exist."""
    try:
        return call(**params)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


def describe_endpoint(calls: Calls, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when there is no such endpoint."""
    return _unless_missing(calls.client("sagemaker").describe_endpoint, EndpointName=name)


def ensure_model_and_config(calls: Calls, names: Names, plan: ModelPlan, progress: Progress,
                            interval: float) -> str:
    """Create the SageMaker model and endpoint config of ``plan`` unless they exist; returns the config name."""
    sm = calls.client("sagemaker")
    version = names.model_version(plan.model, plan.digest)
    if _unless_missing(sm.describe_model, ModelName=version) is None:
        def wait() -> None:
            progress.step("waiting for the new SageMaker role to become usable ...")
            progress.sleep(max(interval, 5.0) if interval else 0)

        retry_while_role_propagates(lambda: sm.create_model(
            ModelName=version, ExecutionRoleArn=plan.role_arn,
            PrimaryContainer={"Image": plan.image, "ModelDataUrl": plan.archive_uri, "Environment": plan.environment},
            Tags=names.tag_list()), wait)
    if _unless_missing(sm.describe_endpoint_config, EndpointConfigName=version) is None:
        sm.create_endpoint_config(EndpointConfigName=version, Tags=names.tag_list(),
                                  ProductionVariants=[production_variant(version, **plan.hosting)])
    return version


def wait_in_service(calls: Calls, name: str, progress: Progress, timeout: float, interval: float) -> str:
    """Poll the endpoint until InService; DeployError with SageMaker's reason when it fails."""
    if calls.plan:
        calls.record("sagemaker", "wait_endpoint_in_service", EndpointName=name)
        return "InService"

    def check() -> tuple[bool, str]:
        described = describe_endpoint(calls, name) or {"EndpointStatus": "Missing"}
        state = described["EndpointStatus"]
        if state in ("Failed", "UpdateRollbackFailed", "Missing"):
            raise DeployError(f"endpoint {name} is {state}: {described.get('FailureReason', 'no reason given')}")
        return state == "InService", state

    return progress.poll(f"endpoint {name}", check, timeout, interval)


def delete_version(calls: Calls, config: str) -> None:
    """Delete an endpoint config no endpoint uses any more, and its model."""
    sm = calls.client("sagemaker")
    described = _unless_missing(sm.describe_endpoint_config, EndpointConfigName=config)
    models = [v["ModelName"] for v in described["ProductionVariants"]] if described else [config]
    _unless_missing(sm.delete_endpoint_config, EndpointConfigName=config)  # already gone is fine
    for model in models:
        _unless_missing(sm.delete_model, ModelName=model)


def start_endpoint(calls: Calls, names: Names, plan: ModelPlan, progress: Progress,
                   timeout: float, interval: float) -> tuple[str, str | None]:
    """Start bringing the model's endpoint to ``plan`` without waiting for it.

    Returns (action, previous config): action is created, updated (blue/green UpdateEndpoint) or
    unchanged; the previous config is set after an update so it can be deleted once the update is done.
    """
    sm = calls.client("sagemaker")
    endpoint = names.endpoint(plan.model)
    wanted = names.model_version(plan.model, plan.digest)
    current = describe_endpoint(calls, endpoint)
    action = endpoint_action(current, wanted)
    if action == "recreate":
        progress.step(f"endpoint {endpoint} is Failed ({current.get('FailureReason', '')}); recreating it")
        sm.delete_endpoint(EndpointName=endpoint)
        _wait_deleted(calls, endpoint, progress, timeout, interval)
    if action == "unchanged":
        if current["EndpointStatus"] != "InService":
            wait_in_service(calls, endpoint, progress, timeout, interval)
        return "unchanged", None
    config = ensure_model_and_config(calls, names, plan, progress, interval)
    if action in ("create", "recreate"):
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config, Tags=names.tag_list())
        return "created", None
    if current["EndpointStatus"] != "InService":
        # UpdateEndpoint is refused while the endpoint is Creating or Updating.
        wait_in_service(calls, endpoint, progress, timeout, interval)
    sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    previous = current["EndpointConfigName"]
    return "updated", previous if previous.startswith(f"{names.stack}-{plan.model}-") else None


def finish_endpoint(calls: Calls, names: Names, model: str, previous: str | None, progress: Progress,
                    timeout: float, interval: float) -> None:
    """Wait until the endpoint is InService, then delete the version it no longer uses."""
    wait_in_service(calls, names.endpoint(model), progress, timeout, interval)
    if previous:
        delete_version(calls, previous)


def _wait_deleted(calls: Calls, endpoint: str, progress: Progress, timeout: float, interval: float) -> None:
    if calls.plan:
        calls.record("sagemaker", "wait_endpoint_deleted", EndpointName=endpoint)
        return

    def check() -> tuple[bool, str]:
        described = describe_endpoint(calls, endpoint)
        return described is None, described["EndpointStatus"] if described else "deleted"

    progress.poll(f"deleting endpoint {endpoint}", check, timeout, interval)


def delete_endpoint(calls: Calls, names: Names, endpoint: str, progress: Progress, timeout: float,
                    interval: float) -> bool:
    """Delete an endpoint and wait until it is gone; False when it did not exist."""
    current = describe_endpoint(calls, endpoint)
    if current is None:
        return False
    if current["EndpointStatus"] != "Deleting":
        calls.client("sagemaker").delete_endpoint(EndpointName=endpoint)
    _wait_deleted(calls, endpoint, progress, timeout, interval)
    return True


def _ours(calls: Calls, names: Names, arn: str) -> bool:
    """Whether the resource carries this stack's tag (another stack may share the name prefix)."""
    listed = _unless_missing(calls.client("sagemaker").list_tags, ResourceArn=arn)
    if listed is None:
        return False
    return {t["Key"]: t["Value"] for t in listed.get("Tags", [])}.get(TAG_KEY) == names.stack


def stack_versions(calls: Calls, names: Names) -> tuple[list[str], list[str]]:
    """Names of the endpoint configs and models of this stack (by name prefix and stack tag)."""
    sm = calls.client("sagemaker")
    prefix = f"{names.stack}-"
    configs = [c["EndpointConfigName"] for page in sm.get_paginator("list_endpoint_configs").paginate(NameContains=prefix)
               for c in page["EndpointConfigs"]
               if c["EndpointConfigName"].startswith(prefix) and _ours(calls, names, c["EndpointConfigArn"])]
    models = [m["ModelName"] for page in sm.get_paginator("list_models").paginate(NameContains=prefix)
              for m in page["Models"] if m["ModelName"].startswith(prefix) and _ours(calls, names, m["ModelArn"])]
    return configs, models


def list_stack_endpoints(calls: Calls, names: Names) -> list[dict[str, Any]]:
    """Endpoints of this stack (by name prefix and stack tag)."""
    sm = calls.client("sagemaker")
    prefix = f"{names.stack}-"
    return [e for page in sm.get_paginator("list_endpoints").paginate(NameContains=prefix)
            for e in page["Endpoints"] if e["EndpointName"].startswith(prefix) and _ours(calls, names, e["EndpointArn"])]
