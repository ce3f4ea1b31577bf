"""`modelport shadow report ENDPOINT`: a shadow variant compared with production — agreement of their captured
answers, latency p50/p99 and error rates from hosting's metrics — as a table or JSON."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer

from modelport.cli.hosting import URL_HELP, _call, _clients, _fail
from modelport.hosting.capture.agreement import REL_TOLERANCE

shadow_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="Shadow variants (ShadowProductionVariants): compare a shadow with production.")


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def short(text: Optional[str], limit: int = 48) -> str:
    """``text`` cut to ``limit`` characters for a table line (--json and --out keep more)."""
    text = text or ""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_report(result: dict[str, Any]) -> None:
    """The report as a rich table, the agreement line and a few disagreements."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"shadow report: {result['endpoint']}")
    for column in ("variant", "role", "captured", "invocations", "dropped", "4xx", "5xx", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("variant", "role") else "right")
    for name, role in ((result["production"], "production"), (result["shadow"], "shadow")):
        v = result["variants"][name]
        table.add_row(name, role, str(v["captured"]), str(v.get("invocations", "-")), str(v.get("dropped", "-")),
                      _percent(v.get("error_rate_4xx")),
                      _percent(v.get("error_rate_5xx")), _ms(v.get("p50_ms")), _ms(v.get("p99_ms")))
    console = Console()
    console.print(table)
    console.print(f"agreement: {_percent(result['agreement'])} ({result['agreed']} of {result['compared']} paired "
                  f"answers)" + ("" if result["compared"] else " — no pairs: is DataCaptureConfig capturing output?"))
    for example in result["disagreements"]:
        console.print(f"  differs {example['eventId']}: production {short(example['production'])}, shadow "
                      f"{short(example['shadow'])}", markup=False, highlight=False)


@shadow_app.command("report")
def report(
    endpoint: str = typer.Argument(..., help="An endpoint with a shadow variant (ShadowProductionVariants)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    tolerance: float = typer.Option(REL_TOLERANCE, help="Relative tolerance for numbers that are not class "
                                    "probabilities (those compare by argmax)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP),
) -> None:
    """Compare an endpoint's shadow variant with its production variant.

    Answers are paired from the endpoint's capture files (same eventId, else inferenceId) and compared: by
    argmax for classifier outputs, within --tolerance for other numbers, exactly for strings. Latency and error
    rates come from hosting's metrics (SageMaker's capture records carry no latency).

    Example: modelport shadow report digits --json
    """
    import httpx

    from modelport.hosting.capture.reader import CaptureReadError, read
    from modelport.hosting.capture.report import shadow_report
    from modelport.hosting.client import hosting_metrics, local_s3_client

    sm, _ = _clients(url)
    described = _call(sm.describe_endpoint, EndpointName=endpoint)
    shadows = described.get("ShadowProductionVariants") or []
    if not shadows:
        _fail(f"endpoint {endpoint} has no shadow variant; create its endpoint config with ShadowProductionVariants.")
    production, shadow = described["ProductionVariants"][0]["VariantName"], shadows[0]["VariantName"]
    capture = described.get("DataCaptureConfig") or {}
    records: list = []
    try:
        if capture.get("DestinationS3Uri"):
            source = capture["DestinationS3Uri"].rstrip("/") + f"/{endpoint}/"
            records = list(read(source, local_s3_client(url)))
        metrics = hosting_metrics(url)
    except (CaptureReadError, httpx.HTTPError) as exc:
        _fail(str(exc))
    result = shadow_report(records, endpoint, production, shadow, metrics, rel=tolerance)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_report(result)
