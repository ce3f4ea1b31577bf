"""The notebook tests' shared fixture: the bundled models trained once in fast mode."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def trained_models(bundled_home) -> Path:
    """The bundled models trained in fast mode, as <root>/<name>/model.tar.gz (read-only)."""
    return bundled_home / "bundled"
