"""The supervisor: binds the port, starts the worker processes, restarts the ones that die.

It never imports the user's code. While no worker has loaded the model it answers every request
itself with 503, so ``/ping`` says "not yet" instead of hanging; as soon as a worker is ready it
steps aside and the workers accept connections on the shared socket directly.

Restarts never end: a worker that died while answering a request (a poison request: ``os._exit``,
a segfault, a kill) is restarted at once, since the model itself loads; one that died loading the
model again, or while idle, is restarted after a capped exponential back-off. Only a model that
cannot load at the very first start stops the server (exit 1).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from modelport.net.server import HttpServer, start_server
from modelport.process import name_process, stop_all
from modelport.runtime import metrics as runtime_metrics
from modelport.runtime.app import LoadingApp
from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import PortInUse, StartupError
from modelport.runtime.forking import ForkedChild, reset_after_fork, run_forked, take_environment
from modelport.runtime.readiness import DOWN, SERVING, Readiness
from modelport.runtime.stuck import stuck_after
from modelport.runtime.worker import LOAD_FAILED

logger = logging.getLogger("modelport.runtime")

POLL_SECONDS = 0.05
STOP_GRACE_SECONDS = 10.0
BACKOFF_FIRST_SECONDS = 0.5  # delay before restarting a worker after its first unexplained crash
BACKOFF_MAX_SECONDS = 30.0  # the delay doubles with each crash in a row, up to this
STABLE_SECONDS = 60.0  # a worker that lived this long starts its next back-off from the beginning


def backoff_delay(streak: int) -> float:
    """Seconds to wait before restarting a worker after ``streak`` unexplained crashes in a row."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, streak - 1))


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, shared by every worker; a clear error when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        error = PortInUse if exc.errno == errno.EADDRINUSE else StartupError
        raise error(f"Cannot listen on {host}:{port}: {exc.strerror}. Choose another port with --port.") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def fork_worker(arguments: list[str], environ: dict[str, str]) -> ForkedChild:
    """Fork a worker: the child resets what it inherited, takes ``environ`` and runs the worker's
    ``main(arguments)``; it never returns into the supervisor's event loop (``os._exit``)."""
    supervisor = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedChild(pid)

    def work() -> int:
        reset_after_fork()
        name_process("mp-worker")
        take_environment(environ)
        from modelport.runtime import worker

        return worker.main(arguments, supervisor=supervisor)

    run_forked(work)


@dataclass
class WorkerProcess:
    """One worker slot: its current process (None while waiting to restart) and crash history."""

    index: int
    process: subprocess.Popen | ForkedChild | None = None
    started: float = 0.0
    streak: int = 0  # crashes in a row that no request explains (loading again, or idle)
    restart_at: float = 0.0
    killed_stuck: bool = False
    exit_fd: int | None = None  # a pidfd of the process: readable once it has exited


