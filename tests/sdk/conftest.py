"""Fixtures of the SageMaker SDK tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.sdk import make_sdk_archives


@pytest.fixture(scope="module")
def sdk_archives(tmp_path_factory) -> Path:
    """The archives and source folder the SDK scripts deploy (tests/sdk/*_flows.py)."""
    return make_sdk_archives(tmp_path_factory.mktemp("sdk-archives"))
