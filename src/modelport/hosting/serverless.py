"""Serverless variants (a production variant with ``ServerlessConfig``): instances that exist only while
requests come.

- No instance runs until the first request. A request that finds none starts one (a cold start) and
  waits for it, with every other request arriving meanwhile: they are held, never refused, and answered
  once the instance passes ``/ping``. The wait is reported in the ``X-Modelport-Cold-Start-Ms`` header and
  as ``ModelSetupTime`` (the instance's start-to-``/ping`` time, :mod:`.metrics`).
- After ``MODELPORT_SERVERLESS_IDLE_S`` without requests the instance drains and stops;
  ``ProvisionedConcurrency`` keeps it running (started with the endpoint, never stopped for idleness).
- At most ``MaxConcurrency`` requests are in hosting at once (held ones included); one more is refused
  with ``ThrottlingException`` (:func:`.errors.throttling`).
- ``MemorySizeInMB`` caps the resident memory of the instance's whole process group (the runtime's
  supervisor and its workers), sampled every :data:`CHECK_SECONDS`: an instance past it is killed, the
  requests in flight fail with a ModelError saying so, and its supervision starts a fresh one. RSS
  sampling rather than ``RLIMIT_AS``: address-space limits break NumPy and PyTorch, which reserve far more
  virtual memory than they use, and cgroups need privileges hosting does not have.

One instance serves a serverless variant; its concurrency is its worker count (as for any instance).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from modelport.hosting import errors
from modelport.process import group_pss

if TYPE_CHECKING:
    from modelport.hosting.fleet import VariantFleet

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.5  # how often memory and idleness are checked
COLD_START_HEADER = "X-Modelport-Cold-Start-Ms"


class ServerlessVariant:
    """The serverless behaviour of one fleet: admission, cold starts, idle stop and the memory cap."""

    def __init__(self, fleet: "VariantFleet", config: dict[str, Any], idle_seconds: float) -> None:
        self.fleet = fleet
        self.memory_mb = int(config["MemorySizeInMB"])
        self.max_concurrency = int(config["MaxConcurrency"])
        self.provisioned = int(config.get("ProvisionedConcurrency") or 0)
        self.idle_seconds = idle_seconds
        self.in_flight = 0  # admitted requests, held ones included
        self.last_used = time.monotonic()
        self.cold_starts = 0
        self._waking: asyncio.Task | None = None
        self._watch: asyncio.Task | None = None

    @property
    def warm_count(self) -> int:
        """Instances kept running whatever the traffic: 1 with ProvisionedConcurrency, else 0."""
        return 1 if self.provisioned else 0

    # --- requests ----------------------------------------------------------------------------

    def admit(self) -> None:
        """Count a request in, or refuse it with ThrottlingException when MaxConcurrency are in already."""
        if self.in_flight >= self.max_concurrency:
            raise errors.throttling(
                f"Endpoint {self.fleet.endpoint} is serverless with MaxConcurrency {self.max_concurrency}, and "
                f"{self.in_flight} invocations are in progress; retry later or raise MaxConcurrency (1-200).")
        self.in_flight += 1

    def release(self) -> None:
        """An admitted request is done (answered or failed)."""
        self.in_flight -= 1
        self.last_used = time.monotonic()

    async def ready(self) -> float | None:
        """Wait until an instance can serve; the seconds waited for it (a cold start), or None when warm.
        Raises ``ServiceUnavailable`` (:mod:`.errors`) when no instance could start."""
        fleet = self.fleet
        if fleet.ready_count:
            return None
        started = time.monotonic()
        if not fleet.instances:
            if self._waking is None or self._waking.done():
                self.cold_starts += 1
                self._waking = asyncio.create_task(fleet.scale(1))
            try:
                await asyncio.shield(self._waking)  # a client that leaves does not stop the start for the others
            except Exception as exc:  # noqa: BLE001 - FleetError (model failed to load), OSError
                raise errors.service_unavailable(
                    f"Endpoint {fleet.endpoint}: the serverless instance could not start: "
                    f"{str(exc).splitlines()[0] if str(exc) else repr(exc)}") from None
        deadline = started + fleet.startup_timeout
        while not fleet.ready_count:  # an instance that exists but is (re)starting
            if time.monotonic() > deadline:
                raise errors.service_unavailable(f"Endpoint {fleet.endpoint}: no instance of serverless variant "
                                                 f"{fleet.name} passed /ping within {fleet.startup_timeout:g} s.")
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    # --- background: idle stop and memory cap ----------------------------------------------

    def start(self) -> None:
        """Begin watching (called once the fleet started)."""
        self._watch = asyncio.create_task(self._run())

    def stop(self) -> None:
        """Stop watching (the fleet is stopping)."""
        if self._watch is not None:
            self._watch.cancel()

    async def _run(self) -> None:
        interval = min(CHECK_SECONDS, self.idle_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await self._check_memory()
                if self._idle():
                    log.info("%s/%s: idle for %g s; stopping its serverless instance", self.fleet.endpoint,
                             self.fleet.name, self.idle_seconds)
                    await self.fleet.scale(0)
            except Exception:  # noqa: BLE001 - the watch must outlive any one failed check
                log.exception("%s/%s: serverless check failed", self.fleet.endpoint, self.fleet.name)

    def _idle(self) -> bool:
        return (not self.provisioned and self.in_flight == 0 and bool(self.fleet.instances)
                and (self._waking is None or self._waking.done())
                and time.monotonic() - self.last_used >= self.idle_seconds)

    async def _check_memory(self) -> None:
        limit = self.memory_mb * 1024 * 1024
        for instance in list(self.fleet.instances):
            pid = instance.pid
            if pid is None or instance.starting:
                continue
            used = await asyncio.to_thread(group_pss, pid)
            if used > limit:
                instance.replace(
                    f"the instance of serverless variant {self.fleet.name} used {used / 2**20:.0f} MB, more than "
                    f"its MemorySizeInMB ({self.memory_mb}); it was stopped and a new one is started. Give the "
                    f"variant a larger MemorySizeInMB (1024-6144, in steps of 1024)")


def attach(fleet: "VariantFleet", variant: dict[str, Any], idle_seconds: float) -> None:
    """Make ``fleet`` serverless when its variant has ServerlessConfig (it then starts with 0 or 1 instance)."""
    config = variant.get("ServerlessConfig")
    if config:
        fleet.serverless = ServerlessVariant(fleet, config, idle_seconds)
        fleet.desired_count = fleet.serverless.warm_count
