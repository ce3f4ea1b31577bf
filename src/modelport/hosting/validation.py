"""Checks on control-plane requests, with SageMaker's wording for the errors botocore does not catch
client-side (botocore checks required members and minimum lengths; SageMaker checks the rest)."""

from __future__ import annotations

import re
from typing import Any

from modelport.hosting.errors import validation
from modelport.hosting.multi_model.config import BUDGET_KEYS
from modelport.runtime.environment import BATCH_KEYS, batching_setting_error

NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
_NAME = re.compile(NAME_PATTERN[1:])  # matched with fullmatch: `$` would let a trailing newline pass
_ENV_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


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
    if not isinstance(value, str) or not _NAME.fullmatch(value):
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
        if not _ENV_KEY.fullmatch(key) or len(key) > 1024:
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
        if serverless:
            serverless_config(variant, vname, len(variants))
        fixed["InitialVariantWeight"] = float(number(variant.get("InitialVariantWeight", 1.0),
                                                     f"{where}.initialVariantWeight", 0))
        out.append(fixed)
    return out


def shadow_variants(shadows: Any, production: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ShadowProductionVariants``: as SageMaker, exactly one, next to exactly one production variant, with a name
    of its own. Returns them with defaults filled in (an empty list when absent)."""
    if shadows is None:
        return []
    if not isinstance(shadows, list) or len(shadows) != 1 or len(production) != 1:
        raise validation(f"With ShadowProductionVariants, specify exactly one variant in ProductionVariants and "
                         f"exactly one in ShadowProductionVariants (got {len(production)} and "
                         f"{len(shadows) if isinstance(shadows, list) else shadows!r}).")
    out = production_variants(shadows)
    if out[0]["VariantName"].lower() == production[0]["VariantName"].lower():
        raise validation(f"The VariantName {out[0]['VariantName']} appears more than once; variant names must be "
                         f"unique within an endpoint configuration, shadow variants included.")
    return out


SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)


def serverless_config(variant: dict[str, Any], vname: str, variant_count: int) -> None:
    """A serverless variant, as SageMaker checks it: ``ServerlessConfig`` alone (no InstanceType or
    InitialInstanceCount), MemorySizeInMB in 1 GB steps from 1024 to 6144, ProvisionedConcurrency ≤
    MaxConcurrency (the ranges are checked by the input shapes), and the endpoint's only variant."""
    config = variant["ServerlessConfig"]
    for key in ("InstanceType", "InitialInstanceCount"):
        if variant.get(key) is not None:
            raise validation(f"Production variant {vname} has ServerlessConfig and {key}; a serverless variant "
                             f"takes ServerlessConfig only (remove InstanceType and InitialInstanceCount).")
    memory = config.get("MemorySizeInMB")
    if memory not in SERVERLESS_MEMORY_SIZES:
        raise constraint(memory, "productionVariants.member.serverlessConfig.memorySizeInMB",
                         f"Member must be one of {', '.join(map(str, SERVERLESS_MEMORY_SIZES))} (1 GB increments)")
    provisioned = config.get("ProvisionedConcurrency")
    if provisioned is not None and provisioned > config.get("MaxConcurrency", 0):
        raise validation(f"ProvisionedConcurrency ({provisioned}) of production variant {vname} must be less than "
                         f"or equal to MaxConcurrency ({config.get('MaxConcurrency')}).")
    if variant_count > 1:
        raise validation(f"Production variant {vname} is serverless; a serverless endpoint configuration has "
                         f"exactly one production variant (SageMaker does not support multiple variants there).")


def serverless_exclusions(variants: list[dict[str, Any]], params: dict[str, Any]) -> None:
    """What a serverless endpoint config cannot have, as on SageMaker: shadow variants and data capture."""
    serverless = next((v["VariantName"] for v in variants if v.get("ServerlessConfig")), None)
    if serverless is None:
        return
    for key in ("ShadowProductionVariants", "DataCaptureConfig"):
        if params.get(key):
            raise validation(f"Production variant {serverless} is serverless, and serverless endpoints do not support "
                             f"{key} (SageMaker's feature exclusions); remove it or use instances.")


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


# --- what a model's Environment may not set, and the caps on instances and workers -------------------

# Keys that change how an instance's process starts or where it finds code: with them a caller could
# run code that is not in an archive under the allowed model roots. Hosting's own settings
# (MODELPORT_*) are set on hosting, never per model — except the model's own batching settings
# (BATCH_KEYS), which are checked as numbers within the runtime's bounds.
FORBIDDEN_ENV_PREFIXES = ("LD_", "DYLD_", "PYTHON", "MODELPORT_", "PIP_", "GIT_")
FORBIDDEN_ENV_KEYS = frozenset({
    "PATH", "HOME", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "GCONV_PATH", "LOCPATH",
    "GLIBC_TUNABLES", "XDG_CONFIG_HOME", "SSLKEYLOGFILE", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT",
    "RUBYLIB", "NODE_OPTIONS", "NODE_PATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
})
WORKERS_KEY = "SAGEMAKER_MODEL_SERVER_WORKERS"
PROGRAM_KEY = "SAGEMAKER_PROGRAM"
_PROGRAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.py)?")


