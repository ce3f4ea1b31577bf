"""`modelport gateway`: the public HTTP API (the same app that runs in AWS Lambda)."""

from __future__ import annotations

import typer


def gateway(
    port: int = typer.Option(8000, "--port", "-p", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (use 0.0.0.0 to accept other machines)."),
    workers: int = typer.Option(
        1, "--workers", min=1,
        help="Gateway processes sharing the port (rate-limit buckets are per process).",
    ),
) -> None:
    """Start the gateway: /predict, /invoke, /models, /health, /docs and the built page at /.

    Which endpoint serves which model: MNIST_SKLEARN_ENDPOINT, MNIST_PYTORCH_ENDPOINT, SENTIMENT_ENDPOINT, MODELPORT_ROUTES.

    Where the SageMaker Runtime API is: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (locally modelport hosting, e.g. http://127.0.0.1:8001).

    Limits and access: ALLOWED_ORIGINS, MODELPORT_API_KEYS, MODELPORT_RATE_LIMIT, MODELPORT_BACKEND_TIMEOUT, MODELPORT_MAX_BODY_MB.
    """
    from rich.console import Console

    from modelport.gateway.app import create_app
    from modelport.gateway.local_server import serve_app, serve_workers
    from modelport.net.server import bind_socket

    console = Console(stderr=True)
    from modelport.stack.preflight import port_is_free

    if not port_is_free(host, port):
        console.print(f"[red]port {port} on {host} is already in use[/red]: stop what uses it or pick another with --port")
        raise typer.Exit(code=1)
    gateway_app = create_app()
    for problem in gateway_app.state.config_errors:
        console.print(f"[red]configuration error:[/red] {problem}")
    if gateway_app.state.config_errors:
        raise typer.Exit(code=2)
    routes = gateway_app.state.model_table.routes.values()
    for route in routes:
        target = route.endpoint or "[yellow]not configured[/yellow]"
        console.print(f"  {route.name:<16} {route.kind:<17} → {target}")
    page = gateway_app.state.page_dir
    console.print(f"  page: {page}" if page else "  page: not built (npm run build in page/); / answers 404")
    if gateway_app.state.settings.runtime_endpoint_url:
        console.print(f"  SageMaker Runtime API: {gateway_app.state.settings.runtime_endpoint_url} (client: {gateway_app.state.backend.transport.name})")
    console.print(f"modelport gateway on [bold]http://{host}:{port}[/bold]  (API docs: http://{host}:{port}/docs)", soft_wrap=True)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        console.print(f"[red]cannot listen on {host}:{port}[/red]: {exc.strerror}")
        raise typer.Exit(code=1) from None
    if workers == 1:
        serve_app(gateway_app, sock)
    else:  # each worker process builds its own app from the same environment
        raise typer.Exit(code=serve_workers(sock, workers))
