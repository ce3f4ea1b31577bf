"""One worker process: load the model once, then serve HTTP on the shared listening socket.

Started by the supervisor as ``python -m modelport.runtime.worker``, or forked from a supervisor that
was itself forked from hosting's instance template (:func:`main` called in the child). Exit codes: 0 after a clean
stop, 3 when the model could not be loaded (the traceback is on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

LOAD_FAILED = 3
SHIMS_DIR = Path(__file__).parent / "shims"


def add_compat_shims() -> None:
    """Let scripts that import SageMaker's toolkits load when the real packages are absent.

    The shims go at the END of ``sys.path``, so an installed real package always wins.
    """
    names = ("sagemaker_inference", "sagemaker_containers", "sagemaker_training")
    if any(importlib.util.find_spec(name) is None for name in names):
        sys.path.append(str(SHIMS_DIR))


def die_with_parent(supervisor: int | None = None) -> None:
    """Ask Linux to SIGTERM this worker when the supervisor dies (even by SIGKILL): no orphans.

    Exits at once when the supervisor (its pid, when known) died before the request took effect.
    """
    from modelport.process import die_with_parent as request

    request(signal.SIGTERM, parent=supervisor)


def load_transformer(model_dir: Path, env):  # noqa: ANN001, ANN201 - imports stay lazy here
    """Import the user's module and run model_fn (exactly once)."""
    from modelport.runtime import handlers, transformer

    user = handlers.load_user_module(model_dir, env)
    pipeline = transformer.build(model_dir, env, user)
    pipeline.load()
    return pipeline


async def _serve(app, sock: socket.socket, board, index: int) -> None:  # noqa: ANN001
    from modelport.net.busypoll import busy_poll_of
    from modelport.net.server import HttpServer

    loop = asyncio.get_running_loop()
    app.busy_poll = busy_poll_of(loop, app.env.busy_poll_ms / 1000)
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    # fair-share accept on the shared socket: the board holds every worker's connection count and busy time
    server = HttpServer(app, board=board, index=index)
    server.serve(sock, own_socket=False)
    await stop
    await server.shutdown(grace_seconds=5.0)  # streams in progress finish; the supervisor waits 10 s


def main(argv: list[str] | None = None, supervisor: int | None = None) -> int:
    """Entry point of a worker process (``supervisor``: its parent's pid, when known)."""
    parser = argparse.ArgumentParser(description="modelport worker (started by `modelport serve`).")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--extra-path", action="append", default=[], help="prepended to sys.path")
    parser.add_argument("--metrics-file", type=Path, default=None, help="where to count (absent: metrics off)")
    args = parser.parse_args(argv)

    die_with_parent(supervisor)
    logging.basicConfig(level=logging.INFO, format=f"[worker {args.index}] %(levelname)s %(name)s: %(message)s",
                        force=True)  # a forked worker inherits its supervisor's logging
    for path in reversed(args.extra_path):
        sys.path.insert(0, path)
    add_compat_shims()

    from modelport.runtime.app import make_app
    from modelport.runtime.environment import RuntimeEnvironment
    from modelport.runtime.errors import StartupError
    from modelport.runtime.readiness import Readiness

    env = RuntimeEnvironment()
    readiness = Readiness(args.ready_file, env.workers)
    sock = socket.socket(fileno=args.fd)
    # Until the model is loaded, SIGTERM just ends the process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    loading = time.perf_counter()
    try:
        pipeline = load_transformer(args.model_dir, env)
    except StartupError as exc:
        print(f"modelport: worker {args.index} cannot serve the model: {exc}", file=sys.stderr, flush=True)
        return LOAD_FAILED
    except BaseException:  # noqa: BLE001 - model_fn may raise anything; report it whole
        print(f"modelport: model_fn failed in worker {args.index}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        return LOAD_FAILED

    import uvloop

    import os

    from modelport.runtime.readiness import DOWN, LOADED, SERVING

    metrics = None
    if args.metrics_file is not None:
        from modelport.runtime.metrics import RuntimeMetrics

        metrics = RuntimeMetrics(args.metrics_file, env.workers, args.index)
        metrics.record_setup(time.perf_counter() - loading)
    app = make_app(pipeline, env, readiness, args.index, metrics)
    # Tell the supervisor, then wait until it has stopped answering "loading" on the shared port.
    readiness.set(args.index, LOADED)
    os.kill(os.getppid(), signal.SIGUSR1)
    if not readiness.wait_for(args.index, SERVING, timeout=60):
        print(f"modelport: worker {args.index}: the supervisor did not answer; exiting.", file=sys.stderr)
        return 1
    try:
        uvloop.run(_serve(app, sock, readiness, args.index))
    finally:
        readiness.set(args.index, DOWN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
