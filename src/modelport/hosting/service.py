"""The hosting core: endpoints' lifecycles (create, blue/green update, scale, delete, restore) over the
registry, with the live fleets and routers the Runtime API reads.

Control-plane calls return at once (as SageMaker's do); the work runs in background tasks, and the
status moves through Creating / Updating / RollingBack / SystemUpdating / Deleting to InService or Failed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from modelport.hosting import model_data, traffic
from modelport.hosting.fleet import CommandFactory, FleetError, VariantFleet, serve_command
from modelport.hosting.registry import Registry
from modelport.hosting.router import Router, Share
from modelport.hosting.settings import HostingSettings

log = logging.getLogger(__name__)

IN_SERVICE = "InService"
CREATING = "Creating"
UPDATING = "Updating"
SYSTEM_UPDATING = "SystemUpdating"
ROLLING_BACK = "RollingBack"
DELETING = "Deleting"
FAILED = "Failed"


class LiveEndpoint:
    """An endpoint's running fleets and the router over them (``router`` is None until it serves)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fleets: list[VariantFleet] = []
        self.router: Router | None = None

    def serve(self, fleets: list[VariantFleet]) -> list[VariantFleet]:
        """Route to ``fleets`` from now on; return the fleets that were serving before."""
        old = self.fleets
        self.fleets = fleets
        self.router = Router(fleets)
        return old

    def shift(self, old: list[VariantFleet], new: list[VariantFleet], fraction: float) -> None:
        """Send ``fraction`` of the traffic to the ``new`` fleets and the rest to the ``old`` ones."""
        self.router = Router([Share(f, 1.0 - fraction) for f in old] + [Share(f, fraction) for f in new])


