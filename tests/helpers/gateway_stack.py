"""Test helper: real hosting serving a tiny archive as endpoint ``toy``, and gateways in front of it.

One endpoint answers every route kind: the predict routes (JSON), ``/invoke/toy`` and chat (JSON
lines), so a test starts one hosting, one instance and the gateways it needs (live on 127.0.0.1).
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.helpers.hosting import clients, deploy, start_hosting, token_for
from tests.helpers.live_gateway import framework_only
from modelport.archive import pack_archive
from modelport.gateway.app import create_app
from modelport.gateway.settings import GatewaySettings
from modelport.hosting.server import HostingServer

ENDPOINT = "toy"


@contextmanager
def hosted_toy_server(root: Path, inference: str) -> Iterator[HostingServer]:
    """Hosting (state in ``root/home``) with ``inference`` (a code/inference.py) deployed as ``toy``; yields the server."""
    src = root / "toy"
    (src / "code").mkdir(parents=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(inference))
    archive = pack_archive(src, root / "model.tar.gz")
    hosting = start_hosting(root / "home")
    try:
        sm, _ = clients(hosting.url)
        deploy(sm, ENDPOINT, str(archive), env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
        yield hosting
    finally:
        hosting.stop()


@contextmanager
def hosted_toy(root: Path, inference: str) -> Iterator[str]:
    """As :func:`hosted_toy_server`, yielding hosting's URL."""
    with hosted_toy_server(root, inference) as hosting:
        yield hosting.url


def toy_gateway(hosting_url: str, *, hot_routes: bool = True, transport=None, **overrides: object):
    """A gateway app whose bundled routes (mnist-sklearn, mnist-pytorch, sentiment), /invoke/toy and chat all reach ``toy``.

    ``hot_routes=False`` takes the plain-ASGI hot path out, so FastAPI's own routes answer. ``transport``: a Runtime
    API transport instead of the settings' choice (the in-process one).
    """
    options = dict(
        runtime_endpoint_url=hosting_url, mode="local", region="us-east-1", mnist_sklearn_endpoint=ENDPOINT,
        mnist_pytorch_endpoint=ENDPOINT, sentiment_endpoint=ENDPOINT, routes="", allowed_origins="*",
        api_keys="", rate_limit="", page_dir=None, runtime_client="http",
        chat_provider="sagemaker", chat_endpoint=ENDPOINT, invoke_endpoints=ENDPOINT,
        hosting_token=token_for(hosting_url),
    )
    options.update(overrides)
    app = create_app(GatewaySettings(**options), transport=transport)
    return app if hot_routes else framework_only(app)
