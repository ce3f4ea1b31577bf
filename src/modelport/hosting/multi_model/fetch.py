"""Fetch one target of a multi-model endpoint: ``prefix + TargetModel`` (hosting's S3, another S3 or a
``file://`` folder), size-checked, then unpacked safely (:func:`modelport.archive.unpack.extract_cached`) into
the endpoint's model store, which is what the instance's multi-model server may load from.

Read at first use, so an archive written under the prefix after the endpoint started is served without
redeploying.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from modelport import store
from modelport.archive.errors import ArchiveError
from modelport.archive.unpack import extract_cached
from modelport.hosting.model_data import LocalS3, copy_from_local_s3
from modelport.objectstore import ObjectStoreError


class TargetMissing(Exception):
    """No archive at the target's location (SageMaker: ``ValidationError``, "Failed to download model data")."""


class TargetRefused(Exception):
    """The archive is too large, unsafe or not an archive; the message says which limit or rule."""


def target_url(prefix: str, target: str) -> str:
    """Where ``target`` lives: the prefix and the target joined as SageMaker joins them."""
    return prefix.rstrip("/") + "/" + target


def store_dir(cache_root: Path, prefix: str) -> Path:
    """The model store of the endpoints serving ``prefix``: fetched archives and their unpacked folders."""
    return Path(cache_root) / hashlib.sha256(prefix.encode()).hexdigest()[:16]


def models_dir(store: Path) -> Path:
    """Where ``store`` keeps its unpacked targets, one folder per archive content."""
    return store / "models"


def fetch(prefix: str, target: str, store: Path, local_s3: LocalS3 | None, max_archive_bytes: int) -> Path:
    """The unpacked folder of ``target`` inside ``store`` (fetched and unpacked now, or found unpacked)."""
    url = target_url(prefix, target)
    parsed = _parse(url)
    if parsed.scheme == "s3":
        archive = store / "archives" / hashlib.sha256(url.encode()).hexdigest()[:16] / Path(parsed.key).name
        _download(url, parsed, archive, local_s3, max_archive_bytes)
        try:
            return _unpack(archive, store, target, remember_key=False)  # a new file each time: nothing to remember
        finally:
            archive.unlink(missing_ok=True)
            try:
                archive.parent.rmdir()
            except OSError:
                pass  # another fetch of the same URL is downloading into it
    path = Path(os.path.realpath(parsed.path))
    base = Path(os.path.realpath(_parse(prefix).path))
    if not path.is_relative_to(base) or not path.is_file():  # a link out of the prefix counts as absent
        raise TargetMissing(f"Failed to download model data(path: {parsed.path}). Please ensure that there is a model "
                            f"archive at that path under the endpoint's ModelDataUrl.")
    _check_size(path.stat().st_size, target, max_archive_bytes)
    return _unpack(path, store, target)


def _parse(url: str) -> store.ParsedUri:
    try:
        return store.parse_uri(url)
    except store.StoreError as exc:
        raise TargetRefused(str(exc)) from None


def _download(url: str, parsed: store.ParsedUri, dest: Path, local_s3: LocalS3 | None, limit: int) -> None:
    missing = TargetMissing(
        f"Failed to download model data(bucket: {parsed.bucket}, key: {parsed.key}). Please ensure that there is an "
        f"object located at the URL and that the role passed to CreateModel has permissions to download the model.")
    objects = local_s3.active() if local_s3 is not None else None
    try:
        if objects is not None:
            try:
                info = objects.head_object(parsed.bucket, parsed.key)
            except ObjectStoreError as exc:
                if exc.code in ("NoSuchKey", "NoSuchBucket"):
                    raise missing from None
                raise TargetRefused(f"Could not read {url}: {exc.code}: {exc.message}") from None
            _check_size(info.size, parsed.key, limit)
            copy_from_local_s3(objects, parsed.bucket, parsed.key, dest)
            return
        if not store.exists(url):
            raise missing
        store.download(url, dest)
    except store.StoreError as exc:
        raise TargetRefused(f"Could not read {url}: {exc}") from None
    _check_size(dest.stat().st_size, parsed.key, limit)


def _check_size(size: int, target: str, limit: int) -> None:
    if size > limit:
        raise TargetRefused(f"The archive of target model {target} is {size / 2**20:.1f} MB; a multi-model endpoint "
                            f"fetches archives up to {limit / 2**20:g} MB (MODELPORT_MME_MAX_ARCHIVE_MB).")


def _unpack(archive: Path, store: Path, target: str, remember_key: bool = True) -> Path:
    try:
        return extract_cached(archive, models_dir(store), remember_key=remember_key)
    except ArchiveError as exc:
        raise TargetRefused(f"The archive of target model {target} cannot be served: {exc}") from None
