"""Data-set fetchers and trainers of the bundled models (`modelport data fetch`, `modelport train NAME`).

`train(name, out)` fits a model on the fixed train split of its public data set, writes its artifacts,
`metrics.json` (held-out metrics, data set, split, versions, time, parameters) and a packed
SageMaker-layout `model.tar.gz` into `out`, and returns the archive's path. `TRAINERS` lists every
bundled model, the chat model included; `summary(name, record)` is the line a run ends with.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Trainer:
    """How one bundled model is trained.

    ``module`` (imported on demand: torch is heavy) has ``run(artifacts, *, fast, seed, data, quiet)``
    returning a :class:`~modelport.training.run.TrainingRun`, which :func:`train` writes to metrics.json
    and packs with the model's code. A ``self_contained`` trainer (the chat model) instead has
    ``train(out, *, fast, seed, quiet)``, which writes its own metrics.json and model.tar.gz, and
    ``summary(name, record)`` for its own metrics. ``takes_data``: it can train on the user's own data.
    """

    module: str
    self_contained: bool = False
    takes_data: bool = True


TRAINERS: dict[str, Trainer] = {
    "mnist-sklearn": Trainer("modelport.training.mnist_sklearn"),
    "mnist-pytorch": Trainer("modelport.training.mnist_pytorch"),
    "sentiment": Trainer("modelport.training.sentiment"),
    "chat": Trainer("modelport.chatmodel", self_contained=True, takes_data=False),
}


class TrainerRefused(ValueError):
    """A training request that cannot be run as asked: an unknown model, or own data for a model that takes none."""


def fresh_artifacts_dir(out: Path) -> Path:
    """`out/artifacts`, created empty: files of an earlier run must not end up in the new archive."""
    artifacts = Path(out) / "artifacts"
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    return artifacts


def _entry(name: str) -> Trainer:
    if name not in TRAINERS:
        raise TrainerRefused(f"unknown model {name!r}; the bundled models are {', '.join(TRAINERS)}")
    return TRAINERS[name]


def trainer(name: str):
    """The trainer module of model `name` (imported on demand: torch is heavy)."""
    return importlib.import_module(_entry(name).module)


def source_folder(name: str) -> Path:
    """The folder of model `name`'s trainer code (part of what a trained archive was built from)."""
    spec = importlib.util.find_spec(_entry(name).module)
    return Path(spec.origin).resolve().parent


def train(name: str, out: Path, fast: bool = False, seed: int = 0, data: Path | None = None,
          quiet: bool = False) -> Path:
    """Train bundled model `name` into `out` and return the path of `out/model.tar.gz`.

    `out` receives `artifacts/` (the model files), `metrics.json` and `model.tar.gz`. `fast` trains on a
    small subset in seconds (for tests); `seed` makes the run repeatable; `data` points at the user's
    own data (MNIST: a folder of IDX files; sentiment: a `text,label` CSV) instead of the public set.
    """
    from modelport.training.packaging import package

    entry = _entry(name)
    if data is not None and not entry.takes_data:
        raise TrainerRefused(f"--data is not supported for {name}: it trains on its bundled data set only")
    module = trainer(name)
    out = Path(out)
    if entry.self_contained:
        return module.train(out, fast=fast, seed=seed, quiet=quiet)
    artifacts = fresh_artifacts_dir(out)
    started = time.perf_counter()
    result = module.run(artifacts, fast=fast, seed=seed, data=Path(data) if data else None, quiet=quiet)
    result.total_seconds = time.perf_counter() - started
    result.write(out / "metrics.json")
    return package(name, artifacts, out / "model.tar.gz", quiet=quiet)


def summary(name: str, record: dict) -> str:
    """One line (rich markup) on a finished run of model `name`, from its metrics.json `record`."""
    entry = _entry(name)
    if entry.self_contained:
        return trainer(name).summary(name, record)
    from modelport.training.run import summary as run_summary

    return run_summary(name, record)
