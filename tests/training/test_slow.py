"""Full-size training of the bundled models on the fixed split, checked against the published bars (slow)."""

from __future__ import annotations

import json
import tarfile

import pytest

from modelport.training import train

BARS = {"mnist-sklearn": ("accuracy", 0.96), "mnist-pytorch": ("accuracy", 0.985), "sentiment": ("macro_f1", 0.73)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BARS))
def test_full_training_meets_the_bar(tmp_path, name):
    archive = train(name, tmp_path, seed=0, quiet=True)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    metric, threshold = BARS[name]
    assert metrics["fast"] is False and metrics["split"]["train_rows_used"] == metrics["split"]["train_rows"]
    assert metrics["metrics"][metric] >= threshold, metrics["metrics"]
    assert metrics["bar"] == {"metric": metric, "threshold": threshold, "value": metrics["metrics"][metric], "met": True}
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "code/inference.py" in names and set(metrics["artifacts"]) <= names
