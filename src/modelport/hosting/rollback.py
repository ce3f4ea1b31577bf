"""``AutoRollbackConfiguration`` without CloudWatch: every alarm named in ``Alarms`` stands for the
new fleet's server-error rate.

An alarm goes off when, since the update began, more than ``MODELPORT_HOSTING_ROLLBACK_ERROR_RATE``
of the invocations that reached the new fleet failed on the server side (a 5xx answer, a worker that
died while answering, a timeout), over at least ``MODELPORT_HOSTING_ROLLBACK_MIN_REQUESTS``
invocations. Hosting watches it while traffic shifts to the new fleet and during the bake time
(``TerminationWaitInSeconds``); when it goes off, the update rolls back to the old fleet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class CountingFleet(Protocol):
    """What the alarm reads from a fleet."""

    invocations: int
    server_errors: int


def alarm_names(deployment_config: dict[str, Any] | None) -> list[str]:
    """The alarm names of ``AutoRollbackConfiguration`` (empty: no auto-rollback)."""
    rollback = (deployment_config or {}).get("AutoRollbackConfiguration") or {}
    return [alarm["AlarmName"] for alarm in rollback.get("Alarms") or []]


class ErrorRateAlarm:
    """The stand-in for the named alarms, over the new fleets of one update."""

    def __init__(self, names: list[str], fleets: Sequence[CountingFleet], threshold: float, min_requests: int) -> None:
        self.names = names
        self.fleets = fleets
        self.threshold = threshold
        self.min_requests = min_requests

    def reason(self) -> str | None:
        """Why the alarms went off (the rollback's FailureReason), or None while they have not."""
        invocations = sum(f.invocations for f in self.fleets)
        errors = sum(f.server_errors for f in self.fleets)
        if invocations < self.min_requests or errors <= self.threshold * invocations:
            return None
        named = ", ".join(self.names)
        return (f"Alarm(s) {named} went into ALARM state (modelport stand-in: {errors} of {invocations} invocations "
                f"of the new fleet, {errors / invocations:.0%}, were server errors, above the "
                f"{self.threshold:.0%} of MODELPORT_HOSTING_ROLLBACK_ERROR_RATE)")
