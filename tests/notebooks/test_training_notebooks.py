"""The training notebooks run headless (nbclient, the .venv's python3 kernel) in fast mode, end to end."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TRAINING = {
    # notebook: (model, an artifact, figures: samples / class balance / confusion matrix / misclassified)
    "train_mnist_sklearn.ipynb": ("mnist-sklearn", "model.joblib", 4),
    "train_mnist_pytorch.ipynb": ("mnist-pytorch", "model.pth", 6),  # + augmented digits, the "paper" image
    "train_sentiment.ipynb": ("sentiment", "vectorizer.joblib", 2),
}


@pytest.mark.parametrize("notebook", list(TRAINING))
def test_training_notebook_runs_in_fast_mode(notebook, tmp_path, monkeypatch):
    name, artifact, figures = TRAINING[notebook]
    monkeypatch.setenv("MODELPORT_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("MODELPORT_NOTEBOOK_OUT", str(tmp_path / "out"))
    document = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    NotebookClient(document, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in document.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == figures
    text = "".join(o.get("text", "") for o in outputs)
    assert "held-out" in text and "misclassified" in text
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["model"] == name and metrics["fast"] is True
    with tarfile.open(tmp_path / "out" / "model.tar.gz") as tar:
        assert {artifact, "code/inference.py", "code/requirements.txt"} <= set(tar.getnames())
