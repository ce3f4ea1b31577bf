"""The notebook tests' shared fixture: the bundled models trained once in fast mode."""
from __future__ import annotations

from pathlib import Path

import pytest

from modelport.training import train

@pytest.fixture(scope="session")
def trained_models(tmp_path_factory) -> Path:
    """The bundled models, trained in fast mode (seconds each) into <root>/<name>/model.tar.gz, once per run."""
    root = tmp_path_factory.mktemp("bundled")
    for name in ("mnist-sklearn", "mnist-pytorch", "sentiment"):
        train(name, root / name, fast=True, quiet=True)
    return root
