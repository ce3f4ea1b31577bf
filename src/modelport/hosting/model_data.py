"""Turn a container's ``ModelDataUrl`` into a local archive (or folder) a runtime can serve, and decide
which locations a ``ModelDataUrl`` may name at all (the allowed model roots)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from modelport import store


class ModelDataError(Exception):
    """The model data could not be found or fetched; the message is SageMaker-like and says why."""


def model_data_url(container: dict[str, Any]) -> str | None:
    """The container's model data location: ``ModelDataUrl`` or ``ModelDataSource.S3DataSource.S3Uri``."""
    url = container.get("ModelDataUrl")
    if url:
        return url
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    return source.get("S3Uri")


def allowed_roots(home: Path, model_roots: str) -> list[Path]:
    """The folders local model data may come from: ``home`` (MODELPORT_HOME), then each folder of
    ``model_roots`` (MODELPORT_MODEL_ROOTS, colon-separated like PATH), symbolic links resolved."""
    folders = [Path(home), *(Path(p).expanduser() for p in model_roots.split(os.pathsep) if p.strip())]
    return [Path(os.path.realpath(folder)) for folder in folders]


def check_allowed(url: str, roots: list[Path], what: str = "ModelDataUrl") -> None:
    """Raise :class:`ModelDataError` unless ``url`` is ``s3://`` or a path inside one of ``roots``.

    ``what`` names the field in the message.

    Decided from the path alone (links resolved), before anything is read, so the answer never says
    whether a file outside the roots exists.
    """
    try:
        parsed = store.parse_uri(url)
    except store.StoreError as exc:
        raise ModelDataError(f"Could not access model data at {url}. {exc}") from exc
    if parsed.scheme == "s3":
        return
    real = Path(os.path.realpath(parsed.path))
    if any(real.is_relative_to(root) for root in roots):
        return
    listed = ", ".join(str(root) for root in roots)
    raise ModelDataError(
        f"{what} {url} is outside the folders modelport hosting serves model data from: {listed} and s3://. "
        f"Copy the archive into one of them first, as you would upload it to S3 for SageMaker (`modelport deploy` "
        f"and modelport.sdk.Model copy a local archive to MODELPORT_HOME/artifacts themselves), or add its folder "
        f"to MODELPORT_MODEL_ROOTS (colon-separated, like PATH) and restart hosting."
    )


def resolve(container: dict[str, Any], cache_dir: Path) -> str:
    """A local path to serve: plain and ``file://`` paths as they are, ``s3://`` downloaded to the cache.

    S3 objects are downloaded every time a fleet starts, so a re-uploaded archive is picked up by
    the next CreateEndpoint/UpdateEndpoint, as on SageMaker.
    """
    url = model_data_url(container)
    if not url:
        raise ModelDataError(
            "The model has no ModelDataUrl; modelport hosting serves SageMaker-layout archives, "
            "so set PrimaryContainer.ModelDataUrl to a path, file:// or s3:// URI of a model.tar.gz."
        )
    try:
        parsed = store.parse_uri(url)
        if parsed.scheme == "s3":
            digest = hashlib.sha256(url.encode()).hexdigest()[:16]
            name = Path(parsed.key).name or "model.tar.gz"
            return str(store.download(url, cache_dir / digest / name))
    except store.StoreError as exc:
        raise ModelDataError(f"Could not access model data at {url}. {exc}") from exc
    path = parsed.path
    if not path.exists():
        raise ModelDataError(f"Could not access model data at {url}: no such file or directory.")
    return str(path.resolve())
