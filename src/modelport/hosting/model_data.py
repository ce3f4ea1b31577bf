"""Turn a container's ``ModelDataUrl`` into a local archive (or folder) a runtime can serve.

``s3://`` is read from hosting's own object store (its S3 API: what an SDK pointed at hosting uploaded
to) unless hosting was started with ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` naming another S3;
then it is downloaded with boto3 from there (see :func:`local_s3_store`).

It also decides which locations a ``ModelDataUrl`` may name at all (the allowed model roots).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

from modelport import store
from modelport.hosting.access import is_same_server
from modelport.objectstore import ObjectStore, ObjectStoreError
from modelport.settings import S3EndpointSetting


class ModelDataError(Exception):
    """The model data could not be found or fetched; the message is SageMaker-like and says why."""


def model_data_url(container: dict[str, Any]) -> str | None:
    """The container's model data location: ``ModelDataUrl`` or ``ModelDataSource.S3DataSource.S3Uri``."""
    url = container.get("ModelDataUrl")
    if url:
        return url
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    return source.get("S3Uri")


def local_s3_store(objects: ObjectStore, port: int) -> ObjectStore | None:
    """``objects`` when hosting (on ``port``) is the S3 it should read ``s3://`` from; None when the
    environment points S3 at another server (then :mod:`modelport.store` reads it with boto3)."""
    endpoint = S3EndpointSetting().s3_endpoint
    if endpoint and not is_same_server(endpoint, port):
        return None
    return objects


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




class LocalS3:
    """Hosting's object store as the source of ``s3://`` model data, decided at each use (the environment
    may name another S3 later), and what an instance needs to reach it (``access``)."""

    def __init__(self, objects: ObjectStore, port: int, access: dict[str, str]) -> None:
        self.objects, self.port, self.access = objects, port, access

    def active(self) -> ObjectStore | None:
        """The store, unless S3 is another server now."""
        return local_s3_store(self.objects, self.port)

    def instance_environment(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL_S3`` and credentials for an instance, when the store is the S3 in use."""
        return dict(self.access) if self.active() is not None else {}


def exists(url: str, local_s3: LocalS3 | None = None) -> bool:
    """Whether model data exists at ``url`` (StoreError when it cannot be checked)."""
    parsed = store.parse_uri(url)
    objects = local_s3.active() if local_s3 is not None else None
    if parsed.scheme == "s3" and objects is not None:
        try:
            objects.head_object(parsed.bucket, parsed.key)
            return True
        except ObjectStoreError as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                return False
            raise store.StoreError(f"{exc.code}: {exc.message}") from exc
    return store.exists(url)


def copy_from_local_s3(local_s3: ObjectStore, bucket: str, key: str, dest: Path) -> Path:
    """Copy an object of the local store to ``dest`` (hosting keeps its own copy, as SageMaker does)."""
    try:
        _, handle = local_s3.open_object(bucket, key)
    except ObjectStoreError as exc:
        raise store.StoreError(f"{exc.code}: {exc.message}") from exc
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with handle, tmp.open("wb") as out:
            while data := handle.read(1 << 20):
                out.write(data)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def resolve(container: dict[str, Any], cache_dir: Path, local_s3: LocalS3 | None = None) -> str:
    """A local path to serve: plain and ``file://`` paths as they are, ``s3://`` copied to the cache.

    S3 objects are fetched every time a fleet starts, so a re-uploaded archive is picked up by the
    next CreateEndpoint/UpdateEndpoint, as on SageMaker.
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
            dest = cache_dir / digest / (Path(parsed.key).name or "model.tar.gz")
            objects = local_s3.active() if local_s3 is not None else None
            if objects is not None:
                return str(copy_from_local_s3(objects, parsed.bucket, parsed.key, dest))
            return str(store.download(url, dest))
    except store.StoreError as exc:
        raise ModelDataError(f"Could not access model data at {url}. {exc}") from exc
    path = parsed.path
    if not path.exists():
        raise ModelDataError(f"Could not access model data at {url}: no such file or directory.")
    return str(path.resolve())
