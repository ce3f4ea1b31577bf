"""Turn a container's ``ModelDataUrl`` into a local archive (or folder) a runtime can serve."""

from __future__ import annotations

import hashlib
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
