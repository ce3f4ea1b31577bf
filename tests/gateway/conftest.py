"""Fixtures of the gateway tests (and of tests/gateway/chat/), each with one meaning:

- ``standin``: the stand-in for hosting (tests/helpers/standin_runtime.py), a real HTTP server that
  answers each endpoint as the module's ``standin_behaviours`` fixture says; one per module.
- ``gateway``: an httpx client on a live gateway (modelport's HTTP server in a thread, as `modelport
  gateway` runs it) built from the module's ``gateway_settings`` fixture; one per module.
- ``stack``: real hosting serving the module's ``toy_inference`` (a code/inference.py) as endpoint
  ``toy``, and a live gateway whose every route reaches it (tests/helpers/gateway_stack.py), built with
  the module's ``stack_gateway_options``; one per module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from modelport.gateway.app import create_app
from tests.helpers.gateway_stack import hosted_toy, toy_gateway
from tests.helpers.live_gateway import LiveGateway
from tests.helpers.standin_runtime import StandinRuntime


@pytest.fixture(scope="module")
def standin(standin_behaviours) -> Iterator[StandinRuntime]:
    """The stand-in for hosting, answering as ``standin_behaviours`` (endpoint name → behaviour) say."""
    server = StandinRuntime(standin_behaviours).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(gateway_settings) -> Iterator[httpx.Client]:
    """An httpx client (10 s timeout) on a live gateway built from ``gateway_settings``."""
    with LiveGateway(create_app(gateway_settings)) as url:
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client


@dataclass
class Stack:
    """A running stack: hosting's URL, the gateway's URL, a client on the gateway, the stack's folder."""

    hosting_url: str
    url: str
    client: httpx.Client
    root: Path


@pytest.fixture(scope="module")
def stack_gateway_options() -> dict:
    """Overrides of the stack's gateway settings (see ``toy_gateway``); a module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, toy_inference, stack_gateway_options) -> Iterator[Stack]:
    """Hosting serving ``toy_inference`` as ``toy`` and a live gateway in front of it."""
    root = tmp_path_factory.mktemp("stack")
    with hosted_toy(root, toy_inference) as hosting_url, \
            LiveGateway(toy_gateway(hosting_url, **stack_gateway_options)) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield Stack(hosting_url, url, client, root)
