"""Autoscaling of a stack's endpoints on AWS: the same target-tracking policy modelport hosting runs locally.

``autoscale = "MIN:MAX:TARGET"`` (stack-wide or per model; ``--autoscale``): the endpoint's variant is registered
with Application Auto Scaling (MinCapacity MIN, MaxCapacity MAX instances) with one policy, ``<stack>-invocations``,
tracking ``SageMakerVariantInvocationsPerInstance`` at TARGET invocations per instance per minute (scale-out cooldown
60 s, scale-in 300 s: SageMaker's guidance). Re-running changes only what differs; a model whose ``autoscale`` was
removed is deregistered (its policy with it); ``destroy`` deregisters before deleting the endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.names import Names
from modelport.hosting.deploy import VARIANT

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
SCALE_OUT_COOLDOWN_S = 60
SCALE_IN_COOLDOWN_S = 300


@dataclass(frozen=True)
class Autoscale:
    """A variant's range and its target invocations per instance per minute."""

    minimum: int
    maximum: int
    target: float

    @classmethod
    def parse(cls, text: str) -> "Autoscale":
        """``MIN:MAX:TARGET``, e.g. ``1:4:70``; ValueError saying what is accepted otherwise."""
        parts = text.split(":")
        try:
            low, high, target = int(parts[0]), int(parts[1]), float(parts[2])
            if len(parts) != 3:
                raise ValueError
        except (ValueError, IndexError):
            raise ValueError(f"autoscale {text!r}: write MIN:MAX:TARGET, e.g. 1:4:70 (instances 1 to 4, 70 invocations "
                             f"per instance per minute)") from None
        if not 1 <= low <= high or target <= 0:
            raise ValueError(f"autoscale {text!r}: needs 1 <= MIN <= MAX and TARGET > 0 (SageMaker variants scale "
                             f"between at least one instance and MAX)")
        return cls(low, high, target)


def _resource(endpoint: str) -> dict[str, str]:
    return {"ServiceNamespace": NAMESPACE, "ResourceId": f"endpoint/{endpoint}/variant/{VARIANT}",
            "ScalableDimension": DIMENSION}


def policy_name(names: Names) -> str:
    """The stack's policy name on each autoscaled variant."""
    return f"{names.stack}-invocations"


def _policy_config(scale: Autoscale) -> dict[str, Any]:
    return {"TargetValue": scale.target, "ScaleOutCooldown": SCALE_OUT_COOLDOWN_S,
            "ScaleInCooldown": SCALE_IN_COOLDOWN_S,
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC}}


def ensure_autoscaling(calls: Calls, names: Names, endpoint: str, scale: Autoscale | None) -> str:
    """Bring the endpoint's autoscaling to ``scale`` (None: none); returns created / updated / removed / unchanged."""
    aas = calls.client("application-autoscaling")
    resource = _resource(endpoint)
    targets = aas.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[resource["ResourceId"]],
                                            ScalableDimension=DIMENSION)["ScalableTargets"]
    name = policy_name(names)
    policies = _our_policies(aas, names, resource)
    if scale is None:
        if not policies:
            return "unchanged"  # a target registered by someone else is theirs to keep
        remove_autoscaling(calls, names, endpoint)
        return "removed"
    wanted = _policy_config(scale)
    same_target = targets and (targets[0]["MinCapacity"], targets[0]["MaxCapacity"]) == (scale.minimum, scale.maximum)
    have = policies[0]["TargetTrackingScalingPolicyConfiguration"] if policies else None
    if same_target and have is not None and {k: have.get(k) for k in wanted} == wanted:
        return "unchanged"
    aas.register_scalable_target(**resource, MinCapacity=scale.minimum, MaxCapacity=scale.maximum)
    aas.put_scaling_policy(PolicyName=name, **resource, PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration=wanted)
    return "updated" if targets or policies else "created"


def remove_autoscaling(calls: Calls, names: Names, endpoint: str) -> bool:
    """Delete the stack's policy and deregister the variant; False when there was none."""
    aas = calls.client("application-autoscaling")
    resource = _resource(endpoint)
    if not _our_policies(aas, names, resource):
        return False
    for call in (lambda: aas.delete_scaling_policy(PolicyName=policy_name(names), **resource),
                 lambda: aas.deregister_scalable_target(**resource)):
        try:
            call()
        except ClientError as exc:  # gone meanwhile
            if exc.response.get("Error", {}).get("Code") != "ObjectNotFoundException":
                raise
    return True


def _our_policies(aas: Any, names: Names, resource: dict[str, str]) -> list[dict[str, Any]]:
    return aas.describe_scaling_policies(ServiceNamespace=NAMESPACE, ResourceId=resource["ResourceId"],
                                         ScalableDimension=DIMENSION, PolicyNames=[policy_name(names)])["ScalingPolicies"]
