"""The hosting core: endpoints' lifecycles (create, blue/green update, scale, delete, restore) over the
registry, with the live fleets and routers the Runtime API reads.

Control-plane calls return at once (as SageMaker's do); the work runs in background tasks, and the
status moves through Creating / Updating / RollingBack / SystemUpdating / Deleting to InService or Failed.
A background task never leaves an endpoint in between: its outcome is settled in the registry even
when the disk is full (see :meth:`Registry.settle_endpoint`), and an unexpected error ends the
operation with a FailureReason instead of killing the task silently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from modelport.hosting import instance_env, model_data, multi_model, rollback, serverless, traffic
from modelport.hosting.autoscaling.scaler import Scaler
from modelport.hosting.autoscaling.store import ScalingStore
from modelport.hosting.capture.tap import Tap, make_tap
from modelport.hosting.capture.writer import CaptureWriter
from modelport.hosting.fleet import SHADOW_KEY, CommandFactory, FleetError, VariantFleet, serve_command
from modelport.hosting.metrics import HostingMetrics
from modelport.hosting.registry import Registry
from modelport.hosting.router import Router, Share
from modelport.hosting.settings import HostingSettings
from modelport.hosting.templates import Templates
from modelport.hosting.transform.jobs import TransformJobs
from modelport.hosting.model_data import LocalS3

log = logging.getLogger(__name__)

IN_SERVICE = "InService"
CREATING = "Creating"
UPDATING = "Updating"
SYSTEM_UPDATING = "SystemUpdating"
ROLLING_BACK = "RollingBack"
DELETING = "Deleting"
FAILED = "Failed"
FLUSH_SECONDS = 1.0  # how often outcomes that could not be written are retried
ASYNC_TIMEOUT_MAX = 3600.0  # InvocationTimeoutSeconds' upper bound: what an async variant's runtime lets run
BAKE_POLL_SECONDS = 0.1  # how often the auto-rollback alarm is checked while traffic shifts and bakes


class LiveEndpoint:
    """An endpoint's running fleets and the router over them (``router`` is None until it serves); ``tap``
    captures and copies to the shadow variant (None when the endpoint does neither)."""

    def __init__(self, name: str, tapper: Callable[[str, list[VariantFleet]], Tap | None] | None = None) -> None:
        self.name = name
        self.fleets: list[VariantFleet] = []
        self.router: Router | None = None
        self.tap: Tap | None = None
        self.multi_model = False  # its variants serve MultiModel containers (InvokeEndpoint needs TargetModel)
        self._tapper = tapper

    def serve(self, fleets: list[VariantFleet]) -> list[VariantFleet]:
        """Route to ``fleets`` from now on (shadow variants only get copies); return the fleets serving before."""
        old = self.fleets
        self.fleets = fleets
        self.multi_model = any(f.multi_model is not None for f in fleets)
        self.router = Router([f for f in fleets if not f.shadow])
        self.tap = self._tapper(self.name, fleets) if self._tapper else None
        return old

    def shift(self, old: list[VariantFleet], new: list[VariantFleet], fraction: float) -> None:
        """Send ``fraction`` of the traffic to the ``new`` fleets and the rest to the ``old`` ones."""
        self.multi_model = any(f.multi_model is not None for f in old + new)
        self.router = Router([Share(f, 1.0 - fraction) for f in old if not f.shadow]
                             + [Share(f, fraction) for f in new if not f.shadow])


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
        self.metrics = HostingMetrics() if settings.metrics else None  # None: MODELPORT_METRICS=0
        self._tasks: set[asyncio.Task] = set()
        self._fleets: set[VariantFleet] = set()  # every fleet ever started and not yet stopped
        self._flusher: asyncio.Task | None = None
        self.logs_dir = self.home / "logs"
        self.cache_dir = self.home / "hosting" / "artifacts"
        # set by the server: its object store as the source of s3:// model data
        self.local_s3: LocalS3 | None = None
        self.transforms = TransformJobs(self)  # batch transform jobs
        self.capture = CaptureWriter(self.transforms.places, self.metrics,
                                     flush_seconds=settings.capture_flush_seconds,
                                     max_records=settings.capture_queue_records,
                                     max_bytes=settings.capture_queue_mb * 1024 * 1024)
        self.autoscaler = Scaler(self, ScalingStore(registry.path))  # application-autoscaling policies
        self.async_inference = None  # set by the server: asynchronous inference's queue and workers
        # warm processes instances are forked from (only for the runtime's own command)
        self.templates = Templates(self.home, self.logs_dir, settings.forkserver and command is serve_command,
                                   settings.startup_timeout)

    # names
    def arn(self, kind: str, name: str) -> str:
        """The ARN SageMaker would give ``name`` (kind: model, endpoint-config, endpoint)."""
        return f"arn:aws:sagemaker:{self.settings.region}:{self.settings.account}:{kind}/{name.lower()}"

    def log_stream(self, endpoint: str) -> str:
        """The CloudWatch-style log group ARN quoted in ModelError messages."""
        s = self.settings
        return f"arn:aws:logs:{s.region}:{s.account}:log-group:/aws/sagemaker/Endpoints/{endpoint}"

    # background work
    def _spawn(self, name: str, doing: str, coro: Coroutine, on_error: str = FAILED) -> asyncio.Task:
        """Run ``coro`` in the background; an unexpected error ends the endpoint's operation in
        ``on_error`` with a FailureReason saying what failed, and never escapes the task."""
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen fault: report it, keep serving
                log.exception("endpoint %s: %s failed", name, doing)
                if name in self.live or on_error == FAILED:
                    self._settle(name, status=on_error, pending_config=None,
                                 failure_reason=f"modelport hosting failed while {doing}: {exc!r}. See its log.")

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _settle(self, name: str, **fields: Any) -> None:
        """Record a background outcome; if the registry cannot be written now, keep retrying."""
        if not self.registry.settle_endpoint(name, **fields):
            self._retry_writes()

    def _settle_deletion(self, name: str) -> None:
        if not self.registry.settle_deletion(name):
            self._retry_writes()

    def _retry_writes(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if self.registry.flush():
                return

    def deployment(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        """The variants of an endpoint config (shadow ones marked), each with its model's container and the
        config's ``DataCaptureConfig`` and ``AsyncInferenceConfig`` (the registry snapshot a restart restores)."""
        deployed = []
        spec = config["spec"]
        shadows = [{**v, SHADOW_KEY: True} for v in spec.get("ShadowProductionVariants") or []]
        for variant in spec["ProductionVariants"] + shadows:
            model = self.registry.get_document("models", variant["ModelName"])
            if model is None:
                raise LookupError(variant["ModelName"])
            model_spec = model["spec"]
            container = model_spec.get("PrimaryContainer") or (model_spec.get("Containers") or [{}])[0]
            extra = {key: spec[key] for key in ("DataCaptureConfig", "AsyncInferenceConfig") if spec.get(key)}
            deployed.append({**variant, "Container": container, **extra})
        return deployed

    def _tap(self, endpoint: str, fleets: list[VariantFleet]) -> Tap | None:
        return make_tap(endpoint, fleets, self.capture, self.settings.invocation_timeout)

    async def _start_fleets(self, endpoint: str, deployed: list[dict[str, Any]]) -> list[VariantFleet]:
        """Start every variant's instances in parallel; stop them all and raise FleetError if one fails."""
        fleets: list[VariantFleet] = []
        stores: list[str] = []  # multi-model stores claimed here, until every fleet is made
        try:
            for variant in deployed:
                container = variant.get("Container", {})
                base_env = instance_env.for_container(container, self.home, self.local_s3)
                if multi_model.is_multi_model(container):  # serves a model store, filled as targets are asked for
                    artifact = await multi_model.claim_store(self.cache_dir / "mme", container)
                    stores.append(artifact)
                    base_env.update(multi_model.MULTI_MODEL_ENV)
                else:
                    artifact = await asyncio.to_thread(model_data.resolve, container, self.cache_dir, self.local_s3)
                if variant.get("AsyncInferenceConfig"):  # its instances take payloads up to the async limit (1 GB)
                    base_env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(self.settings.async_max_input_mb)
                fleets.append(VariantFleet(
                    endpoint, variant, artifact,
                    log_dir=self.logs_dir / endpoint, command=self.command, workers=self.settings.workers,
                    startup_timeout=self.settings.startup_timeout,
                    # an asynchronous request may run up to its InvocationTimeoutSeconds (≤ 3600 s)
                    invocation_timeout=(ASYNC_TIMEOUT_MAX if variant.get("AsyncInferenceConfig")
                                        else self.settings.invocation_timeout),
                    base_env=base_env,
                    drain_timeout=self.settings.drain_timeout,
                    health_interval=self.settings.health_interval,
                    on_status=self._variant_status,
                    metrics=self.metrics,
                    templates=self.templates,
                ))
            stores.clear()  # every fleet holds its own claim now
        except model_data.ModelDataError as exc:
            raise FleetError(str(exc)) from exc
        except (OSError, ValueError) as exc:  # e.g. a cache folder that cannot be written
            raise FleetError(f"could not prepare the model data: {exc}") from exc
        finally:
            for store in stores:  # not all fleets were made, and none was started: the claims go
                await multi_model.release_store(store)
        for fleet, variant in zip(fleets, deployed):
            serverless.attach(fleet, variant, self.settings.serverless_idle_s)
            multi_model.attach(fleet, self)
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
        """Retire ``fleets`` (drained, stopped, forgotten; a multi-model store no live variant serves goes)."""
        await asyncio.gather(*(f.stop(drain_timeout) for f in fleets))
        self._fleets.difference_update(fleets)
        for fleet in fleets:
            if fleet.multi_model is not None:
                await multi_model.release_store(fleet.artifact)

    def _variant_status(self, fleet: VariantFleet, message: str | None, previous: str | None) -> None:
        """A serving variant's instances crash or recover: show it as the FailureReason, and clear
        it again once they are all ready (only if it is still this variant's message)."""
        live = self.live.get(fleet.endpoint)
        if live is None or fleet not in live.fleets:
            return
        try:
            row = self.registry.get_endpoint(fleet.endpoint)
        except Exception:  # noqa: BLE001 - reporting must never break the instance's supervision
            log.exception("endpoint %s: could not read the registry", fleet.endpoint)
            return
        if row is None:
            return
        if message is not None:
            self._settle(fleet.endpoint, failure_reason=message)
        elif row["failure_reason"] == previous:
            self._settle(fleet.endpoint, failure_reason=None)

    # lifecycle operations (called by the control API after validation)
    def create(self, name: str, config_name: str, deployed: list[dict[str, Any]],
               deployment_config: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Register the endpoint (Creating) and start its fleets; None when the name is taken."""
        row = self.registry.add_endpoint(name, self.arn("endpoint", name), config_name, CREATING, deployed,
                                         deployment_config)
        if row is None:
            return None
        live = self.live[name] = LiveEndpoint(name, self._tap)
        self._spawn(name, "creating the endpoint", self._bring_up(live, deployed))
        return row

    async def _bring_up(self, live: LiveEndpoint, deployed: list[dict[str, Any]]) -> None:
        try:
            fleets = await self._start_fleets(live.name, deployed)
        except FleetError as exc:
            log.warning("endpoint %s failed: %s", live.name, exc)
            if self.live.get(live.name) is live:
                self._settle(live.name, status=FAILED, failure_reason=str(exc))
            return
        if self.live.get(live.name) is not live:  # deleted while starting
            await self._stop_fleets(fleets, 0)
            return
        live.serve(fleets)
        self._settle(live.name, status=IN_SERVICE, failure_reason=None)

    def update(self, name: str, config_name: str, deployed: list[dict[str, Any]],
               deployment_config: dict[str, Any] | None = None) -> None:
        """Blue/green: start the new fleets, shift traffic (all at once, canary or linear), bake, then
        drain and stop the old ones; roll back when the new fleets fail to start, the auto-rollback
        alarm goes off, or the update outlasts ``MaximumExecutionTimeoutInSeconds``."""
        fields: dict[str, Any] = {"status": UPDATING, "pending_config": config_name}
        if deployment_config is not None:
            fields["deployment_config"] = deployment_config
        self.registry.update_endpoint(name, **fields)
        self._spawn(name, f"updating the endpoint to {config_name}",
                    self._blue_green(self.live[name], config_name, deployed, deployment_config), on_error=IN_SERVICE)

    async def _blue_green(self, live: LiveEndpoint, config_name: str, deployed: list[dict[str, Any]],
                          deployment_config: dict[str, Any] | None = None) -> None:
        policy = (deployment_config or {}).get("BlueGreenUpdatePolicy")
        limit = traffic.execution_timeout(policy)
        deadline = asyncio.get_running_loop().time() + limit if limit else None
        try:
            fleets = await asyncio.wait_for(self._start_fleets(live.name, deployed), limit)
        except (FleetError, asyncio.TimeoutError) as exc:
            # the old fleet never stopped serving; report why the update failed
            why = str(exc) if isinstance(exc, FleetError) else _too_slow(limit)
            self._rolled_back(live, config_name, why)
            return
        if self.live.get(live.name) is not live:
            await self._stop_fleets(fleets, 0)
            return
        names = rollback.alarm_names(deployment_config)
        alarm = rollback.ErrorRateAlarm(names, fleets, self.settings.rollback_error_rate,
                                        self.settings.rollback_min_requests) if names else None
        old = live.fleets
        why = None
        for fraction, wait in traffic.shift_steps(policy, sum(f.desired_count for f in fleets)):
            if fraction >= 1.0:
                break
            live.shift(old, fleets, fraction)
            why = await self._bake(live, wait, alarm, deadline, limit)
            if self.live.get(live.name) is not live:  # deleted meanwhile; the delete stops `old`
                await self._stop_fleets(fleets, 0)
                return
            if why:
                break
        if why is None:
            live.serve(fleets)
            why = await self._bake(live, traffic.termination_wait(policy), alarm, deadline, limit)
            if self.live.get(live.name) is not live:
                await self._stop_fleets(fleets, 0)
                return
        if why:
            self._settle(live.name, status=ROLLING_BACK)
            live.serve(old)  # every request from now on goes to the old fleet, which never stopped
            await self._stop_fleets(fleets, self.settings.drain_timeout)
            self._rolled_back(live, config_name, why)
            return
        # as on SageMaker, the update completes once the old fleet has drained and is gone
        await self._stop_fleets(old, self.settings.drain_timeout)
        self._settle(live.name, status=IN_SERVICE, config_name=config_name, deployed=deployed,
                     pending_config=None, failure_reason=None)

    async def _bake(self, live: LiveEndpoint, seconds: float, alarm: rollback.ErrorRateAlarm | None,
                    deadline: float | None, limit: float | None) -> str | None:
        """Wait ``seconds`` while the new fleet takes traffic; return why to roll back (the alarm went
        off, the update outlasted its deadline), or None."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while True:
            if alarm is not None and (reason := alarm.reason()):
                return reason
            now = loop.time()
            if deadline is not None and now >= deadline:
                return _too_slow(limit)
            if now >= end or self.live.get(live.name) is not live:
                return None
            await asyncio.sleep(min(BAKE_POLL_SECONDS, end - now))

    def _rolled_back(self, live: LiveEndpoint, config_name: str, why: str) -> None:
        self._settle(live.name, status=ROLLING_BACK)
        self._settle(live.name, status=IN_SERVICE, pending_config=None,
                     failure_reason=f"UpdateEndpoint to {config_name} failed and was rolled back: {why}")

    def update_weights(self, name: str, changes: list[dict[str, Any]]) -> asyncio.Task:
        """UpdateEndpointWeightsAndCapacities (and autoscaling): new weights at once, instance counts by scaling;
        the task ends once the endpoint is InService again."""
        self.registry.update_endpoint(name, status=UPDATING)
        return self._spawn(name, "changing weights and capacities", self._reweigh(self.live[name], changes),
                    on_error=IN_SERVICE)

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
            if fleet is not None and fleet.serverless is None:
                variant["InitialVariantWeight"] = fleet.weight
                variant["InitialInstanceCount"] = len(fleet.instances)
        if failure:
            self._settle(live.name, status=ROLLING_BACK)
        self._settle(live.name, status=IN_SERVICE, deployed=deployed, failure_reason=failure)

    def delete(self, name: str) -> None:
        """Mark the endpoint Deleting, stop its fleets, then remove it."""
        self.registry.update_endpoint(name, status=DELETING)
        live = self.live.pop(name, None)
        if self.metrics is not None:
            self.metrics.forget(name)
        self._spawn(name, "deleting the endpoint", self._tear_down(name, live))

    async def _tear_down(self, name: str, live: LiveEndpoint | None) -> None:
        try:
            if live is not None:
                live.router = None
                await self._stop_fleets(live.fleets, 0)
        finally:  # the row goes even if stopping failed: the instances die with hosting at the latest
            self._settle_deletion(name)

    # process lifetime
    async def restore(self) -> None:
        """Bring back what the registry says should run: InService endpoints (and interrupted work); transform
        jobs a previous run left InProgress end Failed (:mod:`.transform.jobs`)."""
        self.transforms.restore()
        self.autoscaler.start()
        if self.async_inference is not None:
            self.async_inference.start()
        for row in self.registry.list_endpoints():
            name, status = row["name"], row["status"]
            if status == DELETING:
                self._settle_deletion(name)
            elif status == FAILED:
                continue
            elif status == CREATING:
                live = self.live[name] = LiveEndpoint(name, self._tap)
                self._spawn(name, "creating the endpoint", self._bring_up(live, row["deployed"]))
            else:
                note = None
                if status != IN_SERVICE and status != SYSTEM_UPDATING:
                    note = f"An operation ({status}) was interrupted by a restart of modelport hosting; " \
                           f"the endpoint was restored with its previous configuration {row['config_name']}."
                self._settle(name, status=SYSTEM_UPDATING, pending_config=None, failure_reason=note)
                live = self.live[name] = LiveEndpoint(name, self._tap)
                self._spawn(name, "restoring the endpoint", self._restore_one(live, row["deployed"], note))

    async def _restore_one(self, live: LiveEndpoint, deployed: list[dict[str, Any]], note: str | None) -> None:
        await self._bring_up(live, deployed)
        row = self.registry.get_endpoint(live.name)
        if note and row and row["status"] == IN_SERVICE:
            self._settle(live.name, failure_reason=note)

    async def shutdown(self) -> None:
        """Stop every instance (endpoints stay registered and come back on the next start; running transform
        jobs end Failed)."""
        await self.transforms.shutdown()
        await self.autoscaler.stop()
        if self.async_inference is not None:
            await self.async_inference.stop()
        for task in [*self._tasks, self._flusher]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await asyncio.gather(*(live.tap.shadow.close() for live in self.live.values()
                               if live.tap is not None and live.tap.shadow is not None))
        await asyncio.gather(*(f.stop(0) for f in self._fleets), return_exceptions=True)
        await self.templates.close()
        await self.capture.close()  # after the last answer: everything captured is written
        self._fleets.clear()
        self.live.clear()


def _too_slow(limit: float | None) -> str:
    return f"the update did not complete within MaximumExecutionTimeoutInSeconds ({limit:g} s)."
