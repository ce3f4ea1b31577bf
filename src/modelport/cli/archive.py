"""`modelport pack` and `modelport check`: build and validate SageMaker-layout archives."""

from __future__ import annotations

import json
import tarfile
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from modelport.archive.check import DEFAULT_TIMEOUT_SECONDS, HANDLER_NAMES, CheckResult, check_archive
from modelport.archive.errors import ArchiveError, ArchiveWarning
from modelport.archive.pack import pack_archive

console = Console()
err_console = Console(stderr=True)
_LISTED_MEMBERS = 20


def pack_command(
    source_dir: Path = typer.Argument(
        ..., help="Folder with the model artifacts (model.joblib, model.pth, ...) and optionally code/."
    ),
    output: Path = typer.Option(Path("model.tar.gz"), "--output", "-o", help="Archive to write."),
    code: Path | None = typer.Option(
        None,
        "--code",
        help="Entry script (copied to code/<name>) or source folder (replaces code/) to include.",
    ),
) -> None:
    """Pack a model folder into a SageMaker-layout model.tar.gz.

    Artifacts go to the archive root and code/ is kept as is, with no top-level folder, exactly as the SageMaker SDK lays archives out. The same inputs always give the same bytes.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ArchiveWarning)
        try:
            with Progress(
                TextColumn("packing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                console=err_console, transient=True,
            ) as progress:
                task = progress.add_task("pack", total=None)
                written = pack_archive(
                    source_dir, output, code,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        except ArchiveError as error:
            err_console.print(f"[red]✗ cannot pack:[/red] {escape(str(error))}", soft_wrap=True)
            raise typer.Exit(1) from None
    for warning in caught:
        if issubclass(warning.category, ArchiveWarning):
            err_console.print(f"[yellow]! {escape(str(warning.message))}[/yellow]", soft_wrap=True)
    with tarfile.open(written) as tar:
        members = [m for m in tar.getmembers() if not m.isdir()]
    unpacked = sum(m.size for m in members)
    console.print(
        f"[green]✓[/green] wrote {escape(str(written))}: {len(members)} files, "
        f"{_size(unpacked)} unpacked, {_size(written.stat().st_size)} packed"
    )
    for member in members[:_LISTED_MEMBERS]:
        console.print(f"  {escape(member.name)}  [dim]{_size(member.size)}[/dim]")
    if len(members) > _LISTED_MEMBERS:
        console.print(f"  [dim]... and {len(members) - _LISTED_MEMBERS} more[/dim]")


def check_command(
    archive: str = typer.Argument(..., help="model.tar.gz (path or file:// URI) or an unpacked model folder."),
    sample: Path | None = typer.Option(None, "--sample", help="A request body to send through the handler once."),
    content_type: str | None = typer.Option(
        None, "--content-type", help="Content type of --sample (default: from its suffix: .json, .csv, .npy, .npz)."
    ),
    accept: str | None = typer.Option(None, "--accept", help="Accept for the sample invocation (default application/json)."),
    framework: str | None = typer.Option(
        None,
        "--framework",
        help="Whose default handlers apply: auto, sklearn, pytorch or none (pytorch serves a TorchScript model with no code/).",
    ),
    timeout: float = typer.Option(DEFAULT_TIMEOUT_SECONDS, "--timeout", help="Seconds allowed to import and invoke."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as one JSON object instead of a table."),
) -> None:
    """Check an archive before serving it.

    Unpacks it safely to a temporary folder, imports its handler in a separate process, shows which handler functions it defines and which SageMaker defaults apply, and with --sample runs one real invocation.

    Exits 1 on any problem: unsafe archive, import error, transform_fn mixed with input/predict/output, failed invocation.
    """
    with err_console.status("checking the archive ...", spinner="dots"):
        result = check_archive(
            archive, sample=sample, content_type=content_type, accept=accept, framework=framework, timeout=timeout
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render_check(result)
    if not result.ok:
        raise typer.Exit(1)


def render_check(result: CheckResult) -> None:
    """Print the check result: archive facts, handler table, invocation, problems, verdict."""
    console.print(f"[bold]Archive[/bold]    {escape(result.archive)}", highlight=False)
    if result.files:
        console.print(f"[bold]Contents[/bold]   {result.files} files, {_size(result.total_bytes)} unpacked")
    report = result.report
    if report is not None and report.from_inspector:
        console.print(f"[bold]Module[/bold]     {escape(report.module or '(none found)')}", highlight=False)
        console.print(f"[bold]Framework[/bold]  {escape(report.framework)}", highlight=False)
        if report.functions or report.defaults:  # empty when the module could not be loaded
            console.print(_handler_table(report.functions, report.defaults))
        if report.invocation is not None:
            _render_invocation(report.invocation)
    for note in result.notes:
        console.print(f"[yellow]![/yellow] {escape(note)}", soft_wrap=True)
    problems = result.problems + (report.problems if report is not None else [])
    for problem in problems:
        console.print(f"[red]✗[/red] {escape(problem)}", soft_wrap=True)
    if result.ok:
        console.print("[green]✓ ready to serve[/green]")
    else:
        count = len(problems) or 1
        console.print(f"[red]✗ {count} problem{'s' if count != 1 else ''}: not ready to serve[/red]")


def _handler_table(functions: dict[str, bool], defaults: list[str]) -> Table:
    """One row per handler function: defined in the script, SageMaker's default, or not used."""
    table = Table(title="Handler functions", title_justify="left")
    table.add_column("function")
    table.add_column("source")
    names = list(HANDLER_NAMES) + sorted(set(functions) - set(HANDLER_NAMES))
    for name in names:
        if functions.get(name):
            table.add_row(name, "[green]defined[/green]")
        elif name in defaults:
            table.add_row(name, "[cyan]SageMaker default[/cyan]")
        else:
            table.add_row(name, "[dim]not used[/dim]")
    return table


def _render_invocation(invocation: dict) -> None:
    """Print the sample invocation's status, content type and the start of its body."""
    status = invocation.get("status")
    colour = "green" if isinstance(status, int) and 200 <= status < 300 else "red"
    console.print(
        f"[bold]Invocation[/bold] [{colour}]{escape(str(status))}[/{colour}] "
        f"{escape(str(invocation.get('content_type') or ''))}",
        highlight=False,
    )
    body = str(invocation.get("body") or "")
    if body:
        console.print(f"  {escape(body)}", highlight=False, soft_wrap=True)


def _size(count: int) -> str:
    """A byte count for people: 512 B, 1.2 kB, 3.4 MB, ..."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"
