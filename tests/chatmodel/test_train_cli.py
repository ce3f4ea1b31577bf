"""`modelport train chat` trains and packs the bundled demo chat model."""

import json
import os
import subprocess
import sys
import tarfile


def test_train_chat_fast_writes_archive_and_perplexity(tmp_path):
    out = tmp_path / "chat"
    result = subprocess.run(
        [sys.executable, "-m", "modelport", "train", "chat", "--fast", "--out", str(out)],
        env={**os.environ, "MODELPORT_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "held-out perplexity" in result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["held_out"]["perplexity"] > 1
    with tarfile.open(out / "model.tar.gz") as archive:
        assert "code/inference.py" in archive.getnames()


def test_train_chat_refuses_user_data(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "modelport", "train", "chat", "--fast", "--data", str(tmp_path), "--out", str(tmp_path / "o")],
        env={**os.environ, "MODELPORT_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "--data is not supported for chat" in result.stderr
