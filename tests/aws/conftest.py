"""Fixtures of the aws tests."""

from __future__ import annotations

import pytest

from modelport.aws.lambda_zip import build_lambda_zip


@pytest.fixture(scope="session")
def lambda_package(tmp_path_factory):
    """The real gateway zip (compiled deps from the cp312 manylinux wheels on PyPI), built once."""
    return build_lambda_zip("x86_64", tmp_path_factory.mktemp("wheels"))
