"""An instance template: a process that has imported the runtime and a framework family once, and forks
hosting's endpoint instances from itself (a fork server, as gunicorn's preload or Python's ``forkserver``).

Hosting starts one per family (``python -m modelport.runtime.template --family sklearn --control-fd N
--hosting-pid P --home HOME``, through the parent-death launcher) and speaks to it over a
``SOCK_SEQPACKET`` socket pair, one JSON message per packet:

- template → hosting, once: ``{"ready": true, "pid", "seconds", "modules"}`` or ``{"error": "..."}``;
- hosting → template: ``{"id", "argv": [runtime arguments], "env": {the instance's whole environment}}`` with
  the write end of the instance's log pipe attached (``SCM_RIGHTS``);
- template (its intermediate child) → hosting: ``{"id", "pid": N}`` (the instance) or ``{"id", "error": "..."}``;
  answers may come in another order than the requests.

The template stays single-threaded: it starts no thread, and before it says ready it forks once and
checks that it has one thread left (OpenBLAS stops its thread pool in its own fork handler; torch starts
its intra-op threads only when first used). Each instance is forked through an intermediate child that
exits at once, so the instance is adopted by hosting (a child subreaper, ``modelport.hosting.children``):
it is hosting's child, not the template's, so killing the template leaves instances running, and hosting
reaps them and reads their exit codes. Once adopted, the instance asks for the same parent-death signal
the launcher asks for (:func:`modelport.process.die_with_parent`), takes its own session and process
group, its own log pipe on stdout/stderr and its own environment (settings objects are built after the
fork), closes every other inherited file descriptor, reseeds, and runs ``python -m modelport.runtime``'s
``main`` with its workers forked too.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
import time
from typing import NoReturn

from modelport.process import name_process
from modelport.runtime.forking import threads

MAX_MESSAGE = 1 << 20
ADOPTION_TIMEOUT = 5.0  # seconds an instance waits to be adopted by hosting before it gives up

# What each family imports before it forks: the runtime, then the framework's modules a worker loading
# such a model imports (modules that are not installed are skipped).
RUNTIME_MODULES = (
    "modelport.runtime.serve", "modelport.runtime.supervisor", "modelport.runtime.worker",
    "modelport.runtime.app", "modelport.runtime.handlers", "modelport.runtime.transformer",
    "modelport.runtime.codecs", "modelport.runtime.frameworks", "modelport.archive.unpack",
    "modelport.net.server", "modelport.net.busypoll", "uvloop", "numpy", "threadpoolctl",
)
SKLEARN_MODULES = (
    "scipy", "sklearn", "sklearn.base", "sklearn.linear_model", "sklearn.ensemble", "sklearn.tree",
    "sklearn.pipeline", "sklearn.preprocessing", "sklearn.neighbors", "sklearn.svm", "joblib",
)
# What torch imports the first time a model_fn traces or freezes a network (torch.jit.trace: sympy and
# DTensor, about 0.9 s and 500 modules): imported here, a forked instance's first trace takes 0.3 s, not 1.2 s.
# Optional: a torch build without them (no torch.distributed) still gets a template.
TORCH_TRACING_MODULES = ("torch.fx.experimental.symbolic_shapes", "torch.distributed.tensor")
FAMILIES = {
    "sklearn": RUNTIME_MODULES + SKLEARN_MODULES,
    "pytorch": RUNTIME_MODULES + SKLEARN_MODULES + ("torch",) + TORCH_TRACING_MODULES,
}
OPTIONAL_MODULES = frozenset(TORCH_TRACING_MODULES)


def preload(family: str) -> int:
    """Import the family's modules; the number of modules loaded."""
    for name in FAMILIES[family]:
        top = name.partition(".")[0]
        if importlib.util.find_spec(top) is None:
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            if name not in OPTIONAL_MODULES:
                raise
    return len(sys.modules)


