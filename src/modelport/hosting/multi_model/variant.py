"""The multi-model behaviour of one fleet (a variant whose container has ``Mode = MultiModel``).

Hosting plays SageMaker's part: it decides which instance serves a target, fetches the target's archive
(:mod:`.fetch`), and drives each instance's multi-model server through its management API (load, unload,
invoke; :mod:`modelport.runtime.multi_model`).

- Routing: a target goes to a ready instance that has it loaded (the least busy of them); a target loaded
  nowhere goes to the instance rendezvous hashing picks for its name, so every request for it lands on the
  same instance while the instance set stays the same, and each instance sees only its share of targets.
- Loading: the first request of a target on an instance fetches and loads it; requests for it arriving
  meanwhile wait for the same load (``ModelLoadingWaitTime``). A request that waited the invocation timeout
  gets ``ModelNotReadyException`` (429, which boto3 retries) while the load goes on, as on SageMaker. Before a load, the least recently used
  targets not in use are unloaded while the instance holds ``max_models``; after it, while the loaded
  targets' resident memory is over ``max_memory_mb``. A target is in use from :meth:`prepare` until
  :meth:`done`, and never unloaded meanwhile.
- ``MultiModelConfig.ModelCacheSetting = Disabled`` unloads a target as soon as its last request is done, and
  deletes its unpacked folder. Otherwise the folder stays for the next load, within the store's disk budget
  (:mod:`.disk`, which asks :meth:`MultiModelVariant.folders_in_use` what it must keep).
- An instance whose process changed (restarted) has nothing loaded: its table starts empty again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from modelport.hosting import errors
from modelport.hosting.multi_model import fetch
from modelport.hosting.multi_model.config import Budget
from modelport.hosting.multi_model.disk import StoreDisk
from modelport.hosting.model_data import LocalS3
from modelport.net.upstream import UpstreamError

if TYPE_CHECKING:
    from modelport.hosting.fleet import Instance, VariantFleet

log = logging.getLogger(__name__)

MANAGEMENT_TIMEOUT = 30.0  # seconds for list/describe/unload calls to an instance's model server


class InstanceModels:
    """The targets one process of an instance has loaded (least recently used first)."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.loaded: OrderedDict[str, str] = OrderedDict()  # target → model name on the server
        self.loading: dict[str, asyncio.Task] = {}
        self.in_use: dict[str, int] = {}


def model_name(target: str) -> str:
    """The opaque name a target is loaded under (as SageMaker's platform names them)."""
    return hashlib.sha256(target.encode()).hexdigest()[:32]


