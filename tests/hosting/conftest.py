"""Fixtures of the hosting tests: the tiny archive and boto3 clients (``sm``, ``rt``, ``aas``: application-autoscaling)
for the module's ``hosting``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hosting import autoscaling_client, clients, make_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The tiny model of tests/helpers/hosting.py packed as ``model.tar.gz`` in a temporary folder."""
    return make_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def sm(hosting):
    """A boto3 ``sagemaker`` client for the module's ``hosting``."""
    return clients(hosting.url)[0]


@pytest.fixture(scope="module")
def aas(hosting):
    """A boto3 ``application-autoscaling`` client for the module's ``hosting``."""
    return autoscaling_client(hosting.url)


@pytest.fixture(scope="module")
def rt(hosting):
    """A boto3 ``sagemaker-runtime`` client for the module's ``hosting``."""
    return clients(hosting.url)[1]
