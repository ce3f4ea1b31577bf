"""Endpoint instances: one ``modelport serve`` process each, started, health-checked via ``/ping``,
restarted when they crash, drained and stopped when their fleet goes away.

A :class:`VariantFleet` is the instances of one production variant. Blue/green updates start a new
fleet beside the old one; the router switches over, then the old fleet drains and stops.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport.net.upstream import UpstreamError, UpstreamPool

log = logging.getLogger(__name__)

CommandFactory = Callable[[str, int, int], list[str]]

# Run the instance through a two-line launcher that asks Linux to SIGTERM it when hosting dies
# (PR_SET_PDEATHSIG survives exec), so a killed hosting process leaves no orphan model servers.
_LAUNCHER = (
    "import ctypes,os,sys\n"
    "try: ctypes.CDLL(None).prctl(1, 15)\n"
    "except Exception: pass\n"
    "os.execv(sys.argv[1], sys.argv[1:])"
)
PING_INTERVAL = 0.05
HEALTH_FAILURES = 3
CRASH_WINDOW = 60.0


def serve_command(artifact: str, port: int, workers: int) -> list[str]:
    """The runtime command for one instance."""
    return [sys.executable, "-m", "modelport.runtime", artifact,
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 12) -> str:
    """The last lines of a log file, for failure messages."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class FleetError(Exception):
    """A fleet could not be started; the message is the endpoint's FailureReason."""


