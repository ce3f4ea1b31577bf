"""The bundled models: train them when their archives are missing or stale."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from modelport.bundled_models import source_root
from modelport.training import source_folder

# the installed package (a checkout's src/modelport, or site-packages/modelport from a wheel)
PACKAGE = Path(__file__).resolve().parents[1]
SOURCES = source_root()

# endpoint name → how the gateway knows it (environment variable naming the endpoint)
BUNDLED = {
    "mnist-sklearn": "MNIST_SKLEARN_ENDPOINT",
    "mnist-pytorch": "MNIST_PYTORCH_ENDPOINT",
    "sentiment": "SENTIMENT_ENDPOINT",
}


# the batching each bundled model is deployed with (its Environment): each defines predict_batch_fn
BATCHING = {"MODELPORT_MAX_BATCH_SIZE": "32", "MODELPORT_MAX_BATCH_DELAY_MS": "2"}
ENVIRONMENT = {name: BATCHING for name in BUNDLED}


def chat_available() -> bool:
    """Whether this checkout carries the bundled chat model (``modelport.chatmodel``)."""
    return importlib.util.find_spec("modelport.chatmodel") is not None and (SOURCES / "chat").is_dir()


def bundled_names() -> list[str]:
    """Every bundled model, chat included when present."""
    return [*BUNDLED, *(["chat"] if chat_available() else [])]


@dataclass
class TrainedModel:
    """A bundled model's archive and its held-out metrics."""

    name: str
    archive: Path
    metrics: dict
    trained_now: bool


def _source_files(name: str) -> list[Path]:
    files = sorted((SOURCES / name).rglob("*")) + sorted((SOURCES / "shared").rglob("*"))
    files += sorted(source_folder(name).rglob("*.py"))
    return [f for f in files if f.is_file() and "__pycache__" not in f.parts]


def fingerprint(name: str, fast: bool) -> str:
    """What the archive was built from: the model's code, its trainer and the training mode."""
    digest = hashlib.sha256(f"{name}:fast={fast}".encode())
    for path in _source_files(name):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def output_dir(home: Path, name: str) -> Path:
    """Where the bundled model ``name`` is trained and packed."""
    return home / "bundled" / name


def is_current(home: Path, name: str, fast: bool) -> bool:
    """Whether an archive exists and was built from the current code in this mode."""
    out = output_dir(home, name)
    stamp = out / "fingerprint.txt"
    if not (out / "model.tar.gz").is_file() or not stamp.is_file():
        return False
    recorded = stamp.read_text().strip()
    # A full-size archive also serves a --fast stack; a --fast one never stands in for full size.
    return recorded == fingerprint(name, fast) or (fast and recorded == fingerprint(name, False))


def train(home: Path, name: str, fast: bool) -> Path:
    """Train and pack ``name`` into its output folder; record the fingerprint; return the archive."""
    from modelport.training import train as train_model

    out = output_dir(home, name)
    archive = train_model(name, out, fast=fast)
    (out / "fingerprint.txt").write_text(fingerprint(name, fast) + "\n")
    return archive


def ensure(home: Path, names: list[str], fast: bool, retrain: bool, announce=print) -> list[TrainedModel]:
    """Each model's archive, training only the missing or stale ones (all with ``retrain``)."""
    models = []
    for name in names:
        out = output_dir(home, name)
        trained_now = retrain or not is_current(home, name, fast)
        if trained_now:
            announce(f"training {name}{' (fast)' if fast else ''} ...")
            archive = train(home, name, fast)
        else:
            archive = out / "model.tar.gz"
        metrics_path = out / "metrics.json"
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        models.append(TrainedModel(name, archive, metrics, trained_now))
    return models
