"""What a scalable target and a target-tracking policy may say (checked as Application Auto Scaling does), the
metrics a policy can track, and the target-tracking decision.

Tracked metrics are per-minute rates and averages, as the CloudWatch metrics SageMaker's policies read, computed
from hosting's own counts between two evaluations (:class:`Snapshot`):
- ``SageMakerVariantInvocationsPerInstance`` (predefined): invocations sent to the variant per instance per minute;
- a ``CustomizedMetricSpecification`` in namespace ``AWS/SageMaker`` with dimensions ``EndpointName`` and
  ``VariantName`` of the target, naming one of hosting's exported variant metrics (:data:`CUSTOM_METRICS`);
- for asynchronous endpoints, ``ApproximateBacklogSizePerInstance`` or ``ApproximateBacklogSize`` (dimension
  ``EndpointName`` alone, as SageMaker's async scaling examples, or with ``VariantName``): the backlog at the
  evaluation, a gauge; with it a variant scales from zero once requests wait (0 instances want 1).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

from modelport.hosting.errors import ControlError, validation
from modelport.hosting.validation import NAME_PATTERN
from modelport.metrics import names

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
PREDEFINED = "SageMakerVariantInvocationsPerInstance"
TARGET_TRACKING = "TargetTrackingScaling"
DEFAULT_COOLDOWN_S = 300  # SageMaker variants' default scale-in (and scale-out) cooldown
_NAME = NAME_PATTERN[1:].replace("(", "(?:")  # no capturing groups of its own
_RESOURCE = re.compile(f"endpoint/({_NAME})/variant/({_NAME})")
# metric name → statistics accepted (Sum: per minute; Average: latency in µs, or the share of failed invocations)
CUSTOM_METRICS = {
    names.INVOCATIONS_PER_INSTANCE: ("Sum",),
    names.INVOCATIONS: ("Sum",),
    names.ERRORS_4XX: ("Sum", "Average"),
    names.ERRORS_5XX: ("Sum", "Average"),
    names.MODEL_LATENCY: ("Average",),
    names.OVERHEAD_LATENCY: ("Average",),
    names.BACKLOG_PER_INSTANCE: ("Average",),
    names.BACKLOG: ("Average",),
}
BACKLOG_METRICS = (names.BACKLOG_PER_INSTANCE, names.BACKLOG)  # per endpoint: EndpointName may stand alone


def not_found(message: str) -> ControlError:
    """Application Auto Scaling's ``ObjectNotFoundException`` (400)."""
    return ControlError("ObjectNotFoundException", message)


def variant_of(resource_id: str) -> tuple[str, str]:
    """``endpoint/NAME/variant/VARIANT`` → (NAME, VARIANT)."""
    found = _RESOURCE.fullmatch(resource_id)
    if found is None:
        raise validation(f"Unsupported resource ID {resource_id!r}: for ServiceNamespace sagemaker and "
                         f"{DIMENSION}, the resource ID is endpoint/ENDPOINT_NAME/variant/VARIANT_NAME.")
    return found.group(1), found.group(2)


def scope(params: dict[str, Any]) -> str:
    """The ServiceNamespace, which must be ``sagemaker`` (the only service hosting scales)."""
    namespace = params.get("ServiceNamespace")
    if namespace != NAMESPACE:
        raise validation(f"modelport hosting scales SageMaker endpoint variants only: ServiceNamespace must be "
                         f"sagemaker, not {namespace!r}.")
    return namespace


def dimension(value: Any) -> str:
    """The ScalableDimension, which must be a variant's instance count."""
    if value != DIMENSION:
        raise validation(f"Unsupported scalable dimension {value!r}: modelport hosting scales "
                         f"{DIMENSION} (provisioned concurrency and inference components are not supported).")
    return value


def target_tracking(config: Any, endpoint: str, variant: str, metrics_on: bool) -> dict[str, Any]:
    """A ``TargetTrackingScalingPolicyConfiguration`` on the predefined invocations metric or one of ours."""
    if not isinstance(config, dict):
        raise validation("TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling policy.")
    value = config.get("TargetValue")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise validation(f"TargetValue must be a number greater than 0; got {value!r}.")
    predefined, custom = config.get("PredefinedMetricSpecification"), config.get("CustomizedMetricSpecification")
    if bool(predefined) == bool(custom):
        raise validation("Specify exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification.")
    if predefined:
        kind = predefined.get("PredefinedMetricType")
        if kind != PREDEFINED:
            raise validation(f"Unsupported PredefinedMetricType {kind!r} for {DIMENSION}: modelport hosting tracks "
                             f"{PREDEFINED}, or a CustomizedMetricSpecification.")
    else:
        _custom(custom, endpoint, variant, metrics_on)
    return config


