"""Checks on control-plane requests, with SageMaker's wording for the errors botocore does not catch
client-side (botocore checks required members and minimum lengths; SageMaker checks the rest)."""

from __future__ import annotations

import re
from typing import Any

from modelport.hosting.errors import validation

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_NAME = re.compile(NAME_PATTERN + r"$")
_ENV_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def constraint(value: Any, member: str, rule: str) -> Exception:
    """AWS's "1 validation error detected" message."""
    return validation(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}")


def require(params: dict[str, Any], key: str) -> Any:
    """A required member (botocore checks this too, but raw HTTP clients may not)."""
    value = params.get(key)
    if value is None or value == "" or value == []:
        raise validation(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to "
                         f"satisfy constraint: Member must not be null")
    return value


def name(params: dict[str, Any], key: str) -> str:
    """A resource name: required, and matching SageMaker's name pattern (1-63 letters, digits, hyphens)."""
    value = require(params, key)
    if not isinstance(value, str) or not _NAME.match(value):
        raise constraint(value, key[0].lower() + key[1:], f"Member must satisfy regular expression pattern: {NAME_PATTERN}")
    return value


def environment(env: Any, where: str) -> None:
    """Container Environment: at most 100 entries, keys like shell variables, keys and values ≤1024."""
    if env is None:
        return
    if not isinstance(env, dict):
        raise validation(f"{where}.Environment must be a map of strings to strings.")
    if len(env) > 100:
        raise constraint(f"{len(env)} entries", f"{where}.environment", "Map must have at most 100 entries")
    for key, value in env.items():
        if not _ENV_KEY.match(key) or len(key) > 1024:
            raise constraint(key, f"{where}.environment", "Map keys must satisfy constraint: [Member must have "
                             "length less than or equal to 1024, Member must satisfy regular expression "
                             "pattern: [a-zA-Z_][a-zA-Z0-9_]*]")
        if not isinstance(value, str) or len(value) > 1024:
            raise constraint(value, f"{where}.environment", "Map value must satisfy constraint: [Member must have "
                             "length less than or equal to 1024, Member must be a string]")


