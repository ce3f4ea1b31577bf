"""The models a multi-model server has loaded: each one is its own single-model runtime process.

Loading a model starts ``python -m modelport.runtime MODEL_DIR`` on a free port (one worker, as
SageMaker's MME containers start ``default_workers_per_model=1``) and waits for its ``/ping``; the
model's ``model_fn`` and every request's handlers run only in that runtime's worker process, so one
model's user code never shares a process with another's. Unloading stops that process group.
Each process asks Linux to end it when this server dies (:func:`modelport.process.die_with_parent`).

When this server was itself forked from hosting's warm template (``fork_targets``) and is still
single-threaded, a model's runtime is forked from it instead of started as a new Python: it has the runtime
and the framework imported already, so loading costs the model's own ``model_fn`` and not Python's start-up
and the imports of numpy or scikit-learn. It is forked from the event loop's thread, between two callbacks,
the way a runtime's supervisor forks its workers; the child resets what it inherited
(:mod:`modelport.runtime.forking`), takes its own session, environment and parent-death signal, and keeps
this server's stdout/stderr (the instance's log). Otherwise (``MODELPORT_HOSTING_FORKSERVER=0``, a server
not forked from a template, or a thread started in it) it starts ``python -m modelport.runtime`` through the
parent-death launcher (:data:`modelport.process.LAUNCHER`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from modelport.net.upstream import UpstreamError, UpstreamPool
from modelport.process import (
    LAUNCHER, PORT_ATTEMPTS, PORT_IN_USE_EXIT, die_with_parent, free_port, group_pss, name_process, signal_group,
)
from modelport.runtime.forking import ForkedChild, detach, reset_after_fork, run_forked, take_environment, threads

PING_FIRST_INTERVAL = 0.005  # a forked target answers /ping tens of milliseconds after it is forked
PING_MAX_INTERVAL = 0.1  # growing by half up to this while a slow model_fn loads
REAP_INTERVAL = 0.02  # between checks whether a forked runtime has exited
STOP_GRACE_SECONDS = 5.0
WORKERS_PER_MODEL = 1  # SageMaker's MME properties: default_workers_per_model=1
_DROPPED = ("SAGEMAKER_MULTI_MODEL", "SAGEMAKER_BIND_TO_PORT", "SAGEMAKER_MODEL_SERVER_WORKERS")


class LoadError(Exception):
    """A model could not be loaded; ``status`` is the management API's answer (404, 409, 500, 507)."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class ForkedRuntime:
    """A model's runtime forked from this server, with the part of ``asyncio.subprocess.Process`` the table
    uses: ``pid``, ``returncode`` and ``await wait()``."""

    def __init__(self, child: ForkedChild) -> None:
        self.child = child
        self.pid = child.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        return self.child.poll()

    async def wait(self) -> int:
        """Wait until it exits, without blocking the event loop."""
        while self.child.poll() is None:
            await asyncio.sleep(REAP_INTERVAL)
        return self.child.returncode


def fork_runtime(argv: list[str], environ: dict[str, str]) -> ForkedRuntime:
    """Fork ``python -m modelport.runtime ARGV`` from this (single-threaded) server: the child has its own
    session and process group, ``environ`` as its whole environment and this server's log, dies with this
    server, and forks its own worker in turn; it never returns into this server's event loop."""
    server = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedRuntime(ForkedChild(pid))

    def serve() -> int:
        detach()
        reset_after_fork()
        name_process("mp-target")
        die_with_parent(parent=server)
        take_environment(environ)
        from modelport.runtime.__main__ import main

        return main(argv, fork_workers=True)

    run_forked(serve)


@dataclass
class LoadedModel:
    """One loaded model: its name, where it was loaded from, and the runtime process serving it."""

    name: str
    url: str
    process: asyncio.subprocess.Process | ForkedRuntime
    pool: UpstreamPool
    loaded_at: float = field(default_factory=time.time)

    def memory_bytes(self) -> int:
        """Memory of the model's runtime (its supervisor and worker; pages shared with its instance counted in part)."""
        return group_pss(self.process.pid)

    def describe(self) -> dict:
        """``{"modelName", "modelUrl"}`` as SageMaker's model server lists it, plus modelport's ``pid`` and
        ``memoryBytes``."""
        return {"modelName": self.name, "modelUrl": self.url, "pid": self.process.pid,
                "memoryBytes": self.memory_bytes()}


