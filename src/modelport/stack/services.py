"""``modelport up``'s service process: hosting and the gateway in one process, on one event loop.

    python -m modelport.stack.services --hosting-port 8001 --gateway-host 127.0.0.1 --gateway-port 8000

Hosting listens on 127.0.0.1 (always: it runs code) and the gateway on its own address, as two separate
listening sockets with their own limits. The gateway calls hosting's Runtime API in process
(``gateway/transports/in_process.py``): the same requests, through hosting's gate with its token, without
an HTTP round trip between two processes. On two cores that hop was about a third of the gateway path's
CPU (bench/README.md, "Hosting and gateway"). ``MODELPORT_RUNTIME_CLIENT=http`` or ``boto3`` keeps the
gateway on that client instead.

Nothing changes for safety: the gateway already holds hosting's token, so sharing a process gives a
fault in the gateway no power it did not have; and ``up`` already stopped everything when either
service died. SIGTERM or SIGINT stops the gateway first (requests in flight get their grace), then
hosting (its instances stop, state is saved). Exit codes: 0 after a requested stop, 1 when a service
failed, 2 for a configuration error (a bad gateway setting, a bad token), 98 when a port is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys

from modelport.process import PORT_IN_USE_EXIT

log = logging.getLogger("modelport.stack")

HOSTING_HOST = "127.0.0.1"  # hosting runs code: it stays on loopback whatever the gateway binds
CONFIG_ERROR_EXIT = 2


def main(argv: list[str] | None = None) -> int:
    """Run hosting and the gateway until SIGTERM/SIGINT; the exit code says why it stopped."""
    parser = argparse.ArgumentParser(
        prog="python -m modelport.stack.services",
        description="Hosting and the gateway in one process (started by `modelport up`).")
    parser.add_argument("--hosting-port", type=int, required=True, help="port of hosting's APIs (on 127.0.0.1)")
    parser.add_argument("--gateway-host", default="127.0.0.1", help="address the gateway binds (default 127.0.0.1)")
    parser.add_argument("--gateway-port", type=int, required=True, help="port of the gateway (page and public API)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import uvloop

    from modelport.hosting.auth import RemoteBindRefused
    from modelport.hosting.server import HostingServer
    from modelport.hosting.settings import get_hosting_settings
    from modelport.token import TokenError

    settings = get_hosting_settings().model_copy(update={"host": HOSTING_HOST, "port": args.hosting_port})
    try:
        hosting = HostingServer(settings=settings)
    except (RemoteBindRefused, TokenError) as exc:
        print(f"modelport services: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    return uvloop.run(serve(hosting, args.gateway_host, args.gateway_port))


async def serve(hosting, gateway_host: str, gateway_port: int) -> int:
    """Start ``hosting`` (a :class:`~modelport.hosting.server.HostingServer`), then the gateway in front of it
    on this loop; serve until a signal, or until either of them stops; return the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready = asyncio.Event()
    hosting_run = asyncio.ensure_future(hosting.run(on_ready=lambda _: ready.set()))
    hosting_run.add_done_callback(lambda _: stop.set())  # hosting gone: the gateway has nothing to call
    started = asyncio.ensure_future(ready.wait())
    await asyncio.wait({hosting_run, started}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.is_set():
        started.cancel()
        return _hosting_failed(hosting_run, hosting.settings.port)
    print(f"modelport hosting: SageMaker APIs on {hosting.url} (state in {hosting.home.resolve()})", flush=True)
    try:
        code = await _serve_gateway(hosting, gateway_host, gateway_port, stop)
        if hosting_run.done():  # hosting stopped without being asked to: a failure, whatever the gateway says
            log.error("hosting stopped; the gateway stopped with it")
            code = code or 1
        return code
    finally:
        hosting.request_stop()
        try:
            await hosting_run
        except Exception:  # noqa: BLE001 - stopping anyway; the failure goes to the log
            log.exception("hosting failed")


async def _serve_gateway(hosting, host: str, port: int, stop: asyncio.Event) -> int:
    """The gateway in front of ``hosting`` until ``stop``: 0, or the exit code of what kept it from starting."""
    from modelport.gateway.app import create_app
    from modelport.gateway.local_server import serve_gateway
    from modelport.gateway.parts import load_settings
    from modelport.net.server import bind_socket

    settings, problems = load_settings()
    app = create_app(settings, transport=_transport(hosting, settings))
    problems += app.state.config_errors
    for problem in problems:
        print(f"modelport services: gateway configuration error: {problem}", file=sys.stderr, flush=True)
    if problems:
        return CONFIG_ERROR_EXIT
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"modelport services: cannot listen on {host}:{port} for the gateway: {exc.strerror or exc}",
              file=sys.stderr, flush=True)
        return PORT_IN_USE_EXIT if exc.errno == errno.EADDRINUSE else 1
    print(f"modelport gateway on http://{host}:{port} (SageMaker Runtime API: {app.state.backend.transport.name})",
          flush=True)
    await serve_gateway(app, sock, stop)
    return 0


def _transport(hosting, settings):
    """The in-process transport to ``hosting``, unless MODELPORT_RUNTIME_CLIENT asks for ``http`` or ``boto3``
    (None: the settings' own choice)."""
    from modelport.gateway.transports import IN_PROCESS

    if settings.runtime_client.strip().lower() not in ("", "auto", IN_PROCESS):
        return None
    return in_process_transport(hosting, settings.backend_timeout)


def in_process_transport(hosting, timeout: float, token: str | None = None):
    """The gateway's Runtime API transport into a running ``hosting`` (a
    :class:`~modelport.hosting.server.HostingServer`), for use on its event loop; ``timeout``: the backend's;
    ``token``: the one to present (default: hosting's own)."""
    from modelport.gateway.transports.in_process import InProcessTransport
    from modelport.net.in_process import InProcessClient

    client = InProcessClient(hosting.http_app, hosting.loop)
    return InProcessTransport(client, hosting.token if token is None else token, timeout,
                              host=f"{HOSTING_HOST}:{hosting.port}")


def _hosting_failed(hosting_run: asyncio.Future, port: int) -> int:
    """Report why hosting did not start; its exit code."""
    from modelport.hosting.server import HomeInUse

    error = hosting_run.exception() if not hosting_run.cancelled() else None
    if isinstance(error, HomeInUse):
        print(f"modelport services: {error}", file=sys.stderr, flush=True)
        return 1
    if isinstance(error, OSError):
        print(f"modelport services: cannot listen on {HOSTING_HOST}:{port} for hosting: {error.strerror or error}",
              file=sys.stderr, flush=True)
        return PORT_IN_USE_EXIT if error.errno == errno.EADDRINUSE else 1
    print(f"modelport services: hosting failed to start: {error!r}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
