"""What every trainer shares: the run's record (metrics.json) and a spinner for steps without progress."""

from __future__ import annotations

import contextlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from rich.console import Console

from modelport.process import available_cpus
from modelport.progress import progress
from modelport.training.sources import DataSource


@dataclass
class TrainingRun:
    """The outcome of one trainer run: held-out metrics and how they were obtained."""

    model: str
    metrics: dict
    bar: dict
    dataset: dict
    split: dict
    parameters: dict
    seed: int
    fast: bool
    artifacts: list[str] = field(default_factory=list)
    training_seconds: float = 0.0
    training_cpu_seconds: float = 0.0
    total_seconds: float = 0.0

    def record(self) -> dict:
        """The metrics.json document."""
        return {
            "model": self.model,
            "metrics": self.metrics,
            "bar": self.bar,
            "dataset": self.dataset,
            "split": self.split,
            "parameters": self.parameters,
            "seed": self.seed,
            "fast": self.fast,
            "artifacts": self.artifacts,
            "training_seconds": round(self.training_seconds, 2),
            "training_cpu_seconds": round(self.training_cpu_seconds, 2),
            "total_seconds": round(self.total_seconds, 2),
            "versions": versions(),
            "machine": {"platform": platform.platform(), "cpus": available_cpus()},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def write(self, path: Path) -> Path:
        """Write metrics.json to `path`."""
        path.write_text(json.dumps(self.record(), indent=2) + "\n")
        return path


def bar(metric: str, threshold: float, metrics: dict) -> dict:
    """The published bar for a model and whether this run met it."""
    return {"metric": metric, "threshold": threshold, "value": metrics[metric], "met": metrics[metric] >= threshold}


def dataset_info(source: DataSource, user_data: Path | None, rows: int) -> dict:
    """metrics.json's description of the data trained on."""
    if user_data is not None:
        return {"name": source.name, "source": f"user data: {user_data}", "rows": rows}
    return {"name": source.name, "source": f"{source.registry} {source.package}", "file": source.filename,
            "sha256": source.sha256, "license": source.license, "rows": rows}


def versions() -> dict:
    """Versions of Python and of the libraries that matter for loading the artifacts."""
    found = {"python": sys.version.split()[0]}
    for name in ("numpy", "scipy", "scikit-learn", "joblib", "torch", "pillow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


@dataclass
class Timer:
    """Wall-clock and CPU seconds (all threads of this process) a step took, set when the step ends."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0


@contextlib.contextmanager
def step(description: str, *, quiet: bool = False, spinner: bool = True):
    """Time a step and say when it is done; while it runs, show a spinner (without a terminal, a line every
    few seconds), unless the step reports progress of its own (``spinner=False``). Yields a `Timer`."""
    console = Console(stderr=True, quiet=quiet)
    timer, started, cpu_started = Timer(), time.perf_counter(), time.process_time()
    with progress(description, quiet=quiet or not spinner, console=console):
        yield timer
    timer.seconds = time.perf_counter() - started
    timer.cpu_seconds = time.process_time() - cpu_started
    console.print(f"[green]✓[/] {description} ({timer.seconds:.1f} s)")


def summary(name: str, record: dict) -> str:
    """One line (rich markup) on a finished run: the held-out metric against its bar, time and rows."""
    bar = record["bar"]
    verdict = "[green]meets[/green]" if bar["met"] else "[yellow]below[/yellow]"
    return (f"{name}: held-out {bar['metric']} {bar['value']:.4f} ({verdict} the bar of {bar['threshold']}), "
            f"trained in {record['training_seconds']:.1f} s on {record['split']['train_rows_used']:,} rows")