def _custom(spec: dict[str, Any], endpoint: str, variant: str, metrics_on: bool) -> None:
    if "Metrics" in spec:
        raise validation("CustomizedMetricSpecification.Metrics (metric math) is not supported by modelport hosting; "
                         "name one metric with MetricName, Namespace, Dimensions and Statistic.")
    name, statistic = spec.get("MetricName"), spec.get("Statistic")
    accepted = "; ".join(f"{n} ({'/'.join(s)})" for n, s in CUSTOM_METRICS.items())
    if spec.get("Namespace") != "AWS/SageMaker" or name not in CUSTOM_METRICS:
        raise validation(f"Unsupported custom metric {spec.get('Namespace')}/{name}: modelport hosting tracks its "
                         f"variant metrics in namespace AWS/SageMaker: {accepted}.")
    if statistic not in CUSTOM_METRICS[name]:
        raise validation(f"Statistic {statistic!r} is not supported for {name}; accepted: "
                         f"{', '.join(CUSTOM_METRICS[name])}.")
    dimensions = {d.get("Name"): d.get("Value") for d in spec.get("Dimensions") or []}
    if name in BACKLOG_METRICS and dimensions == {"EndpointName": endpoint}:
        return
    if dimensions != {"EndpointName": endpoint, "VariantName": variant}:
        raise validation(f"The custom metric's Dimensions must be EndpointName={endpoint} and VariantName={variant} "
                         f"(the scalable target's); got {dimensions}.")
    if name not in (names.INVOCATIONS_PER_INSTANCE, *BACKLOG_METRICS) and not metrics_on:
        raise validation(f"{name} is measured only with hosting's metrics on; this hosting runs with "
                         f"MODELPORT_METRICS=0.")


@dataclass(frozen=True)
class Snapshot:
    """A variant's running totals at one moment (hosting's counters never go back while the endpoint lives)."""

    at: float
    sent: int  # invocations that reached an instance of this fleet
    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    model_count: int = 0
    model_total: float = 0.0
    overhead_count: int = 0
    overhead_total: float = 0.0
    backlog: int = 0  # asynchronous requests queued or running (a gauge, not a total)

    @classmethod
    def of(cls, fleet: Any, backlog: int = 0) -> "Snapshot":
        """The totals of ``fleet`` (and its variant's metric series, when metrics are on) now, with its endpoint's
        asynchronous ``backlog``."""
        series = fleet.series
        if series is None:
            return cls(time.monotonic(), fleet.invocations, backlog=backlog)
        model, overhead = series.model_latency, series.overhead_latency
        return cls(time.monotonic(), fleet.invocations, series.invocations, series.errors_4xx, series.errors_5xx,
                   sum(model.counts), model.total, sum(overhead.counts), overhead.total, backlog)


def metric_value(config: dict[str, Any], before: Snapshot, after: Snapshot, instances: int) -> float | None:
    """The policy's metric between two snapshots, or None when there is no data point (no latency observed)."""
    minutes = max(after.at - before.at, 1e-6) / 60
    custom = config.get("CustomizedMetricSpecification")
    name = custom["MetricName"] if custom else names.INVOCATIONS_PER_INSTANCE
    if name == names.INVOCATIONS_PER_INSTANCE:
        return (after.sent - before.sent) / max(1, instances) / minutes
    if name in BACKLOG_METRICS:
        return after.backlog / max(1, instances) if name == names.BACKLOG_PER_INSTANCE else float(after.backlog)
    invocations = after.invocations - before.invocations
    if name == names.INVOCATIONS:
        return invocations / minutes
    if name in (names.ERRORS_4XX, names.ERRORS_5XX):
        attr = "errors_4xx" if name == names.ERRORS_4XX else "errors_5xx"
        failed = getattr(after, attr) - getattr(before, attr)
        if custom["Statistic"] == "Sum":
            return failed / minutes
        return failed / invocations if invocations else 0.0
    prefix = "model" if name == names.MODEL_LATENCY else "overhead"
    count = getattr(after, f"{prefix}_count") - getattr(before, f"{prefix}_count")
    return (getattr(after, f"{prefix}_total") - getattr(before, f"{prefix}_total")) / count if count else None


def desired_capacity(current: int, value: float, target: float) -> int:
    """Target tracking: the instance count that brings the metric to ``target`` (proportional, rounded up)."""
    if current <= 0:
        return 1 if value > 0 else 0
    return math.ceil(round(current * value / target, 6))
