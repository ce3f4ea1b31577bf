"""Data-set fetchers and trainers of the bundled models (`modelport data fetch`, `modelport train NAME`).

`train(name, out)` fits a model on the fixed train split of its public data set, writes its artifacts,
`metrics.json` (held-out metrics, data set, split, versions, time, parameters) and a packed
SageMaker-layout `model.tar.gz` into `out`, and returns the archive's path.
"""

from __future__ import annotations

import importlib
import shutil
import time
from pathlib import Path

TRAINERS: dict[str, str] = {
    "mnist-sklearn": "modelport.training.mnist_sklearn",
    "mnist-pytorch": "modelport.training.mnist_pytorch",
    "sentiment": "modelport.training.sentiment",
}


def fresh_artifacts_dir(out: Path) -> Path:
    """`out/artifacts`, created empty: files of an earlier run must not end up in the new archive."""
    artifacts = Path(out) / "artifacts"
    if artifacts.exists():
        shutil.rmtree(artifacts)
    artifacts.mkdir(parents=True)
    return artifacts


def trainer(name: str):
    """The trainer module of model `name` (imported on demand: torch is heavy)."""
    if name not in TRAINERS:
        raise ValueError(f"unknown model {name!r}; the bundled models are {', '.join(TRAINERS)}")
    return importlib.import_module(TRAINERS[name])


def train(name: str, out: Path, fast: bool = False, seed: int = 0, data: Path | None = None,
          quiet: bool = False) -> Path:
    """Train bundled model `name` into `out` and return the path of `out/model.tar.gz`.

    `out` receives `artifacts/` (the model files), `metrics.json` and `model.tar.gz`. `fast` trains on a
    small subset in seconds (for tests); `seed` makes the run repeatable; `data` points at the user's
    own data (MNIST: a folder of IDX files; sentiment: a `text,label` CSV) instead of the public set.
    """
    from modelport.training.packaging import package

    module = trainer(name)
    out = Path(out)
    artifacts = fresh_artifacts_dir(out)
    started = time.perf_counter()
    result = module.run(artifacts, fast=fast, seed=seed, data=Path(data) if data else None, quiet=quiet)
    result.total_seconds = time.perf_counter() - started
    result.write(out / "metrics.json")
    return package(name, artifacts, out / "model.tar.gz", quiet=quiet)
