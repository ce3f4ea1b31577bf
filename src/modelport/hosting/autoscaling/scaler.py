"""The scaler: every ``MODELPORT_HOSTING_AUTOSCALING_INTERVAL`` seconds, for each registered variant, read the
metrics of its policies over the last interval, decide an instance count, and scale the variant's fleet through
hosting's UpdateEndpointWeightsAndCapacities path (:meth:`~modelport.hosting.service.Hosting.update_weights`:
the endpoint is Updating meanwhile, new instances take traffic once they pass ``/ping``, removed ones drain
first, and the count is recorded so a restart restores it).

Decisions, as Application Auto Scaling's target tracking makes them:
- a capacity outside the target's MinCapacity..MaxCapacity is brought inside it (without a policy too);
- each policy wants ``ceil(instances × metric / TargetValue)`` (clamped); the largest wish wins, so scaling in
  needs every policy to agree;
- a scale-out waits ``ScaleOutCooldown`` after the previous scale-out; a scale-in waits ``ScaleInCooldown``
  after any scaling; ``DisableScaleIn`` and the target's SuspendedState are honoured;
- every change is a scaling activity (InProgress → Successful or Failed) in :mod:`.store`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from modelport.hosting import validation as check
from modelport.hosting.autoscaling import policies as rules
from modelport.hosting.autoscaling.policies import Snapshot
from modelport.hosting.autoscaling.store import ScalingStore
from modelport.hosting.errors import ControlError

log = logging.getLogger(__name__)

_NEVER = float("-inf")


class Scaler:
    """Evaluates the scaling policies of one hosting on its event loop."""

    def __init__(self, hosting: Any, store: ScalingStore) -> None:
        self.hosting = hosting
        self.store = store
        self.interval = hosting.settings.autoscaling_interval
        self._task: asyncio.Task | None = None
        self._samples: dict[str, tuple[Any, Snapshot]] = {}  # resource id → (fleet, its totals at the last tick)
        self._scaled_out: dict[str, float] = {}  # resource id → when its last scale-out ended
        self._scaled: dict[str, float] = {}  # resource id → when its last scaling (either way) ended
        self._busy: dict[str, asyncio.Task] = {}

    def start(self) -> None:
        """Start evaluating (activities a previous run left InProgress end Failed)."""
        self.store.interrupted()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop evaluating; scalings in progress are cancelled with hosting's other work."""
        tasks = [t for t in (self._task, *self._busy.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.store.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.evaluate()
            except Exception:  # noqa: BLE001 - one bad evaluation must not end autoscaling
                log.exception("autoscaling: evaluation failed")

    def _fleet(self, endpoint: str, variant: str) -> Any | None:
        live = self.hosting.live.get(endpoint)
        if live is None or live.router is None:
            return None
        return next((f for f in live.fleets if f.name == variant and f.serverless is None), None)

    def _backlog(self, endpoint: str) -> int:
        """The endpoint's asynchronous requests queued or running (0 for real-time endpoints)."""
        inference = self.hosting.async_inference
        return inference.queue.count(endpoint) if inference is not None else 0

    def evaluate(self) -> None:
        """One round: decide every registered variant's count and start the scalings it needs."""
        by_target: dict[str, list[dict[str, Any]]] = {}
        for policy in self.store.policies(rules.NAMESPACE):
            by_target.setdefault(policy["resource_id"], []).append(policy)
        for target in self.store.targets(rules.NAMESPACE):
            rid = target["resource_id"]
            endpoint, variant = rules.variant_of(rid)
            fleet = self._fleet(endpoint, variant)
            if fleet is None:
                self._samples.pop(rid, None)
                continue
            previous = self._samples.get(rid)
            now = Snapshot.of(fleet, self._backlog(endpoint))
            self._samples[rid] = (fleet, now)
            row = self.hosting.registry.get_endpoint(endpoint)
            if row is None or row["status"] != "InService" or rid in self._busy:
                continue
            baseline = previous[1] if previous is not None and previous[0] is fleet else None
            decision = self.decide(target, by_target.get(rid, []), fleet.desired_count, baseline, now,
                                   len(fleet.instances))
            if decision is not None:
                desired, cause = decision
                self._busy[rid] = asyncio.create_task(self._scale(target, endpoint, variant, desired, cause))

    def decide(self, target: dict[str, Any], policies: list[dict[str, Any]], current: int, before: Snapshot | None,
               after: Snapshot, instances: int) -> tuple[int, str] | None:
        """The count to scale to and why, or None to leave the variant as it is."""
        rid, low, high = target["resource_id"], target["min_capacity"], target["max_capacity"]
        inside = min(max(current, low), high)
        if inside != current:
            return inside, (f"the desired instance count {current} was outside the scalable target's range "
                            f"{low}-{high}")
        if before is None:
            return None
        wishes = []
        for policy in policies:
            config = policy["config"]
            value = rules.metric_value(config, before, after, instances)
            if value is not None:
                wish = min(max(rules.desired_capacity(current, value, config["TargetValue"]), low), high)
                wishes.append((wish, value, policy))
        if not wishes:
            return None
        wish, value, policy = max(wishes, key=lambda w: w[0])
        config, suspended, clock = policy["config"], target["suspended"], time.monotonic()
        if wish > current:
            cooldown = config.get("ScaleOutCooldown", rules.DEFAULT_COOLDOWN_S)
            if suspended.get("DynamicScalingOutSuspended") or clock - self._scaled_out.get(rid, _NEVER) < cooldown:
                return None
            alarm = policy["alarms"][0]["AlarmName"]
        elif wish < current:
            cooldown = config.get("ScaleInCooldown", rules.DEFAULT_COOLDOWN_S)
            if suspended.get("DynamicScalingInSuspended") or config.get("DisableScaleIn") \
                    or clock - self._scaled.get(rid, _NEVER) < cooldown:
                return None
            alarm = policy["alarms"][1]["AlarmName"]
        else:
            return None
        return wish, (f"monitor alarm {alarm} in state ALARM triggered policy {policy['name']} (metric {value:.6g}, "
                      f"target {config['TargetValue']:g})")

    async def _scale(self, target: dict[str, Any], endpoint: str, variant: str, desired: int, cause: str) -> None:
        rid = target["resource_id"]
        key = (target["namespace"], rid, target["dimension"])
        activity = str(uuid.uuid4())
        fleet = self._fleet(endpoint, variant)
        current = fleet.desired_count if fleet is not None else 0
        self.store.add_activity(activity, key, f"Setting desired instance count to {desired}.",
                                f"At {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {cause}.")
        try:
            row = self.hosting.registry.get_endpoint(endpoint)
            counts = check.variant_counts(row["deployed"])
            counts[variant] = desired
            check.instance_caps(counts, self.hosting.settings.max_instances_per_variant,
                                self.hosting.settings.max_instances)
            await self.hosting.update_weights(endpoint, [{"VariantName": variant, "DesiredInstanceCount": desired}])
            fleet = self._fleet(endpoint, variant)
            if fleet is None or len(fleet.instances) != desired:
                row = self.hosting.registry.get_endpoint(endpoint) or {}
                raise RuntimeError(row.get("failure_reason") or f"the variant runs "
                                   f"{len(fleet.instances) if fleet else 0} instances")
            self.store.end_activity(activity, "Successful", f"Successfully set desired instance count to {desired}. "
                                                            f"Change successfully fulfilled by sagemaker.")
            log.info("autoscaling: %s scaled from %d to %d instances (%s)", rid, current, desired, cause)
        except (ControlError, RuntimeError, OSError) as exc:
            message = exc.message if isinstance(exc, ControlError) else str(exc)
            self.store.end_activity(activity, "Failed", f"Failed to set desired instance count to {desired}: {message}")
            log.warning("autoscaling: %s: could not scale to %d: %s", rid, desired, message)
        finally:
            ended = time.monotonic()
            self._scaled[rid] = ended
            if desired > current:
                self._scaled_out[rid] = ended
            if fleet is not None:  # the next window starts now, with the new instance count
                self._samples[rid] = (fleet, Snapshot.of(fleet, self._backlog(endpoint)))
            self._busy.pop(rid, None)