def number(value: Any, member: str, minimum: float, integer: bool = False) -> float:
    """A number not below ``minimum``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (not integer or float(value).is_integer())
    if not ok or value < minimum:
        kind = "integer" if integer else "number"
        raise constraint(value, member, f"Member must be a {kind} greater than or equal to {minimum:g}")
    return value


def production_variants(variants: Any) -> list[dict[str, Any]]:
    """1-10 variants with unique names, a model, a positive instance count and a weight ≥ 0.

    Returns the variants with SageMaker's defaults filled in (``InitialVariantWeight`` 1.0).
    """
    if not isinstance(variants, list) or not 1 <= len(variants) <= 10:
        raise constraint(variants, "productionVariants", "Member must have length between 1 and 10")
    seen: set[str] = set()
    out = []
    for i, variant in enumerate(variants, 1):
        where = f"productionVariants.{i}.member"
        vname = name(variant, "VariantName")
        if vname.lower() in seen:
            raise validation(f"The VariantName {vname} appears more than once; variant names must be unique "
                             f"within an endpoint configuration.")
        seen.add(vname.lower())
        if not variant.get("ModelName"):
            raise validation(f"ModelName is required for production variant {vname}.")
        name(variant, "ModelName")
        fixed = dict(variant)
        serverless = variant.get("ServerlessConfig")
        if variant.get("InitialInstanceCount") is None:
            if not serverless:
                raise validation(f"Either InitialInstanceCount or ServerlessConfig must be specified for "
                                 f"production variant {vname}.")
        else:
            number(variant["InitialInstanceCount"], f"{where}.initialInstanceCount", 1, integer=True)
        fixed["InitialVariantWeight"] = float(number(variant.get("InitialVariantWeight", 1.0),
                                                     f"{where}.initialVariantWeight", 0))
        out.append(fixed)
    return out


def tags(value: Any) -> None:
    """Tags: at most 50 ``{"Key", "Value"}`` objects with non-empty keys (None is fine)."""
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(t, dict) and t.get("Key") for t in value):
        raise validation('Tags must be a list of {"Key": ..., "Value": ...} objects with non-empty keys.')
    if len(value) > 50:
        raise constraint(f"{len(value)} tags", "tags", "Member must have length less than or equal to 50")


_ROUTING_TYPES = ("ALL_AT_ONCE", "CANARY", "LINEAR")
_SIZE_TYPES = ("INSTANCE_COUNT", "CAPACITY_PERCENT")


def _capacity_size(size: Any, member: str) -> None:
    if not isinstance(size, dict):
        raise validation(f"{member} is required for this traffic routing type: "
                         '{"Type": "INSTANCE_COUNT" | "CAPACITY_PERCENT", "Value": N}.')
    if size.get("Type") not in _SIZE_TYPES:
        raise constraint(size.get("Type"), f"{member}.type", f"Member must satisfy enum value set: [{', '.join(_SIZE_TYPES)}]")
    number(size.get("Value"), f"{member}.value", 1, integer=True)
    if size["Type"] == "CAPACITY_PERCENT" and size["Value"] > 100:
        raise constraint(size["Value"], f"{member}.value", "A CAPACITY_PERCENT must be at most 100")


def rollback_guardrails(config: dict[str, Any]) -> None:
    """What decides a rollback: ``AutoRollbackConfiguration`` (``{"Alarms": [{"AlarmName": ...}]}``,
    1-10 alarms, each name 1-255 characters and not blank) and the update's
    ``BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds`` (600-14400, as SageMaker)."""
    member = "deploymentConfig.autoRollbackConfiguration"
    auto = config.get("AutoRollbackConfiguration")
    if auto is not None:
        if not isinstance(auto, dict):
            raise validation('AutoRollbackConfiguration must be an object: {"Alarms": [{"AlarmName": "..."}]}.')
        alarms = auto.get("Alarms")
        if not isinstance(alarms, list) or not 1 <= len(alarms) <= 10:
            raise constraint(alarms, f"{member}.alarms", "Member must have length between 1 and 10")
        for i, alarm in enumerate(alarms, 1):
            alarm_name = alarm.get("AlarmName") if isinstance(alarm, dict) else None
            if not isinstance(alarm_name, str) or not 1 <= len(alarm_name) <= 255 or not alarm_name.strip():
                raise constraint(alarm_name, f"{member}.alarms.{i}.member.alarmName",
                                 "Member must have length between 1 and 255 and satisfy regular expression "
                                 r"pattern: (?!\s*$).+")
    policy = config.get("BlueGreenUpdatePolicy")
    if isinstance(policy, dict) and "MaximumExecutionTimeoutInSeconds" in policy:
        value = policy["MaximumExecutionTimeoutInSeconds"]
        member = "deploymentConfig.blueGreenUpdatePolicy.maximumExecutionTimeoutInSeconds"
        number(value, member, 600, integer=True)
        if value > 14400:
            raise constraint(value, member, "Member must have value less than or equal to 14400")


def deployment_config(config: Any) -> dict[str, Any] | None:
    """``DeploymentConfig``: a ``BlueGreenUpdatePolicy`` (routing type, sizes, waits) and an
    ``AutoRollbackConfiguration`` (see :mod:`modelport.hosting.rollback`) are honoured."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise validation("DeploymentConfig must be an object.")
    rollback_guardrails(config)
    policy = config.get("BlueGreenUpdatePolicy")
    if policy is None:
        return config
    routing = policy.get("TrafficRoutingConfiguration")
    if not isinstance(routing, dict):
        raise validation("BlueGreenUpdatePolicy.TrafficRoutingConfiguration is required.")
    kind = routing.get("Type")
    if kind not in _ROUTING_TYPES:
        raise constraint(kind, "deploymentConfig.blueGreenUpdatePolicy.trafficRoutingConfiguration.type",
                         f"Member must satisfy enum value set: [{', '.join(_ROUTING_TYPES)}]")
    base = "deploymentConfig.blueGreenUpdatePolicy"
    if "WaitIntervalInSeconds" in routing:
        number(routing["WaitIntervalInSeconds"], f"{base}.trafficRoutingConfiguration.waitIntervalInSeconds", 0, True)
    if kind == "CANARY":
        _capacity_size(routing.get("CanarySize"), "CanarySize")
    if kind == "LINEAR":
        _capacity_size(routing.get("LinearStepSize"), "LinearStepSize")
    if "TerminationWaitInSeconds" in policy:
        number(policy["TerminationWaitInSeconds"], f"{base}.terminationWaitInSeconds", 0, integer=True)
    return config
