"""Fixtures every folder shares, each with one meaning:

- ``hosting``: hosting in this process (``HostingServer``) on a free port, its state in a temporary home;
  one per module, with the module's ``hosting_options`` (HostingSettings fields; none by default).
- ``fresh_hosting``: the same, one per test.
- ``hosting_process``: ``modelport hosting`` as a real process (``HostingProcess``), up and answering
  ``/ping``, with the module's ``hosting_process_env`` added to its environment; one per test.
- ``tripwire``: a proxy that refuses every connection that would leave this machine; the test fails if any
  was tried.
- ``bundled_home``: a ``MODELPORT_HOME`` whose ``bundled/<name>/model.tar.gz`` holds every bundled model trained
  in fast mode, once per run (copy its ``bundled/`` into a home and ``modelport up --fast`` trains nothing);
  under pytest-xdist (``make test`` runs two workers) the first worker to need it trains it for all of them.

The gateway's fixtures (``standin``, ``gateway``, ``stack``) are in tests/gateway/conftest.py. Waiting is
``tests.helpers.waiting.eventually``; starting and stopping processes is in ``tests.helpers.processes``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from filelock import FileLock

from modelport.hosting.server import HostingServer
from modelport.stack import bundled
from tests.helpers.hosting import HostingProcess, start_hosting
from tests.helpers.sdk import Tripwire


@pytest.fixture(scope="module")
def hosting_options() -> dict:
    """HostingSettings fields for this module's ``hosting`` (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module")
def hosting(tmp_path_factory, hosting_options) -> Iterator[HostingServer]:
    """Hosting in this process on a free port, its state in a temporary home; stopped after the module."""
    server = start_hosting(tmp_path_factory.mktemp("hosting") / "home", **hosting_options)
    yield server
    server.stop()


@pytest.fixture
def fresh_hosting(tmp_path, hosting_options) -> Iterator[HostingServer]:
    """Like ``hosting``, but one per test, its home under the test's ``tmp_path``."""
    server = start_hosting(tmp_path / "home", **hosting_options)
    yield server
    server.stop()


@pytest.fixture
def hosting_process_env() -> dict[str, str]:
    """Environment added to ``hosting_process`` (a module overrides this fixture)."""
    return {}


@pytest.fixture
def hosting_process(tmp_path, hosting_process_env) -> Iterator[HostingProcess]:
    """``modelport hosting`` as its own process, home ``tmp_path/hosting-home``, output in ``tmp_path/hosting.log``."""
    process = HostingProcess(tmp_path / "hosting-home", tmp_path / "hosting.log", env=hosting_process_env).start()
    yield process
    process.stop()


@pytest.fixture
def tripwire() -> Iterator[Tripwire]:
    """A proxy that records and refuses every connection that would leave this machine; none may be tried."""
    wire = Tripwire()
    yield wire
    wire.close()
    assert wire.attempts == [], f"a client tried to leave the machine: {wire.attempts}"


@pytest.fixture(scope="session")
def bundled_home(tmp_path_factory) -> Path:
    """Every bundled model trained in fast mode (seconds each) as ``modelport up --fast`` does, once per run.

    Tests that check training itself train on their own (tests/training, the wheel install); the others take
    these archives read-only, or copy ``bundled/`` into their own home."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, which every worker's own temporary folder is in
    home, done = root / "bundled-home", root / "bundled-home.done"
    with FileLock(str(root / "bundled-home.lock")):
        if not done.is_file():
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            for name in bundled.bundled_names():
                bundled.train(home, name, fast=True)
            done.touch()
    return home
