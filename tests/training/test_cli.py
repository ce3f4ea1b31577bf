"""`modelport train` in --fast mode: artifacts, metrics.json and archive, repeatable runs, users' own data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

from modelport.training import train, trainer
from modelport.training.datasets import load_mnist, load_sentiment, split

def modelport(*args: str, home: Path, columns: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELPORT_HOME": os.environ.get("MODELPORT_HOME", str(Path(".modelport").resolve()))}
    if columns:
        env["COLUMNS"] = str(columns)
    env["MODELPORT_HOME"] = str(home) if home else env["MODELPORT_HOME"]
    return subprocess.run([sys.executable, "-m", "modelport", *args], env=env, capture_output=True, text=True,
                          timeout=600)


def test_train_fast_writes_metrics_and_an_archive(tmp_path):
    out = tmp_path / "out"
    # a narrow console (as when output is not a terminal) must not break the paths across lines
    result = modelport("train", "mnist-sklearn", "--fast", "--seed", "1", "--out", str(out), home=None, columns=40)
    assert result.returncode == 0, result.stderr
    assert "mnist-sklearn: held-out accuracy" in result.stdout
    assert f"archive: {out / 'model.tar.gz'}\n" in result.stdout and f"metrics: {out / 'metrics.json'}\n" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "mnist-sklearn" and metrics["seed"] == 1 and metrics["fast"] is True
    for key in ("metrics", "bar", "dataset", "split", "parameters", "versions", "training_seconds", "artifacts"):
        assert key in metrics
    assert 0.5 < metrics["metrics"]["accuracy"] <= 1 and metrics["bar"]["met"] is False
    assert metrics["dataset"]["sha256"] and metrics["split"]["train_rows_used"] < metrics["split"]["train_rows"]
    assert "scikit-learn" in metrics["versions"] and metrics["versions"]["python"] == sys.version.split()[0]
    assert (out / "artifacts" / "model.joblib").is_file()
    with tarfile.open(out / "model.tar.gz") as tar:
        assert {"model.joblib", "code/inference.py", "code/requirements.txt"} <= set(tar.getnames())


def test_unknown_model_is_refused_with_the_known_names(tmp_path):
    result = modelport("train", "resnet", "--out", str(tmp_path), home=None)
    assert result.returncode == 2
    assert "mnist-sklearn" in result.stdout + result.stderr


def test_every_trainer_keeps_its_entry_points_after_its_modules_are_imported():
    """A package whose submodule is named like its function loses the function on first import (the chat
    trainer did: `chatmodel.train` became the module `chatmodel/train.py` after one run, and the next
    `train("chat", ...)` in the same process failed with 'module object is not callable')."""
    import importlib
    import pkgutil

    from modelport.training import TRAINERS

    for name, entry in TRAINERS.items():
        module = trainer(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            importlib.import_module(f"{module.__name__}.{info.name}")
        wanted = ("train", "summary") if entry.self_contained else ("run",)
        for function in wanted:
            assert callable(getattr(module, function)) and not isinstance(getattr(module, function), type(module)), (name, function)


def test_same_seed_same_model(tmp_path):
    images, labels = load_mnist()
    train_rows, test = split(labels)
    few = train_rows[::26]  # ~300 digits of every class
    module = trainer("mnist-pytorch")
    first = module.fit(images[few], labels[few], seed=5, fast=True, quiet=True)
    second = module.fit(images[few], labels[few], seed=5, fast=True, quiet=True)
    assert np.array_equal(module.probabilities(first, images[test[:200]]), module.probabilities(second, images[test[:200]]))
    sk = trainer("mnist-sklearn")
    p1 = sk.fit(images[few], labels[few], seed=5, quiet=True).predict_proba(images[test[:200]])
    p2 = sk.fit(images[few], labels[few], seed=5, quiet=True).predict_proba(images[test[:200]])
    assert np.array_equal(p1, p2)


def test_train_on_a_users_sentiment_csv(tmp_path):
    texts, labels = load_sentiment()
    picked = np.random.default_rng(0).choice(len(texts), 1500, replace=False)
    rows = ["text,label"] + [f'"{texts[i].replace(chr(34), "")}",{labels[i]}' for i in picked]
    mine = tmp_path / "mine.csv"
    mine.write_text("\n".join(rows) + "\n", encoding="utf-8")
    archive = train("sentiment", tmp_path / "out", fast=True, data=mine, quiet=True)
    metrics = json.loads((archive.parent / "metrics.json").read_text())
    assert metrics["dataset"]["source"] == f"user data: {mine}"
    assert metrics["split"]["total_rows"] <= 1500 and metrics["split"]["test_rows"] >= 290
    with tarfile.open(archive) as tar:
        assert {"model.joblib", "vectorizer.joblib", "code/inference.py"} <= set(tar.getnames())


def test_train_on_users_idx_files(tmp_path):
    images, labels = load_mnist()
    folder = tmp_path / "idx"
    folder.mkdir()
    pixels = np.round(images[::5] * 255).astype(np.uint8).reshape(-1, 28, 28)
    (folder / "train-images-idx3-ubyte").write_bytes(
        bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in pixels.shape) + pixels.tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(
        bytes([0, 0, 8, 1]) + len(pixels).to_bytes(4, "big") + labels[::5].astype(np.uint8).tobytes())
    result = modelport("train", "mnist-sklearn", "--fast", "--data", str(folder), "--out", str(tmp_path / "out"), home=None)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["split"]["total_rows"] == 2000 and metrics["metrics"]["accuracy"] > 0.8


def test_bad_user_data_exits_1_with_the_reason(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence,score\nhi,1\n")
    result = modelport("train", "sentiment", "--fast", "--data", str(bad), "--out", str(tmp_path / "out"), home=None)
    assert result.returncode == 1
    assert "text,label" in result.stderr
