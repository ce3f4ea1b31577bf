"""Blue/green traffic shifting as SageMaker's ``BlueGreenUpdatePolicy`` describes it.

``TrafficRoutingConfiguration.Type``: ``ALL_AT_ONCE`` (the default), ``CANARY`` (a first slice, wait,
then the rest) or ``LINEAR`` (equal steps with a wait after each). A size is a ``CAPACITY_PERCENT``
of the new fleet or an ``INSTANCE_COUNT`` of its instances.
"""

from __future__ import annotations

from typing import Any


def _fraction(size: dict[str, Any], new_instances: int) -> float:
    value = float(size.get("Value", 0))
    if size.get("Type") == "INSTANCE_COUNT":
        return min(1.0, value / max(new_instances, 1))
    return min(1.0, value / 100.0)


def shift_steps(policy: dict[str, Any] | None, new_instances: int) -> list[tuple[float, float]]:
    """``[(fraction of traffic on the new fleet, seconds to wait after it), ...]``, ending at 1.0."""
    routing = (policy or {}).get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type", "ALL_AT_ONCE")
    wait = float(routing.get("WaitIntervalInSeconds", 0))
    if kind == "CANARY":
        first = _fraction(routing.get("CanarySize") or {}, new_instances)
        return [(first, wait), (1.0, 0.0)] if first < 1.0 else [(1.0, 0.0)]
    if kind == "LINEAR":
        step = _fraction(routing.get("LinearStepSize") or {}, new_instances)
        if step <= 0:
            return [(1.0, 0.0)]
        steps, fraction = [], step
        while fraction < 1.0 - 1e-9:
            steps.append((fraction, wait))
            fraction += step
        return steps + [(1.0, 0.0)]
    return [(1.0, 0.0)]


def termination_wait(policy: dict[str, Any] | None) -> float:
    """Seconds the old fleet keeps running after all traffic moved (``TerminationWaitInSeconds``)."""
    return float((policy or {}).get("TerminationWaitInSeconds", 0))


def execution_timeout(policy: dict[str, Any] | None) -> float | None:
    """Seconds the whole update may take (``MaximumExecutionTimeoutInSeconds``), or None: no limit."""
    value = (policy or {}).get("MaximumExecutionTimeoutInSeconds")
    return float(value) if value is not None else None
