"""Endpoint instances: one ``modelport serve`` process each, forked from a warm template
(:mod:`.templates`) or started as a new process, health-checked via ``/ping``, restarted when they crash,
drained and stopped when their fleet goes away.

A :class:`VariantFleet` is the instances of one production variant. Blue/green updates start a new
fleet beside the old one; the router switches over, then the old fleet drains and stops.

Health tells the truth:
- an instance takes requests (``ready``) only while its ``/ping`` answers 200; a ``/ping`` answered
  with anything else (its workers are reloading the model) takes it out of routing without killing
  it, and it comes back as soon as ``/ping`` is 200 again;
- an instance whose ``/ping`` goes unanswered three times in a row is killed and restarted, unless
  it is busy: a worker predicts on its event loop, so a long ``predict_fn`` leaves pings unanswered.
  A busy instance is excused for as long as the runtime itself lets one request run before it
  replaces the worker (:func:`modelport.runtime.stuck.stuck_after`), counted from its last answer;
- crashed instances are restarted forever, after a capped exponential back-off; while an instance
  crashes or is not ready the variant says so (``unhealthy``: DescribeEndpoint's VariantStatus and
  FailureReason), and the message is cleared once every instance is ready again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport.hosting import children
from modelport.hosting.metrics import HostingMetrics
from modelport.hosting.serverless import ServerlessVariant
from modelport.hosting.templates import TemplateUnavailable, Templates, model_family
from modelport.logfiles import RotatingLog, pump
from modelport.net.upstream import UpstreamError, UpstreamPool
from modelport.process import LAUNCHER, PORT_ATTEMPTS, PORT_IN_USE_EXIT, free_port, signal_group
from modelport.runtime.stuck import stuck_after

log = logging.getLogger(__name__)

CommandFactory = Callable[[str, int, int], list[str]]
StatusCallback = Callable[["VariantFleet", "str | None", "str | None"], None]

PING_INTERVAL = 0.05  # between pings while an instance starts
PROBE_INTERVAL = 0.1  # between pings while a running instance is not ready
HEALTH_FAILURES = 3
CRASH_WINDOW = 60.0
RESTART_FIRST_SECONDS = 0.2  # back-off before restarting an instance after its first crash in a window
RESTART_MAX_SECONDS = 30.0  # the back-off doubles with each crash within CRASH_WINDOW, up to this
_TIMEOUT_KEYS = ("SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS", "SAGEMAKER_MODEL_SERVER_TIMEOUT")
# Unless the model sets its own, an instance's runtime interrupts a request this long after hosting
# stopped waiting for it: the client gets SageMaker's timeout error from hosting, and the worker is
# free again a moment later.
RUNTIME_TIMEOUT_MARGIN = 1.0


SHADOW_KEY = "ShadowVariant"  # marks a ShadowProductionVariants entry in an endpoint's deployed variants


def runtime_arguments(artifact: str, port: int, workers: int) -> list[str]:
    """The arguments of ``python -m modelport.runtime`` for one instance."""
    return [artifact, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def serve_command(artifact: str, port: int, workers: int) -> list[str]:
    """The runtime command for one instance (when it is not forked from a template)."""
    return [sys.executable, "-m", "modelport.runtime", *runtime_arguments(artifact, port, workers)]


def restart_delay(crashes: int) -> float:
    """Seconds before restarting an instance that crashed ``crashes`` times within CRASH_WINDOW."""
    return min(RESTART_MAX_SECONDS, RESTART_FIRST_SECONDS * 2 ** max(0, crashes - 1))


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


class PortTaken(FleetError):
    """The instance exited because another program was listening on its port."""


class Instance:
    """One runtime process serving one variant."""

    def __init__(self, fleet: "VariantFleet", index: int) -> None:
        self.fleet = fleet
        self.index = index
        self.ready = False
        self.outstanding = 0
        self.port = 0
        self.pool: UpstreamPool | None = None
        self.process: asyncio.subprocess.Process | children.AdoptedProcess | None = None
        self.origin = ""  # how its process started: "forked from the sklearn template", "spawned"
        self.restarts = 0
        self.stopping = False
        self.starting = False
        self.problem: str | None = None  # why it is not serving right now (reported on the variant)
        self.progress_at = 0.0  # when it last answered, or went from idle to busy
        self.abandoned_until = 0.0  # a request hosting gave up on may keep its worker busy until then
        self.killed_because: str | None = None  # why hosting killed it on purpose (told to requests it cut off)
        self._crashes: deque[float] = deque()
        self._tasks: list[asyncio.Task] = []
        self._pump: threading.Thread | None = None
        self.log_path = fleet.log_dir / f"{fleet.name}-{index}-{fleet.tag}.log"
        self.log = RotatingLog(self.log_path)
        # InvocationsPerInstance and ModelSetupTime (None: metrics off)
        self.series = fleet.metrics.instance(fleet.endpoint, fleet.name, index) if fleet.metrics else None

    @property
    def pid(self) -> int | None:
        """The process id, while it runs."""
        return self.process.pid if self.process and self.process.returncode is None else None

    def describe(self) -> dict[str, Any]:
        """State for the instances listing (CLI, tests)."""
        return {"index": self.index, "pid": self.pid, "port": self.port, "ready": self.ready,
                "outstanding": self.outstanding, "restarts": self.restarts, "problem": self.problem,
                "origin": self.origin, "log": str(self.log_path)}

    # --- requests (called by the Runtime API on the hot path) --------------------------------

    def begin(self) -> None:
        """A request is being sent to this instance."""
        if not self.outstanding:
            self.progress_at = time.monotonic()
        self.outstanding += 1

    def end(self) -> None:
        """A request got its answer (any status)."""
        self.outstanding -= 1
        self.progress_at = time.monotonic()

    def not_sent(self) -> None:
        """A request could not be sent (no connection could be opened): take the instance out of
        routing until ``/ping`` passes again."""
        self.outstanding -= 1
        self._suspect(f"instance {self.index} refused a connection")

    def abandoned(self) -> None:
        """Hosting stopped waiting for a request (invocation timeout); its worker may still be in it."""
        self.outstanding -= 1
        now = time.monotonic()
        self.abandoned_until = max(self.abandoned_until, now - self.fleet.invocation_timeout + self.fleet.busy_limit)

    def died_answering(self) -> None:
        """A request was sent and its connection died before a whole answer: the worker serving it
        died. Take the instance out of routing until ``/ping`` says its workers are back."""
        self.outstanding -= 1
        self._suspect(f"a worker of instance {self.index} died while answering a request")

    def replace(self, why: str) -> None:
        """Kill the instance's processes on purpose (e.g. past its memory size): requests in flight fail
        with ``why``, and its supervision starts a new process as after a crash."""
        self.killed_because = why
        self.ready = False
        self._note(f"{why}; killing instance {self.index}")
        self._kill_group(signal.SIGKILL)

    def excused(self, now: float) -> bool:
        """Whether unanswered pings are expected: the instance is busy (its workers are inside
        requests) and answered, or became busy, within the runtime's stuck-worker limit."""
        if now - self.progress_at >= self.fleet.busy_limit:
            return False
        return self.outstanding > 0 or now < self.abandoned_until

    def _suspect(self, why: str) -> None:
        if self.ready and not self.stopping:
            self.ready = False
            self._note(f"{why}; not routing to it until /ping passes again")
            self._set_problem(f"Instance {self.index} of variant {self.fleet.name} is not taking requests: {why}. "
                              f"See `modelport logs {self.fleet.endpoint}` ({self.log_path}).")

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, timeout: float) -> None:
        """Start the process and wait until ``/ping`` answers 200; raise :class:`FleetError` otherwise."""
        started = time.monotonic()
        try:
            await self._spawn_and_wait(timeout)
        except BaseException:  # failed, or cancelled by a shutdown: leave no process behind
            await self._terminate()
            raise
        self._set_up(started)
        self.ready = True
        self._tasks = [asyncio.create_task(self._supervise()), asyncio.create_task(self._health())]

    async def _spawn_and_wait(self, timeout: float) -> None:
        """Start the process on a free port and wait for /ping; start it again on another port when another
        program took the port between free_port() and the instance's bind (it exits with PORT_IN_USE_EXIT)."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            await self._spawn()
            try:
                await self._wait_ready(timeout)
                return
            except PortTaken:
                if attempt == PORT_ATTEMPTS:
                    raise
                self._note(f"instance {self.index}: port {self.port} was taken before it could listen there; "
                           "starting it on another port")
                if self.pool is not None:
                    self.pool.close()

    async def _spawn(self) -> None:
        fleet = self.fleet
        self.port = free_port()
        self.pool = UpstreamPool("127.0.0.1", self.port)
        env = {**os.environ, **fleet.base_env, **fleet.environment, "PYTHONUNBUFFERED": "1"}
        read_end, write_end = os.pipe()
        try:
            self.process = await self._fork(env, write_end) or await self._launch(env, write_end)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._pump = pump(read_end, self.log, name=f"log-{fleet.endpoint}-{fleet.name}-{self.index}")

    async def _fork(self, env: dict[str, str], log_fd: int) -> children.AdoptedProcess | None:
        """Fork the instance from its family's template; None when it must be started as a new process."""
        fleet = self.fleet
        if fleet.templates is None or fleet.command is not serve_command:
            return None
        arguments = runtime_arguments(fleet.artifact, self.port, fleet.workers)
        family = await fleet.family()
        try:
            process = await fleet.templates.fork(family, arguments, env, log_fd)
        except TemplateUnavailable as exc:
            self.log.note(f"modelport hosting: not forking {fleet.endpoint}/{fleet.name} instance {self.index} "
                          f"from a template: {exc}")
            return None
        self.origin = f"forked from the {family} template"
        self.log.note(f"modelport hosting: {fleet.endpoint}/{fleet.name} instance {self.index} (pid {process.pid}) "
                      f"{self.origin} on port {self.port}: python -m modelport.runtime {' '.join(arguments)}")
        return process

    async def _launch(self, env: dict[str, str], log_fd: int) -> asyncio.subprocess.Process:
        """Start the instance as a new Python process."""
        fleet = self.fleet
        command = fleet.command(fleet.artifact, self.port, fleet.workers)
        self.origin = "spawned"
        self.log.note(f"modelport hosting: starting {fleet.endpoint}/{fleet.name} instance {self.index} on port "
                      f"{self.port}: {' '.join(command)}")
        # The launcher asks Linux to SIGTERM the instance when hosting dies (even by kill -9),
        # then execs it: a killed hosting process leaves no orphan model servers.
        return await asyncio.create_subprocess_exec(
            sys.executable, "-S", "-c", LAUNCHER, str(os.getpid()), *command,
            stdin=asyncio.subprocess.DEVNULL, stdout=log_fd, stderr=asyncio.subprocess.STDOUT,
            env=env, start_new_session=True,
        )

    async def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        process = self.process
        while True:
            if process.returncode is not None:
                await self._drain_output()
                error = PortTaken if process.returncode == PORT_IN_USE_EXIT else FleetError
                raise error(self._failure(f"exited with code {process.returncode} before passing /ping"))
            try:
                response = await self.pool.request("GET", "/ping", timeout=2.0)
                if response.status == 200:
                    return
            except (UpstreamError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise FleetError(self._failure(f"did not pass /ping within {timeout:g} s"))
            await asyncio.sleep(PING_INTERVAL)

    def _set_up(self, started: float) -> None:
        """The instance passed /ping: count how long it took since its process was started (ModelSetupTime)."""
        if self.series is not None:
            self.series.setup.observe((time.monotonic() - started) * 1e6)

    async def _drain_output(self) -> None:
        """Let the log pump copy the last output of an exited process (for the failure message)."""
        if self._pump is not None:
            await asyncio.to_thread(self._pump.join, 2.0)

    def _failure(self, what: str) -> str:
        fleet = self.fleet
        tail = log_tail(self.log_path)
        reason = (f"The primary container for production variant {fleet.name} did not pass the ping health "
                  f"check: instance {self.index} {what}. See `modelport logs {fleet.endpoint}` "
                  f"({self.log_path}).")
        return f"{reason} Last log lines:\n{tail}" if tail else reason

    async def _supervise(self) -> None:
        """Restart the process whenever it exits unexpectedly, after a capped exponential back-off."""
        while True:
            code = await self.process.wait()
            self.ready = False
            if self.stopping:
                return
            self._kill_group(signal.SIGKILL)  # worker processes of a killed server may linger
            self._reap_group()
            if self.pool is not None:
                self.pool.close()
            now = time.monotonic()
            self._crashes.append(now)
            while self._crashes and now - self._crashes[0] > CRASH_WINDOW:
                self._crashes.popleft()
            delay = restart_delay(len(self._crashes))
            self._note(f"instance {self.index} exited with code {code}; restarting it in {delay:g} s")
            fleet = self.fleet
            self._set_problem(
                f"Instance {self.index} of variant {fleet.name} exited with code {code} ({len(self._crashes)} "
                f"time(s) within {CRASH_WINDOW:g} s); it is restarted in {delay:g} s. See `modelport logs "
                f"{fleet.endpoint}` ({self.log_path}).")
            await asyncio.sleep(delay)
            if self.stopping:
                return
            self.restarts += 1
            self.starting = True
            started = time.monotonic()
            try:
                await self._spawn_and_wait(fleet.startup_timeout)
            except (FleetError, OSError) as exc:  # counts as another crash
                self._note(str(exc).splitlines()[0])
                if self.process is not None and self.process.returncode is None:
                    self._kill_group(signal.SIGKILL)
                continue
            finally:
                self.starting = False
            if self.stopping:
                return
            self._set_up(started)
            self.ready = True
            self.killed_because = None
            self._note(f"instance {self.index} restarted on port {self.port}")
            self._set_problem(None)

    async def _health(self) -> None:
        """Ping now and then: route to the instance only while /ping is 200; kill it (the supervisor
        restarts it) when pings go unanswered and no long request explains it."""
        failures = 0
        while not self.stopping:
            interval = self.fleet.health_interval
            await asyncio.sleep(interval if self.ready else min(interval, PROBE_INTERVAL))
            process = self.process
            if not self._checks(process):
                failures = 0
                continue
            status, message = await self._ping(min(2.0, interval))
            if not self._checks(process):
                # the process exited (or was replaced) while the ping was out: its answer says nothing about
                # the instance now, and a 200 taken as "ready again" would route to it during the restart's
                # back-off and clear the crash from the endpoint's FailureReason
                failures = 0
                continue
            if status == 200:
                failures = 0
                if not self.ready:
                    self.ready = True
                    self._note(f"instance {self.index} passes /ping again")
                    self._set_problem(None)
            elif status is not None:  # it answers, but its workers are (re)loading the model
                failures = 0
                if self.ready:
                    self.ready = False
                    self._note(f"instance {self.index} answered /ping with {status}; not routing to it")
                self._set_problem(f"Instance {self.index} of variant {self.fleet.name} is not ready: /ping "
                                  f"answered {status} ({message}). See `modelport logs {self.fleet.endpoint}` "
                                  f"({self.log_path}).")
            elif self.excused(time.monotonic()):
                failures = 0
            else:
                failures += 1
                if failures >= HEALTH_FAILURES:
                    self._note(f"instance {self.index} failed /ping {failures} times; killing it")
                    self.ready = False
                    self._kill_group(signal.SIGKILL)
                    failures = 0

    def _checks(self, process) -> bool:
        """Whether the health check speaks for `process`: it is still this instance's running process, and the
        instance is neither stopping nor (re)starting (the supervisor owns it then)."""
        return (not self.stopping and not self.starting and self.pool is not None and process is not None
                and process is self.process and process.returncode is None)

    async def _ping(self, timeout: float) -> tuple[int | None, str]:
        """``/ping``'s status and body, or (None, "") when it went unanswered."""
        try:
            response = await self.pool.request("GET", "/ping", timeout=timeout)
        except (UpstreamError, asyncio.TimeoutError):
            return None, ""
        return response.status, response.body[:300].decode("utf-8", "replace")

    def _set_problem(self, problem: str | None) -> None:
        if problem != self.problem:
            self.problem = problem
            if not self.stopping:
                self.fleet.instance_changed()

    def _note(self, message: str) -> None:
        log.warning("%s/%s: %s", self.fleet.endpoint, self.fleet.name, message)
        self.log.note(f"modelport hosting: {message}")

    def _kill_group(self, sig: int) -> None:
        if self.process is not None:
            signal_group(self.process.pid, sig, reaped=self.process.returncode is not None)

    def _reap_group(self) -> None:
        """Reap the workers hosting adopted from this instance's group (hosting is a child subreaper)."""
        if self.process is not None:
            task = asyncio.get_running_loop().create_task(children.reap_group(self.process.pid))
            self.fleet.reapers.add(task)
            task.add_done_callback(self.fleet.reapers.discard)

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
        self._reap_group()
        if self.pool is not None:
            self.pool.close()

    async def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s) and its supervision."""
        self.stopping = True
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await self._terminate()
        self.log.close()


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
        invocation_timeout: float = 60.0,
        base_env: dict[str, str] | None = None,
        drain_timeout: float = 30.0,
        health_interval: float = 2.0,
        on_status: StatusCallback | None = None,
        metrics: HostingMetrics | None = None,
        templates: Templates | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name: str = variant["VariantName"]
        self.model_name: str = variant.get("ModelName", "")
        self.weight: float = float(variant.get("InitialVariantWeight", 1.0))
        self.desired_weight = self.weight
        count = variant.get("InitialInstanceCount")  # 0: an asynchronous variant autoscaling scaled to zero
        self.desired_count: int = int(count) if count is not None else 1
        self.shadow: bool = bool(variant.get(SHADOW_KEY))  # a shadow variant: copies of traffic, answers discarded
        self.capture: dict[str, Any] | None = variant.get("DataCaptureConfig")  # the endpoint's, stored per variant
        self.async_config: dict[str, Any] | None = variant.get("AsyncInferenceConfig")  # likewise
        self.container: dict[str, Any] = variant.get("Container", {})
        self.environment: dict[str, str] = dict(self.container.get("Environment") or {})
        self.base_env = dict(base_env or {})
        self.drain_timeout = drain_timeout
        self.health_interval = health_interval
        self.invocation_timeout = invocation_timeout
        self.artifact = artifact
        self.log_dir = log_dir
        self.command = command
        env_workers = self.environment.get("SAGEMAKER_MODEL_SERVER_WORKERS")
        self.workers = int(env_workers) if env_workers and env_workers.isdigit() else workers
        self.startup_timeout = float(variant.get("ContainerStartupHealthCheckTimeoutInSeconds") or startup_timeout)
        # The runtime's own per-request timeout follows hosting's unless the model sets one; a busy
        # instance is excused from pings for as long as its runtime lets one request run.
        runtime_timeout = _model_timeout(self.environment)
        if runtime_timeout is None:
            runtime_timeout = invocation_timeout + RUNTIME_TIMEOUT_MARGIN
            self.base_env[_TIMEOUT_KEYS[0]] = f"{runtime_timeout:g}"
        self.busy_limit = stuck_after(runtime_timeout)
        self.on_status = on_status
        self.metrics = metrics
        # the variant's Invocations, errors and latencies, shared with any other fleet of the same variant
        self.series = metrics.variant(endpoint, self.name) if metrics is not None else None
        self.tag = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1000000:06d}"
        self.instances: list[Instance] = []
        self.unhealthy: str | None = None  # why an instance is not serving (VariantStatus, FailureReason)
        self.invocations = 0  # answered or failed after being sent: the auto-rollback alarm's sample
        self.server_errors = 0  # of which 5xx answers, dead workers and timeouts
        self.serverless: ServerlessVariant | None = None  # set by hosting for a variant with ServerlessConfig
        self.templates = templates  # None: every instance is a new process
        self._family: str | None = None
        self.reapers: set[asyncio.Task] = set()
        self.multi_model: Any = None  # a MultiModelVariant, set by hosting for a MultiModel container

    async def family(self) -> str:
        """The template family of this variant's model (read from its archive once)."""
        if self._family is None:
            environment = {**self.base_env, **self.environment}
            self._family = await asyncio.to_thread(model_family, self.artifact, environment)
        return self._family

    @property
    def ready_count(self) -> int:
        """Instances that can take requests now."""
        return sum(1 for i in self.instances if i.ready)

    def count(self, server_error: bool) -> None:
        """Count one invocation that reached an instance (for the 5xx-rate alarm)."""
        self.invocations += 1
        if server_error:
            self.server_errors += 1

    async def start(self) -> None:
        """Start ``desired_count`` instances and wait for all to pass ``/ping``; stop them all on failure."""
        await self.scale(self.desired_count)
        if self.serverless is not None:
            self.serverless.start()

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
            self.instance_changed()
            await drain_and_stop(drop, self.drain_timeout)

    def instance_changed(self) -> None:
        """An instance's problem appeared or cleared: update the variant's message and report it."""
        message = next((i.problem for i in self.instances if i.problem), None)
        if message != self.unhealthy:
            previous, self.unhealthy = self.unhealthy, message
            if self.on_status is not None:
                self.on_status(self, message, previous)

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Drain (wait for in-flight requests, up to ``drain_timeout``) and stop every instance."""
        if self.serverless is not None:
            self.serverless.stop()
        await drain_and_stop(self.instances, drain_timeout)

    def describe(self) -> list[dict[str, Any]]:
        """The instances' states."""
        return [i.describe() for i in self.instances]


def _model_timeout(environment: dict[str, str]) -> float | None:
    """The per-request timeout a model's Environment sets for its runtime, if any."""
    for key in _TIMEOUT_KEYS:
        try:
            return float(environment[key])
        except (KeyError, ValueError):
            continue
    return None


async def drain_and_stop(instances: list[Instance], drain_timeout: float) -> None:
    """Take instances out of routing, wait for their in-flight requests, then stop them."""
    for inst in instances:
        inst.ready = False
    deadline = time.monotonic() + drain_timeout
    while any(i.outstanding for i in instances) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.gather(*(i.stop() for i in instances))