class MultiModelVariant:
    """Routing, loading and LRU unloading of the targets of one fleet."""

    def __init__(self, fleet: "VariantFleet", prefix: str, store: Path, disk: StoreDisk, budget: Budget,
                 cache_enabled: bool, local_s3: LocalS3 | None, max_archive_bytes: int, load_timeout: float,
                 wait_limit: float, log_stream: str) -> None:
        self.fleet = fleet
        self.prefix = prefix
        self.store = store
        self.disk = disk
        self.budget = budget
        self.cache_enabled = cache_enabled
        self.local_s3 = local_s3
        self.max_archive_bytes = max_archive_bytes
        self.load_timeout = load_timeout
        self.wait_limit = wait_limit  # how long an invocation waits for a load before ModelNotReadyException
        self.log_stream = log_stream
        self.series = fleet.metrics.multi_model_variant(fleet.endpoint, fleet.name) if fleet.metrics else None
        self._instances: dict[int, InstanceModels] = {}  # by instance index
        self._fetched: dict[str, Path] = {}
        self._fetching: dict[str, asyncio.Task] = {}
        self._background: set[asyncio.Task] = set()
        disk.serve(self)

    # --- routing -------------------------------------------------------------------------------

    def models_of(self, instance: "Instance") -> InstanceModels:
        """The instance's table (a fresh one when its process changed since)."""
        state = self._instances.get(instance.index)
        if state is None or state.pid != instance.pid:
            state = self._instances[instance.index] = InstanceModels(instance.pid)
            self._count(instance, state)
        return state

    def route(self, target: str, picked: "Instance", exclude: list) -> "Instance":
        """The instance that should serve ``target`` (``picked``: the router's choice, used when none is ready)."""
        ready = [i for i in self.fleet.instances if i.ready and i not in exclude]
        holders = [i for i in ready if target in self.models_of(i).loaded]
        if holders:
            return min(holders, key=lambda i: i.outstanding)
        if not ready:
            return picked
        return max(ready, key=lambda i: zlib.crc32(f"{i.index}/{target}".encode()))

    # --- loading -------------------------------------------------------------------------------

    async def prepare(self, instance: "Instance", target: str) -> str:
        """Make sure ``instance`` has ``target`` loaded and mark it in use until :meth:`done` (which the caller
        calls whatever happens); the path to invoke it. Raises a RuntimeApiError (ValidationError for a missing
        or refused archive, ModelError when it cannot load)."""
        state = self.models_of(instance)
        state.in_use[target] = state.in_use.get(target, 0) + 1
        if target in state.loaded:
            state.loaded.move_to_end(target)
            self._observe("cache_hit", 1.0)
        else:
            self._observe("cache_hit", 0.0)
            started = time.perf_counter()
            task = state.loading.get(target)
            if task is None:
                task = state.loading[target] = asyncio.create_task(self._load(instance, state, target))
                task.add_done_callback(lambda _t: state.loading.pop(target, None))
            try:
                await asyncio.wait_for(asyncio.shield(task), self.wait_limit)
            except asyncio.TimeoutError:  # as SageMaker: a 429 after a while, and the load goes on
                raise errors.model_not_ready(
                    f"Target model {target} is still loading after {self.wait_limit:g} s; it keeps loading (for up "
                    f"to {self.load_timeout:g} s), retry shortly.") from None
            self._observe("loading_wait", (time.perf_counter() - started) * 1e6)
        return f"/models/{quote(model_name(target), safe='')}/invoke"

    def done(self, instance: "Instance", target: str) -> None:
        """A request :meth:`prepare` let through is over (with the cache disabled, the target is unloaded)."""
        state = self.models_of(instance)
        left = state.in_use.get(target, 0) - 1
        if left > 0:
            state.in_use[target] = left
            return
        state.in_use.pop(target, None)
        if not self.cache_enabled and target in state.loaded:
            task = asyncio.create_task(self._unload(instance, state, target))
            self._background.add(task)  # held until done (the loop keeps only a weak reference)
            task.add_done_callback(self._background.discard)

    def forget(self, instance: "Instance", target: str) -> None:
        """The instance answered that it does not have ``target`` (its runtime died): the next request loads it."""
        if self.models_of(instance).loaded.pop(target, None) is not None:
            self._count(instance, self.models_of(instance))

    async def _load(self, instance: "Instance", state: InstanceModels, target: str) -> None:
        folder = await self._fetch(target)
        for old in self._evictable(state, target):
            if len(state.loaded) < self.budget.max_models:
                break
            await self._unload(instance, state, old)
        await self.disk.make_room()  # after the unloads: what they left unused may go
        name = model_name(target)
        started = time.perf_counter()
        response = await instance.pool.request(
            "POST", "/models", [("Content-Type", "application/json")],
            json.dumps({"model_name": name, "url": str(folder)}).encode(), timeout=self.load_timeout)
        if response.status not in (200, 409):  # 409: the server has it already (loaded before this table)
            message = _message(response.body)
            raise errors.model_error(self.fleet.endpoint, self.fleet.name, response.status,
                                     f"Target model {target} could not be loaded: {message}", self.log_stream)
        self._observe("loading", (time.perf_counter() - started) * 1e6)
        if self.models_of(instance) is not state:  # the instance restarted meanwhile
            raise errors.service_unavailable(f"The instance serving target model {target} restarted; retry.")
        state.loaded[target] = name
        self._count(instance, state)
        await self._fit_memory(instance, state, target)

    async def _fetch(self, target: str) -> Path:
        """The target's unpacked folder, fetched once per fleet (concurrent requests share the fetch), or again
        when the store's disk budget has deleted it since."""
        folder = self._fetched.get(target)
        if folder is not None and folder.is_dir():
            self.disk.used(folder)
            return folder
        while True:
            task = self._fetching.get(target)
            if task is None:
                task = self._fetching[target] = asyncio.create_task(asyncio.to_thread(
                    fetch.fetch, self.prefix, target, self.store, self.local_s3, self.max_archive_bytes))
                task.add_done_callback(lambda _t: self._fetching.pop(target, None))
            try:
                folder = await asyncio.shield(task)
            except (fetch.TargetMissing, fetch.TargetRefused) as exc:
                raise errors.validation_error(str(exc)) from None
            except OSError as exc:
                raise errors.service_unavailable(f"Could not fetch target model {target}: {exc}") from None
            if folder.is_dir():  # else deleted to make room between the fetch finding it and now: fetch again
                break
        self._fetched[target] = folder  # in use from here (the caller is loading it): make_room keeps it
        self.disk.used(folder)
        return folder

    def folders_in_use(self) -> set[Path]:
        """The unpacked folders of the targets some instance has loaded, is loading or is invoking."""
        targets: set[str] = set()
        for state in self._instances.values():
            targets.update(state.loaded, state.loading, state.in_use)
        return {self._fetched[t] for t in targets if t in self._fetched}

    def _evictable(self, state: InstanceModels, keep: str) -> list[str]:
        """Loaded targets that may be unloaded, least recently used first."""
        return [t for t in state.loaded if t != keep and not state.in_use.get(t)]

    async def _fit_memory(self, instance: "Instance", state: InstanceModels, keep: str) -> None:
        """Unload least recently used targets while the loaded ones use more than the memory budget."""
        limit = self.budget.max_memory_mb * 2**20
        sizes = {}
        for target, name in list(state.loaded.items()):
            try:
                answer = await instance.pool.request("GET", f"/models/{quote(name, safe='')}", timeout=MANAGEMENT_TIMEOUT)
                sizes[target] = int(json.loads(answer.body).get("memoryBytes", 0)) if answer.status == 200 else 0
            except (UpstreamError, asyncio.TimeoutError, ValueError):
                sizes[target] = 0
        total = sum(sizes.values())
        for old in self._evictable(state, keep):
            if total <= limit:
                break
            await self._unload(instance, state, old)
            total -= sizes.get(old, 0)

    async def _unload(self, instance: "Instance", state: InstanceModels, target: str) -> None:
        name = state.loaded.pop(target, None)
        if name is None:
            return
        self._count(instance, state)
        started = time.perf_counter()
        try:
            await instance.pool.request("DELETE", f"/models/{quote(name, safe='')}", timeout=MANAGEMENT_TIMEOUT)
        except (UpstreamError, asyncio.TimeoutError) as exc:
            log.warning("%s/%s: unloading %s from instance %d failed: %s", self.fleet.endpoint, self.fleet.name,
                        target, instance.index, exc)
            return
        self._observe("unloading", (time.perf_counter() - started) * 1e6)
        folder = self._fetched.get(target)
        if folder is None:
            return
        if self.cache_enabled:
            self.disk.used(folder)  # its last use: the disk budget deletes the longest unused first
        else:
            await self.disk.discard(folder)  # as SageMaker: off the disk right after the invocation

    # --- reporting -----------------------------------------------------------------------------

    def _observe(self, what: str, value: float) -> None:
        if self.series is not None:
            getattr(self.series, what).observe(value)

    def _count(self, instance: "Instance", state: InstanceModels) -> None:
        if instance.series is not None:
            instance.series.loaded_models = len(state.loaded)

    def describe(self) -> list[dict[str, Any]]:
        """The loaded targets, per instance (DescribeEndpoint's modelport extension ``LoadedModels``)."""
        out = []
        for instance in self.fleet.instances:
            state = self._instances.get(instance.index)
            if state is not None and state.pid == instance.pid:
                out += [{"TargetModel": target, "Instance": instance.index} for target in state.loaded]
        return out


def _message(body: bytes) -> str:
    """The message of a model server's error answer (MMS's ``message``, the runtime's, or the raw text)."""
    try:
        document = json.loads(body)
        return str(document.get("message") or document)
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")[:2000]