def settle() -> None:
    """Fork once and reap the child: native libraries that stop their thread pools in a fork handler
    (OpenBLAS) do it now, so the template is single-threaded from here on."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def send(control: socket.socket, message: dict) -> None:
    """One JSON message to hosting."""
    control.send(json.dumps(message).encode())


def fork_instance(request: dict, log_fd: int, control: socket.socket, hosting_pid: int) -> None:
    """Fork an intermediate child that forks the instance, tells hosting its pid (``{"id", "pid"}``) and
    exits, so hosting adopts the instance. The template itself forks once and returns to the next request:
    the second fork and the answer run in the intermediate child, beside the template."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork():
        return
    try:
        middle = os.getpid()
        instance = os.fork()
        if instance == 0:
            become_instance(request, log_fd, control, hosting_pid, middle)
        send(control, {"id": request["id"], "pid": instance})
    except BaseException as exc:  # noqa: BLE001 - hosting starts this instance as a new process instead
        try:
            send(control, {"id": request.get("id"), "error": f"could not fork the instance: {exc!r}"})
        except OSError:
            pass
    finally:
        os._exit(0)


def reap_children(*_: object) -> None:
    """Reap the intermediate children that have exited (SIGCHLD)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return


def wait_for_adoption(hosting_pid: int, middle: int) -> None:
    """Wait until hosting is this process's parent (``middle``, the intermediate child, exits at once), then
    ask to be signalled when hosting dies; exit when another process adopted it (hosting died first)."""
    from modelport.process import die_with_parent

    deadline = time.monotonic() + ADOPTION_TIMEOUT
    while (parent := os.getppid()) != hosting_pid:
        if parent != middle or time.monotonic() > deadline:
            print(f"modelport: this instance was not adopted by hosting (pid {hosting_pid}; its parent is "
                  f"{parent}): hosting has exited, or is not a child subreaper.", file=sys.stderr, flush=True)
            os._exit(1)
        time.sleep(0.0002)
    die_with_parent(parent=hosting_pid)


def become_instance(request: dict, log_fd: int, control: socket.socket, hosting_pid: int,
                    middle: int) -> NoReturn:
    """In the forked instance: its own session, log, fds, parent-death signal and environment; then
    serve. Never returns."""
    from modelport.runtime.forking import detach, reset_after_fork, run_forked, take_environment

    def serve() -> int:
        os.close(control.detach())
        detach(log_fd)
        reset_after_fork()
        name_process("mp-instance")
        wait_for_adoption(hosting_pid, middle)
        take_environment(request["env"])
        from modelport.runtime.__main__ import main

        return main(request["argv"], fork_workers=True)

    run_forked(serve)


def serve_requests(control: socket.socket, hosting_pid: int) -> int:
    """Fork an instance for every request until hosting closes the socket."""
    signal.signal(signal.SIGCHLD, reap_children)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 1)
        except (ConnectionError, OSError):
            return 0
        if not data:
            return 0
        request: dict = {}
        try:
            request = json.loads(data)
            if len(fds) != 1:
                raise ValueError(f"a request carries one file descriptor (the instance's log), not {len(fds)}")
            fork_instance(request, fds[0], control, hosting_pid)
        except (OSError, ValueError, KeyError) as exc:
            send(control, {"id": request.get("id"), "error": f"{type(exc).__name__}: {exc}"})
        finally:
            for fd in fds:
                os.close(fd)


def main(argv: list[str] | None = None) -> int:
    """Preload, check that the template is single-threaded, say ready, then fork instances on request."""
    parser = argparse.ArgumentParser(prog="python -m modelport.runtime.template", description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--hosting-pid", type=int, required=True)
    parser.add_argument("--home", default="", help="hosting's MODELPORT_HOME (shown in the process list)")
    args = parser.parse_args(argv)
    name_process("mp-template")
    control = socket.socket(fileno=args.control_fd)
    started = time.monotonic()
    gc.disable()  # no collection while importing: fewer pages touched
    try:
        modules = preload(args.family)
        settle()
        gc.freeze()  # what the imports made is never collected: children's collections do not copy its pages
    except Exception as exc:  # noqa: BLE001 - hosting falls back to starting instances one by one
        send(control, {"error": f"preloading {args.family} failed: {exc!r}"})
        return 1
    count = threads()
    if count != 1 or threading.active_count() != 1:
        send(control, {"error": f"the {args.family} template has {count} threads after preloading; it forks "
                                "only when single-threaded"})
        return 1
    send(control, {"ready": True, "pid": os.getpid(), "seconds": round(time.monotonic() - started, 3),
                   "modules": modules})
    return serve_requests(control, args.hosting_pid)


if __name__ == "__main__":
    sys.exit(main())
