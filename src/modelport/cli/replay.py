"""`modelport replay CAPTURE_URI --archive candidate.tar.gz` (or `--endpoint NAME`): captured requests sent to a
candidate, its answers compared with the captured ones; a table, a JSON file (--out) and a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from modelport.cli.hosting import URL_HELP, _clients, _fail
from modelport.cli.shadow import short
from modelport.hosting.capture.agreement import REL_TOLERANCE


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def replay(
    capture_uri: str = typer.Argument(..., help="Capture files: a folder, a .jsonl file, file:// or s3:// (a prefix "
                                      "of a SageMaker capture bucket or of hosting's S3; s3:// uses the usual AWS "
                                      "settings, e.g. after `eval \"$(modelport env)\"` for hosting's)."),
    archive: Optional[str] = typer.Option(None, "--archive", help="Candidate model.tar.gz (or model folder), served "
                                          "for the replay as `modelport serve` serves it."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Candidate endpoint on hosting, instead of --archive."),
    variant: Optional[str] = typer.Option(None, "--variant", help="Replay the records of this variant folder "
                                          "(needed when the capture holds several, e.g. AllTraffic and a shadow)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the report as JSON to this file."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=64, help="Requests in flight."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes of the --archive candidate."),
    tolerance: float = typer.Option(REL_TOLERANCE, help="Relative tolerance for numbers that are not class "
                                    "probabilities (those compare by argmax)."),
    url: Optional[str] = typer.Option(None, help=URL_HELP + " For --endpoint."),
) -> None:
    """Replay captured traffic against a candidate model and report how often it agrees.

    Every captured request is sent with its captured content type (asking for the captured answer's type); the
    answers are compared with the captured ones — by argmax for classifier outputs, within --tolerance for other
    numbers, exactly for strings — and latency p50/p99 and errors are reported.

    Example: modelport replay ./capture/digits/AllTraffic --archive model-v2.tar.gz --out replay.json
    """
    from rich.console import Console
    from rich.table import Table

    from modelport.hosting.capture.reader import CaptureReadError, read
    from modelport.hosting.capture.replay import (CandidateRuntime, ReplayError, choose_variant, endpoint_sender,
                                                  http_sender)
    from modelport.hosting.capture.replay import replay as run_replay
    from modelport.progress import progress

    if (archive is None) == (endpoint is None):
        _fail("give exactly one candidate: --archive model.tar.gz or --endpoint NAME.")
    try:
        items = choose_variant(list(read(capture_uri)), variant)
    except (CaptureReadError, ReplayError) as exc:
        _fail(str(exc))
    candidate = archive or f"endpoint {endpoint}"
    try:
        with progress(f"replay against {candidate}", total=len(items), unit="requests", every=2.0) as tracker:
            def done() -> None:
                tracker.update(advance=1)

            if archive is not None:
                with CandidateRuntime(archive, workers) as runtime:
                    result = run_replay(items, http_sender(runtime.url), concurrency=concurrency, on_done=done,
                                        rel=tolerance)
            else:
                _, rt = _clients(url)
                result = run_replay(items, endpoint_sender(rt, endpoint), concurrency=concurrency, on_done=done,
                                    rel=tolerance)
    except ReplayError as exc:
        _fail(str(exc))
    result = {"source": capture_uri, "candidate": candidate, **result}
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"replay of {capture_uri} against {candidate}")
    for column in ("requests", "agreement", "agreed", "errors", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    table.add_row(str(result["requests"]), _percent(result["agreement"]), f"{result['agreed']}/{result['compared']}",
                  str(result["errors"]), "-" if result["p50_ms"] is None else f"{result['p50_ms']:.2f}",
                  "-" if result["p99_ms"] is None else f"{result['p99_ms']:.2f}")
    console = Console()
    console.print(table)
    for example in result["disagreements"]:
        console.print(f"  differs {example['eventId']}: captured {short(example['captured'])}, candidate "
                      f"{short(example['candidate'])}", markup=False, highlight=False)
    for example in result["error_examples"]:
        console.print(f"  error {example['eventId']}: status {example['status']}: {short(example['error'], 120)}",
                      markup=False, highlight=False)
    if out is not None:
        console.print(f"report written to {out}")