class Supervisor:
    """Runs the worker processes of one model server until told to stop."""

    def __init__(
        self,
        model_dir: Path,
        env: RuntimeEnvironment,
        extra_paths: list[str] | None = None,
        on_ready: Callable[[float], None] | None = None,
        fork_workers: bool = False,
    ):
        self.model_dir = model_dir
        # fork (not exec) the workers, unless a requirements environment must come first on sys.path: the
        # template's already imported packages would win over the model's pinned ones
        self.fork_workers = fork_workers and not extra_paths
        self.env = env
        self.extra_paths = extra_paths or []
        self.on_ready = on_ready
        self.workers = [WorkerProcess(i) for i in range(env.workers)]
        self.exit_code = 0
        self.failure: str | None = None
        self.served = False  # every worker has served at least once: from now on nothing stops the server

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0) or until the model cannot be loaded (exit 1)."""
        import uvloop

        self.sock = bind(self.env.host, self.env.port)
        with tempfile.TemporaryDirectory(prefix="modelport-serve-") as state_dir:
            self.ready_file = Path(state_dir) / "ready"
            self.readiness = Readiness(self.ready_file, self.env.workers, create=True)
            self.metrics_file: Path | None = None
            self.metrics: runtime_metrics.RuntimeMetrics | None = None
            if self.env.metrics:  # a fresh file per server: every server starts counting at zero
                self.metrics_file = Path(state_dir) / "metrics"
                runtime_metrics.create(self.metrics_file, self.env.workers)
                self.metrics = runtime_metrics.RuntimeMetrics(self.metrics_file, self.env.workers)
            try:
                uvloop.run(self._supervise())
            finally:
                self._stop_workers()
                self.sock.close()
        if self.failure:
            print(f"modelport: {self.failure}", file=sys.stderr, flush=True)
        return self.exit_code

    # --- worker processes -------------------------------------------------------------------

    def _child_environment(self) -> dict[str, str]:
        environ = dict(os.environ)
        environ.update(
            SAGEMAKER_MODEL_SERVER_WORKERS=str(self.env.workers),
            SAGEMAKER_PROGRAM=self.env.program,
            SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=self.env.default_accept,
            SAGEMAKER_MAX_PAYLOAD_IN_MB=str(self.env.max_payload_mb),
            SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS=str(self.env.timeout_seconds),
            MODELPORT_FRAMEWORK=self.env.framework,
            MODELPORT_HOME=str(self.env.home),
            MODELPORT_MAX_BATCH_SIZE=str(self.env.max_batch_size),
            MODELPORT_MAX_BATCH_DELAY_MS=str(self.env.max_batch_delay_ms),
        )
        if self.env.submit_directory:
            environ["SAGEMAKER_SUBMIT_DIRECTORY"] = self.env.submit_directory
        return environ

    def _start(self, worker: WorkerProcess) -> None:
        arguments = [
            "--index", str(worker.index),
            "--model-dir", str(self.model_dir),
            "--fd", str(self.sock.fileno()),
            "--ready-file", str(self.ready_file),
        ]
        for path in self.extra_paths:
            arguments += ["--extra-path", path]
        if self.metrics_file is not None:
            arguments += ["--metrics-file", str(self.metrics_file)]
        self.readiness.set(worker.index, DOWN)
        worker.started = time.monotonic()
        worker.killed_stuck = False
        if self.fork_workers:
            worker.process = fork_worker(arguments, self._child_environment())
        else:
            worker.process = subprocess.Popen([sys.executable, "-m", "modelport.runtime.worker", *arguments],
                                              pass_fds=(self.sock.fileno(),), env=self._child_environment())
        self._watch(worker)

    def _watch(self, worker: WorkerProcess) -> None:
        """Wake the supervision loop the moment the worker's process exits, not at the next poll: until
        the supervisor marks it DOWN, the surviving workers still answer /ping 200 for it."""
        try:
            worker.exit_fd = os.pidfd_open(worker.process.pid)
        except OSError:  # a kernel without pidfds (before 5.3): the poll still sees the exit
            return
        self._loop.add_reader(worker.exit_fd, self._wake.set)

    def _unwatch(self, worker: WorkerProcess) -> None:
        if worker.exit_fd is not None:
            self._loop.remove_reader(worker.exit_fd)
            os.close(worker.exit_fd)
            worker.exit_fd = None

    def _stop_workers(self) -> None:
        running = [w.process for w in self.workers if w.process is not None and w.process.poll() is None]
        stop_all(running, STOP_GRACE_SECONDS)

    def _on_exit(self, worker: WorkerProcess, returncode: int) -> bool:
        """React to a worker that exited: schedule its restart; False when the whole server must stop."""
        index = worker.index
        loaded = self.readiness.state(index) != DOWN
        busy = self.readiness.busy_since(index) != 0.0
        self._unwatch(worker)
        self.readiness.set(index, DOWN)
        self.readiness.set_busy(index, 0.0)
        self.readiness.add_connections(index, -self.readiness.connections(index))
        worker.process = None
        how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        if not loaded and not self.served:
            if returncode == LOAD_FAILED:
                self.failure = f"worker {index} could not load the model (see the error above); stopping."
            else:
                self.failure = f"worker {index} died while loading the model ({how}); stopping."
            return False
        now = time.monotonic()
        if now - worker.started > STABLE_SECONDS:
            worker.streak = 0
        if loaded and busy:
            # a request killed it (os._exit, a segfault, a kill): the model loads, the request was at fault
            worker.restart_at = now
            logger.warning("worker %d died (%s) while answering a request; restarting it", index, how)
            return True
        worker.streak += 1
        delay = backoff_delay(worker.streak)
        worker.restart_at = now + delay
        what = "could not load the model again" if not loaded else "died"
        logger.warning("worker %d %s (%s; %d time(s) in a row); restarting it in %g s", index, what, how,
                       worker.streak, delay)
        return True

    def _replace_stuck_workers(self) -> None:
        """Kill a worker stuck in one request (native code SIGALRM cannot interrupt); it restarts."""
        limit = stuck_after(self.env.timeout_seconds)
        now = time.monotonic()
        for worker in self.workers:
            since = self.readiness.busy_since(worker.index)
            if since and now - since > limit and worker.process is not None and not worker.killed_stuck:
                logger.warning(
                    "worker %d has been in one request for %.0f s (timeout %g s); replacing it",
                    worker.index, now - since, self.env.timeout_seconds,
                )
                worker.killed_stuck = True
                worker.process.kill()  # busy_since stays set: its death counts as caused by a request

    # --- the supervision loop ---------------------------------------------------------------

    async def _start_loading_server(self) -> HttpServer:
        # A duplicate of the socket: closing this server must not close the one workers inherit.
        return start_server(LoadingApp(self.env, self.readiness, self.metrics), self.sock.dup())

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        wake = asyncio.Event()  # a worker has loaded its model (SIGUSR1)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: (stop.set(), wake.set()))
        loop.add_signal_handler(signal.SIGUSR1, wake.set)
        self._loop, self._wake = loop, wake
        started = time.monotonic()
        for worker in self.workers:
            self._start(worker)
        loading_server = await self._start_loading_server()
        announced = False
        while not stop.is_set():
            for worker in self.workers:
                if worker.process is None:
                    if time.monotonic() >= worker.restart_at:
                        self._start(worker)
                    continue
                returncode = worker.process.poll()
                if returncode is not None and not stop.is_set():
                    if not self._on_exit(worker, returncode):
                        self.exit_code = 1
                        stop.set()
            if stop.is_set():
                break
            self._replace_stuck_workers()
            loaded = self.readiness.loaded()
            if loaded and loading_server is not None:
                loading_server.close()  # stop answering "loading" before any worker accepts
                loading_server = None
            for index in loaded:
                self.readiness.set(index, SERVING)
            if not loaded and not self.readiness.any_ready() and loading_server is None:
                loading_server = await self._start_loading_server()
            if not announced and self.readiness.all_ready():
                announced = self.served = True
                if self.on_ready is not None:
                    self.on_ready(time.monotonic() - started)
            try:
                await asyncio.wait_for(wake.wait(), POLL_SECONDS)
            except asyncio.TimeoutError:
                pass
            wake.clear()
        for worker in self.workers:
            self._unwatch(worker)
        if loading_server is not None:
            loading_server.close()