def forbidden_environment(env: Any, where: str) -> None:
    """Refuse Environment keys that would let a model run code from outside its archive (see above)."""
    for key in env or {}:
        upper = str(key).upper()
        if key in BATCH_KEYS:
            problem = batching_setting_error(key, env[key])
            if problem is not None:
                raise validation(f"{where}.Environment {problem}")
            continue
        if key in BUDGET_KEYS:  # a multi-model instance's budget (checked by multi_model.config)
            continue
        if upper in FORBIDDEN_ENV_KEYS or upper.startswith(FORBIDDEN_ENV_PREFIXES):
            raise validation(
                f"{where}.Environment may not set {key}: modelport hosting refuses keys that change how the "
                f"model server starts or where it finds code ({', '.join(p + '*' for p in FORBIDDEN_ENV_PREFIXES)}, "
                f"{', '.join(sorted(FORBIDDEN_ENV_KEYS))}); an endpoint runs only its archive's code. "
                f"Settings of hosting itself (MODELPORT_*) are set where hosting runs; of those a model may set "
                f"only {', '.join(BATCH_KEYS + BUDGET_KEYS)}."
            )
    program = (env or {}).get(PROGRAM_KEY)
    if program is not None and not _PROGRAM.fullmatch(program.strip()):
        raise validation(f"{where}.Environment {PROGRAM_KEY}={program!r} must name a module in the archive's code/ "
                         f"folder, such as inference or inference.py (no folders).")


def model_server_workers(env: Any, where: str, maximum: int) -> None:
    """``SAGEMAKER_MODEL_SERVER_WORKERS``, when set, is a whole number from 1 to ``maximum``."""
    value = (env or {}).get(WORKERS_KEY)
    if value is None:
        return
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= maximum:
        raise validation(f"{where}.Environment {WORKERS_KEY}={value!r} must be a whole number from 1 to {maximum} "
                         f"(modelport hosting's cap, MODELPORT_HOSTING_MAX_MODEL_WORKERS).")


def _count(variant: dict[str, Any]) -> int:
    return int(variant.get("InitialInstanceCount") or 1)  # a serverless variant runs one instance


def instance_caps(counts: dict[str, int], per_variant: int, total: int) -> None:
    """Instance counts by variant stay within hosting's caps, per variant and for the whole endpoint."""
    for variant, count in counts.items():
        if count > per_variant:
            raise validation(f"Variant {variant} asks for {count} instances; modelport hosting runs at most "
                             f"{per_variant} per variant (MODELPORT_HOSTING_MAX_INSTANCES_PER_VARIANT).")
    if sum(counts.values()) > total:
        raise validation(f"The endpoint would run {sum(counts.values())} instances; modelport hosting runs at most "
                         f"{total} per endpoint (MODELPORT_HOSTING_MAX_INSTANCES).")


def variant_counts(variants: list[dict[str, Any]]) -> dict[str, int]:
    """Each production variant's instance count (``InitialInstanceCount``; 1 for a serverless variant)."""
    return {v["VariantName"]: _count(v) for v in variants}