class Instance:
    """One runtime process serving one variant."""

    def __init__(self, fleet: "VariantFleet", index: int) -> None:
        self.fleet = fleet
        self.index = index
        self.ready = False
        self.outstanding = 0
        self.port = 0
        self.pool: UpstreamPool | None = None
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.stopping = False
        self.failed: str | None = None
        self._crashes: deque[float] = deque()
        self._tasks: list[asyncio.Task] = []
        self.log_path = fleet.log_dir / f"{fleet.name}-{index}-{fleet.tag}.log"

    @property
    def pid(self) -> int | None:
        """The process id, while it runs."""
        return self.process.pid if self.process and self.process.returncode is None else None

    def describe(self) -> dict[str, Any]:
        """State for the instances listing (CLI, tests)."""
        return {"index": self.index, "pid": self.pid, "port": self.port, "ready": self.ready,
                "outstanding": self.outstanding, "restarts": self.restarts, "failed": self.failed,
                "log": str(self.log_path)}

    async def start(self, timeout: float) -> None:
        """Start the process and wait until ``/ping`` answers 200; raise :class:`FleetError` otherwise."""
        await self._spawn()
        try:
            await self._wait_ready(timeout)
        except BaseException:  # failed, or cancelled by a shutdown: leave no process behind
            await self._terminate()
            raise
        self.ready = True
        self._tasks = [asyncio.create_task(self._supervise()), asyncio.create_task(self._health())]

    async def _spawn(self) -> None:
        fleet = self.fleet
        self.port = free_port()
        self.pool = UpstreamPool("127.0.0.1", self.port)
        command = fleet.command(fleet.artifact, self.port, fleet.workers)
        env = {**os.environ, **fleet.base_env, **fleet.environment, "PYTHONUNBUFFERED": "1"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as logfile:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            logfile.write(f"=== {stamp} modelport hosting: starting {fleet.endpoint}/{fleet.name} instance "
                          f"{self.index} on port {self.port}: {' '.join(command)}\n".encode())
            logfile.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-S", "-c", _LAUNCHER, *command,
                stdin=asyncio.subprocess.DEVNULL, stdout=logfile, stderr=asyncio.subprocess.STDOUT,
                env=env, start_new_session=True,
            )

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        process = self.process
        while True:
            if process.returncode is not None:
                raise FleetError(self._failure(f"exited with code {process.returncode} before passing /ping"))
            try:
                response = await self.pool.request("GET", "/ping", timeout=2.0)
                if response.status == 200:
                    return
            except (UpstreamError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise FleetError(self._failure(f"did not pass /ping within {timeout:g} s"))
            await asyncio.sleep(PING_INTERVAL)

    def _failure(self, what: str) -> str:
        fleet = self.fleet
        tail = log_tail(self.log_path)
        reason = (f"The primary container for production variant {fleet.name} did not pass the ping health "
                  f"check: instance {self.index} {what}. See `modelport logs {fleet.endpoint}` "
                  f"({self.log_path}).")
        return f"{reason} Last log lines:\n{tail}" if tail else reason

    async def _supervise(self) -> None:
        """Restart the process when it exits unexpectedly; give up after repeated crashes."""
        while True:
            code = await self.process.wait()
            self.ready = False
            if self.stopping:
                return
            self._kill_group(signal.SIGKILL)  # worker processes of a killed server may linger
            if self.pool is not None:
                self.pool.close()
            now = time.monotonic()
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > CRASH_WINDOW:
                self._crashes.popleft()
            self._note(f"instance {self.index} exited with code {code}")
            if len(self._crashes) > self.fleet.max_restarts:
                self.failed = (f"Instance {self.index} of variant {self.fleet.name} crashed {len(self._crashes)} "
                               f"times within {CRASH_WINDOW:g} s (last exit code {code}); it is not restarted "
                               f"again. See `modelport logs {self.fleet.endpoint}`.")
                self.fleet.instance_failed(self)
                return
            await asyncio.sleep(min(0.2 * 2 ** (len(self._crashes) - 1), 5.0))
            if self.stopping:
                return
            self.restarts += 1
            try:
                await self._spawn()
                await self._wait_ready(self.fleet.startup_timeout)
            except (FleetError, OSError) as exc:  # counts as another crash
                self._note(str(exc).splitlines()[0])
                if self.process is not None and self.process.returncode is None:
                    self._kill_group(signal.SIGKILL)
                continue
            if self.stopping:
                return
            self.ready = True
            self._note(f"instance {self.index} restarted on port {self.port}")

    async def _health(self) -> None:
        """Ping a ready instance now and then; kill it when it stops answering (the supervisor restarts it)."""
        failures = 0
        while not self.stopping:
            interval = self.fleet.health_interval
            await asyncio.sleep(interval)
            if not self.ready or self.pool is None:
                failures = 0
                continue
            try:
                ok = (await self.pool.request("GET", "/ping", timeout=min(2.0, interval))).status == 200
            except (UpstreamError, asyncio.TimeoutError):
                ok = False
            failures = 0 if ok else failures + 1
            if failures >= HEALTH_FAILURES and self.ready:
                self._note(f"instance {self.index} failed /ping {failures} times; killing it")
                self.ready = False
                self._kill_group(signal.SIGKILL)
                failures = 0

    def _note(self, message: str) -> None:
        log.warning("%s/%s: %s", self.fleet.endpoint, self.fleet.name, message)
        try:
            with self.log_path.open("a") as f:
                f.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} modelport hosting: {message}\n")
        except OSError:
            pass

    def _kill_group(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def _terminate(self) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self._kill_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 5.0)
            except asyncio.TimeoutError:
                pass
        self._kill_group(signal.SIGKILL)  # also any worker left behind
        if self.process.returncode is None:
            await self.process.wait()
        if self.pool is not None:
            self.pool.close()

    async def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s) and its supervision."""
        self.stopping = True
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await self._terminate()


class VariantFleet:
    """The instances of one production variant of one endpoint."""

    def __init__(
        self,
        endpoint: str,
        variant: dict[str, Any],
        artifact: str,
        *,
        log_dir: Path,
        command: CommandFactory,
        workers: int,
        startup_timeout: float,
        max_restarts: int,
        base_env: dict[str, str] | None = None,
        drain_timeout: float = 30.0,
        health_interval: float = 2.0,
        on_unhealthy: Callable[["VariantFleet", str], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name: str = variant["VariantName"]
        self.model_name: str = variant.get("ModelName", "")
        self.weight: float = float(variant.get("InitialVariantWeight", 1.0))
        self.desired_weight = self.weight
        self.desired_count: int = int(variant.get("InitialInstanceCount") or 1)
        self.container: dict[str, Any] = variant.get("Container", {})
        self.environment: dict[str, str] = dict(self.container.get("Environment") or {})
        self.base_env = dict(base_env or {})
        self.drain_timeout = drain_timeout
        self.health_interval = health_interval
        self.artifact = artifact
        self.log_dir = log_dir
        self.command = command
        env_workers = self.environment.get("SAGEMAKER_MODEL_SERVER_WORKERS")
        self.workers = int(env_workers) if env_workers and env_workers.isdigit() else workers
        self.startup_timeout = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or startup_timeout)
        self.max_restarts = max_restarts
        self.on_unhealthy = on_unhealthy
        self.tag = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1000000:06d}"
        self.instances: list[Instance] = []
        self.unhealthy: str | None = None

    @property
    def ready_count(self) -> int:
        """Instances that can take requests now."""
        return sum(1 for i in self.instances if i.ready)

    async def start(self) -> None:
        """Start ``desired_count`` instances and wait for all to pass ``/ping``; stop them all on failure."""
        await self.scale(self.desired_count)

    async def scale(self, count: int) -> None:
        """Grow or shrink to ``count`` instances (new ones must pass ``/ping``; removed ones drain first)."""
        self.desired_count = count
        if count > len(self.instances):
            new = [Instance(self, i) for i in range(len(self.instances), count)]
            results = await asyncio.gather(*(i.start(self.startup_timeout) for i in new), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                await asyncio.gather(*(i.stop() for i in new))
                first = errors[0]
                raise first if isinstance(first, FleetError) else FleetError(f"starting variant {self.name}: {first}")
            self.instances = self.instances + new
        elif count < len(self.instances):
            keep, drop = self.instances[:count], self.instances[count:]
            for inst in drop:
                inst.ready = False
            self.instances = keep
            await drain_and_stop(drop, self.drain_timeout)

    def instance_failed(self, instance: Instance) -> None:
        """An instance gave up restarting: the variant is unhealthy (reported by DescribeEndpoint)."""
        self.unhealthy = instance.failed
        if self.on_unhealthy is not None:
            self.on_unhealthy(self, instance.failed or "")

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Drain (wait for in-flight requests, up to ``drain_timeout``) and stop every instance."""
        await drain_and_stop(self.instances, drain_timeout)

    def describe(self) -> list[dict[str, Any]]:
        """The instances' states."""
        return [i.describe() for i in self.instances]


async def drain_and_stop(instances: list[Instance], drain_timeout: float) -> None:
    """Take instances out of routing, wait for their in-flight requests, then stop them."""
    for inst in instances:
        inst.ready = False
    deadline = time.monotonic() + drain_timeout
    while any(i.outstanding for i in instances) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.gather(*(i.stop() for i in instances))