class Hosting:
    """Endpoints on this machine, kept in ``registry`` and run as runtime processes."""

    def __init__(
        self,
        registry: Registry,
        settings: HostingSettings,
        home: Path,
        command: CommandFactory = serve_command,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.home = Path(home)
        self.command = command
        self.live: dict[str, LiveEndpoint] = {}
        self._tasks: set[asyncio.Task] = set()
        self._fleets: set[VariantFleet] = set()  # every fleet ever started and not yet stopped
        self.logs_dir = self.home / "logs"
        self.cache_dir = self.home / "hosting" / "artifacts"

    # names
    def arn(self, kind: str, name: str) -> str:
        """The ARN SageMaker would give ``name`` (kind: model, endpoint-config, endpoint)."""
        return f"arn:aws:sagemaker:{self.settings.region}:{self.settings.account}:{kind}/{name.lower()}"

    def log_stream(self, endpoint: str) -> str:
        """The CloudWatch-style log group ARN quoted in ModelError messages."""
        s = self.settings
        return f"arn:aws:logs:{s.region}:{s.account}:log-group:/aws/sagemaker/Endpoints/{endpoint}"

    # background work
    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def deployment(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        """The variants of an endpoint config, each with its model's container (the registry snapshot)."""
        deployed = []
        for variant in config["spec"]["ProductionVariants"]:
            model = self.registry.get_document("models", variant["ModelName"])
            if model is None:
                raise LookupError(variant["ModelName"])
            spec = model["spec"]
            container = spec.get("PrimaryContainer") or (spec.get("Containers") or [{}])[0]
            deployed.append({**variant, "Container": container})
        return deployed

    async def _start_fleets(self, endpoint: str, deployed: list[dict[str, Any]]) -> list[VariantFleet]:
        """Start every variant's instances in parallel; stop them all and raise FleetError if one fails."""
        fleets: list[VariantFleet] = []
        try:
            for variant in deployed:
                artifact = await asyncio.to_thread(model_data.resolve, variant.get("Container", {}), self.cache_dir)
                fleets.append(VariantFleet(
                    endpoint, variant, artifact,
                    log_dir=self.logs_dir / endpoint, command=self.command, workers=self.settings.workers,
                    startup_timeout=self.settings.startup_timeout, max_restarts=self.settings.max_restarts,
                    base_env={"MODELPORT_HOME": str(self.home)}, drain_timeout=self.settings.drain_timeout,
                    health_interval=self.settings.health_interval,
                    on_unhealthy=self._variant_unhealthy,
                ))
        except model_data.ModelDataError as exc:
            raise FleetError(str(exc)) from exc
        except (OSError, ValueError) as exc:  # e.g. a cache folder that cannot be written
            raise FleetError(f"could not prepare the model data: {exc}") from exc
        self._fleets.update(fleets)
        results = await asyncio.gather(*(f.start() for f in fleets), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await self._stop_fleets(fleets, 0)
            first = errors[0]
            if isinstance(first, FleetError):
                raise first
            raise FleetError(f"could not start the endpoint's instances: {first!r}") from first
        return fleets

    async def _stop_fleets(self, fleets: list[VariantFleet], drain_timeout: float) -> None:
        await asyncio.gather(*(f.stop(drain_timeout) for f in fleets))
        self._fleets.difference_update(fleets)

    def _variant_unhealthy(self, fleet: VariantFleet, reason: str) -> None:
        row = self.registry.get_endpoint(fleet.endpoint)
        if row is not None:
            self.registry.update_endpoint(fleet.endpoint, failure_reason=reason)

    # lifecycle operations (called by the control API after validation)
    def create(self, name: str, config_name: str, deployed: list[dict[str, Any]],
               deployment_config: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Register the endpoint (Creating) and start its fleets; None when the name is taken."""
        row = self.registry.add_endpoint(name, self.arn("endpoint", name), config_name, CREATING, deployed)
        if row is None:
            return None
        if deployment_config:
            self.registry.update_endpoint(name, deployment_config=deployment_config)
        live = self.live[name] = LiveEndpoint(name)
        self._spawn(self._bring_up(live, deployed))
        return row

    async def _bring_up(self, live: LiveEndpoint, deployed: list[dict[str, Any]]) -> None:
        try:
            fleets = await self._start_fleets(live.name, deployed)
        except FleetError as exc:
            log.warning("endpoint %s failed: %s", live.name, exc)
            if self.live.get(live.name) is live:
                self.registry.update_endpoint(live.name, status=FAILED, failure_reason=str(exc))
            return
        if self.live.get(live.name) is not live:  # deleted while starting
            await self._stop_fleets(fleets, 0)
            return
        live.serve(fleets)
        self.registry.update_endpoint(live.name, status=IN_SERVICE, failure_reason=None)

    def update(self, name: str, config_name: str, deployed: list[dict[str, Any]],
               deployment_config: dict[str, Any] | None = None) -> None:
        """Blue/green: start the new fleets, shift traffic (all at once, canary or linear), then drain and
        stop the old ones."""
        fields: dict[str, Any] = {"status": UPDATING, "pending_config": config_name}
        if deployment_config is not None:
            fields["deployment_config"] = deployment_config
        self.registry.update_endpoint(name, **fields)
        policy = (deployment_config or {}).get("BlueGreenUpdatePolicy")
        self._spawn(self._blue_green(self.live[name], config_name, deployed, policy))

    async def _blue_green(self, live: LiveEndpoint, config_name: str, deployed: list[dict[str, Any]],
                          policy: dict[str, Any] | None = None) -> None:
        try:
            fleets = await self._start_fleets(live.name, deployed)
        except FleetError as exc:
            # the old fleet never stopped serving; report why the update failed
            self.registry.update_endpoint(live.name, status=ROLLING_BACK)
            self.registry.update_endpoint(live.name, status=IN_SERVICE, pending_config=None,
                                          failure_reason=f"UpdateEndpoint to {config_name} failed and was rolled "
                                                         f"back: {exc}")
            return
        if self.live.get(live.name) is not live:
            await self._stop_fleets(fleets, 0)
            return
        old = live.fleets
        for fraction, wait in traffic.shift_steps(policy, sum(f.desired_count for f in fleets)):
            if fraction >= 1.0:
                break
            live.shift(old, fleets, fraction)
            await asyncio.sleep(wait)
            if self.live.get(live.name) is not live:  # deleted meanwhile; the delete stops `old`
                await self._stop_fleets(fleets, 0)
                return
        live.serve(fleets)
        await asyncio.sleep(traffic.termination_wait(policy))
        # as on SageMaker, the update completes once the old fleet has drained and is gone
        await self._stop_fleets(old, self.settings.drain_timeout)
        self.registry.update_endpoint(live.name, status=IN_SERVICE, config_name=config_name, deployed=deployed,
                                      pending_config=None, failure_reason=None)

    def update_weights(self, name: str, changes: list[dict[str, Any]]) -> None:
        """UpdateEndpointWeightsAndCapacities: new weights at once, instance counts by scaling."""
        self.registry.update_endpoint(name, status=UPDATING)
        self._spawn(self._reweigh(self.live[name], changes))

    async def _reweigh(self, live: LiveEndpoint, changes: list[dict[str, Any]]) -> None:
        by_name = {f.name: f for f in live.fleets}
        failure = None
        for change in changes:
            fleet = by_name[change["VariantName"]]
            if "DesiredWeight" in change:
                fleet.weight = fleet.desired_weight = float(change["DesiredWeight"])
            if "DesiredInstanceCount" in change:
                try:
                    await fleet.scale(int(change["DesiredInstanceCount"]))
                except (FleetError, OSError) as exc:
                    failure = f"Scaling variant {fleet.name} failed and was rolled back: {exc}"
                    fleet.desired_count = len(fleet.instances)
        row = self.registry.get_endpoint(live.name)
        deployed = row["deployed"] if row else []
        for variant in deployed:
            fleet = by_name.get(variant["VariantName"])
            if fleet is not None:
                variant["InitialVariantWeight"] = fleet.weight
                variant["InitialInstanceCount"] = len(fleet.instances)
        if failure:
            self.registry.update_endpoint(live.name, status=ROLLING_BACK)
        self.registry.update_endpoint(live.name, status=IN_SERVICE, deployed=deployed, failure_reason=failure)

    def delete(self, name: str) -> None:
        """Mark the endpoint Deleting, stop its fleets, then remove it."""
        self.registry.update_endpoint(name, status=DELETING)
        live = self.live.pop(name, None)
        self._spawn(self._tear_down(name, live))

    async def _tear_down(self, name: str, live: LiveEndpoint | None) -> None:
        if live is not None:
            live.router = None
            await self._stop_fleets(live.fleets, 0)
        self.registry.delete_endpoint(name)

    # process lifetime
    async def restore(self) -> None:
        """Bring back what the registry says should run: InService endpoints (and interrupted work)."""
        for row in self.registry.list_endpoints():
            name, status = row["name"], row["status"]
            if status == DELETING:
                self.registry.delete_endpoint(name)
            elif status == FAILED:
                continue
            elif status == CREATING:
                live = self.live[name] = LiveEndpoint(name)
                self._spawn(self._bring_up(live, row["deployed"]))
            else:
                note = None
                if status != IN_SERVICE and status != SYSTEM_UPDATING:
                    note = f"An operation ({status}) was interrupted by a restart of modelport hosting; " \
                           f"the endpoint was restored with its previous configuration {row['config_name']}."
                self.registry.update_endpoint(name, status=SYSTEM_UPDATING, pending_config=None,
                                              failure_reason=note)
                live = self.live[name] = LiveEndpoint(name)
                self._spawn(self._restore_one(live, row["deployed"], note))

    async def _restore_one(self, live: LiveEndpoint, deployed: list[dict[str, Any]], note: str | None) -> None:
        await self._bring_up(live, deployed)
        row = self.registry.get_endpoint(live.name)
        if note and row and row["status"] == IN_SERVICE:
            self.registry.update_endpoint(live.name, failure_reason=note)

    async def shutdown(self) -> None:
        """Stop every instance (endpoints stay registered and come back on the next start)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await asyncio.gather(*(f.stop(0) for f in self._fleets), return_exceptions=True)
        self._fleets.clear()
        self.live.clear()