class ModelTable:
    """Loads, lists and unloads the models of one multi-model server (all on its event loop)."""

    def __init__(self, store: Path, load_timeout: float, fork_targets: bool = False) -> None:
        self.store = Path(os.path.realpath(store))
        self.load_timeout = load_timeout
        self.fork_targets = fork_targets  # this server was forked from a warm template: fork runtimes from it
        self.models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._loading: set[str] = set()

    def model_dir(self, url: str) -> Path:
        """The folder or archive ``url`` names: absolute, ``file://`` or relative to the store; it must lie
        inside the store (LoadError 404 otherwise)."""
        text = url[len("file://"):] if url.startswith("file://") else url
        path = Path(os.path.realpath(self.store / text))
        if not path.is_relative_to(self.store):
            raise LoadError(404, "ModelNotFoundException",
                            f"Model url {url} is outside the model store {self.store}; give a folder or model.tar.gz "
                            f"inside it (absolute, or relative to the store).")
        if not path.exists():
            raise LoadError(404, "ModelNotFoundException", f"Model url {url} not found in the model store {self.store}.")
        return path

    async def load(self, name: str, url: str) -> LoadedModel:
        """Start the model's runtime and wait until it passes ``/ping``."""
        if name in self.models or name in self._loading:
            raise LoadError(409, "ConflictStatusException", f"Model {name} is already registered.")
        path = self.model_dir(url)
        self._loading.add(name)
        try:
            for attempt in range(1, PORT_ATTEMPTS + 1):
                port = free_port()
                process = await self._start(path, port)
                model = LoadedModel(name, url, process, UpstreamPool("127.0.0.1", port))
                try:
                    await self._wait_ready(model)
                    break
                except BaseException:
                    await self._stop(model)
                    if attempt < PORT_ATTEMPTS and process.returncode == PORT_IN_USE_EXIT:
                        continue  # another program took the port before the runtime bound it
                    raise
            self.models[name] = model
            return model
        finally:
            self._loading.discard(name)

    async def _start(self, path: Path, port: int) -> asyncio.subprocess.Process | ForkedRuntime:
        """The model's runtime: forked from this server when it may fork, else a new Python process."""
        argv = [str(path), "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS_PER_MODEL)]
        env = dict(os.environ)  # this server's own keys are not the model's
        for key in _DROPPED:
            env.pop(key, None)
        if self.fork_targets:
            count = threads()
            if count == 1:
                return fork_runtime(argv, env)
            print(f"modelport: starting the runtime of {path.name} as a new process: this server has {count} "
                  f"threads and forks only while single-threaded", file=sys.stderr, flush=True)
        return await asyncio.create_subprocess_exec(
            sys.executable, "-S", "-c", LAUNCHER, str(os.getpid()), sys.executable, "-m", "modelport.runtime", *argv,
            stdin=asyncio.subprocess.DEVNULL, env=env, start_new_session=True)

    async def _wait_ready(self, model: LoadedModel) -> None:
        deadline = time.monotonic() + self.load_timeout
        interval = PING_FIRST_INTERVAL
        while True:
            if model.process.returncode is not None:
                raise LoadError(500, "ModelLoadError",
                                f"Model {model.name} failed to load: its model server exited with code "
                                f"{model.process.returncode} (its model_fn or handler module failed; the traceback is "
                                f"in this server's log).")
            try:
                if (await model.pool.request("GET", "/ping", timeout=2.0)).status == 200:
                    return
            except (UpstreamError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise LoadError(500, "ModelLoadError",
                                f"Model {model.name} did not finish loading within {self.load_timeout:g} s.")
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, PING_MAX_INTERVAL)

    def get(self, name: str) -> LoadedModel:
        """The loaded model ``name`` (LoadError 404 when it is not loaded)."""
        model = self.models.get(name)
        if model is not None and model.process.returncode is not None:  # its runtime died: no longer loaded
            del self.models[name]
            model.pool.close()
            model = None
        if model is None:
            raise LoadError(404, "ModelNotFoundException", f"Model not found: {name}")
        return model

    async def exited(self, model: LoadedModel, wait: float = 1.0) -> bool:
        """Whether ``model``'s runtime has exited (waiting up to ``wait`` s for it to be reaped); if so, it is
        no longer loaded."""
        try:
            await asyncio.wait_for(asyncio.shield(model.process.wait()), wait)
        except asyncio.TimeoutError:
            return False
        if self.models.get(model.name) is model:
            del self.models[model.name]
            model.pool.close()
        return True

    async def unload(self, name: str) -> None:
        """Stop the model's runtime (LoadError 404 when it is not loaded)."""
        model = self.get(name)
        del self.models[name]
        await self._stop(model)

    async def _stop(self, model: LoadedModel) -> None:
        model.pool.close()
        process = model.process
        if process.returncode is None:
            signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except asyncio.TimeoutError:
                pass
        signal_group(process.pid, signal.SIGKILL, reaped=process.returncode is not None)  # its worker too
        if process.returncode is None:
            await process.wait()

    async def close(self) -> None:
        """Unload every model."""
        models, self.models = list(self.models.values()), OrderedDict()
        await asyncio.gather(*(self._stop(m) for m in models), return_exceptions=True)
