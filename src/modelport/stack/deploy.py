"""Deploy the bundled archives to hosting, idempotently: named by their content, so an unchanged
archive leaves its endpoint as it is (the steps are :func:`modelport.hosting.deploy.deploy_archive`'s)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from modelport.checksum import sha256_of
from modelport.hosting.deploy import deploy_archive


def archive_digest(archive: Path, environment: dict[str, str] | None = None) -> str:
    """A short content hash of the archive (and the model's Environment, when set): part of the model's
    name, so a change of either is visible and deployed."""
    if not environment:
        return sha256_of(archive)[:12]
    settings = json.dumps(environment, sort_keys=True).encode()
    return hashlib.sha256(sha256_of(archive).encode() + settings).hexdigest()[:12]


def deploy(sm: Any, endpoint: str, archive: Path, instances: int = 1, wait: Callable[[str], dict] | None = None,
           environment: dict[str, str] | None = None) -> str:
    """Make ``endpoint`` serve ``archive``; return what was done: unchanged, created or updated.

    The model and endpoint config are named ``<endpoint>-<digest of the archive and environment>``: an
    endpoint already serving this content is left as it is; one serving something else is updated
    blue/green; a Failed or missing one is created. The archive lies under MODELPORT_HOME already,
    so it is registered where it is. ``environment`` is the model's container Environment (the
    bundled models' batching). ``wait(endpoint)`` runs last, when given.
    """
    name = f"{endpoint}-{archive_digest(archive, environment)}"
    done = deploy_archive(sm, archive, endpoint, model=name, config=name, instances=instances, copy=False,
                          environment=environment, wait=False, timeout=300.0)
    if wait is not None:
        wait(endpoint)
    return done.action
