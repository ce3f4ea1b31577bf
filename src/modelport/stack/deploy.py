"""Deploy the bundled archives to hosting, idempotently: named by their content, so an unchanged
archive leaves its endpoint as it is (the steps are :func:`modelport.hosting.deploy.deploy_archive`'s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from modelport.checksum import sha256_of
from modelport.hosting.deploy import deploy_archive


def archive_digest(archive: Path) -> str:
    """A short content hash of the archive: part of the model's name, so a change is visible."""
    return sha256_of(archive)[:12]


def deploy(sm: Any, endpoint: str, archive: Path, instances: int = 1, wait: Callable[[str], dict] | None = None) -> str:
    """Make ``endpoint`` serve ``archive``; return what was done: unchanged, created or updated.

    The model and endpoint config are named ``<endpoint>-<archive digest>``: an endpoint already
    serving this archive's content is left as it is; one serving something else is updated
    blue/green; a Failed or missing one is created. The archive lies under MODELPORT_HOME already,
    so it is registered where it is. ``wait(endpoint)`` runs last, when given.
    """
    name = f"{endpoint}-{archive_digest(archive)}"
    done = deploy_archive(sm, archive, endpoint, model=name, config=name, instances=instances, copy=False,
                          wait=False, timeout=300.0)
    if wait is not None:
        wait(endpoint)
    return done.action
