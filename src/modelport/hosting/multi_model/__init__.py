"""Multi-model endpoints (a model whose container has ``Mode = MultiModel``): many model archives under one
``ModelDataUrl`` prefix, loaded on each instance as ``InvokeEndpoint(TargetModel=...)`` asks for them.

:mod:`.config` checks the container and the target name, :mod:`.fetch` fetches and unpacks a target,
:mod:`.disk` keeps the unpacked targets within the store's disk budget,
:mod:`.variant` routes, loads and unloads; this module wires a fleet up (:func:`claim_store`, :func:`attach`)
and deletes a store once no endpoint serves it (:func:`release_store`).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.hosting.model_data import model_data_url
from modelport.hosting.multi_model.config import budget, is_multi_model
from modelport.hosting.multi_model.disk import delete_folders, forget_disk, remove_trash, store_disk
from modelport.hosting.multi_model.fetch import models_dir, store_dir
from modelport.hosting.multi_model.variant import MultiModelVariant
from modelport.runtime.environment import RuntimeEnvironment

if TYPE_CHECKING:
    from modelport.hosting.fleet import VariantFleet
    from modelport.hosting.service import Hosting

MULTI_MODEL_ENV = {"SAGEMAKER_MULTI_MODEL": "true"}  # what SageMaker sets in an MME container
# a load call may last as long as the instance's server lets a load run (SageMaker: 360 s), and a little more
LOAD_TIMEOUT_S = RuntimeEnvironment.model_fields["mme_load_timeout_s"].default + 5.0

__all__ = ["MULTI_MODEL_ENV", "attach", "claim_store", "is_multi_model", "release_store"]

_CLAIMS: Counter[str] = Counter()  # store folder → variants of live endpoints serving it (on hosting's loop)


async def claim_store(cache_root: Path, container: dict[str, Any]) -> str:
    """The model store (a folder) a multi-model variant serves from, filled as targets are fetched: made if new,
    and kept until every variant that claimed it has released it (:func:`release_store`). Endpoints serving the
    same prefix share it."""
    folder = store_dir(cache_root, model_data_url(container) or "")
    _CLAIMS[os.path.realpath(folder)] += 1  # before any await: a release running meanwhile keeps the folder
    await asyncio.to_thread(_make_store, folder)
    return str(folder)


def _make_store(folder: Path) -> None:
    remove_trash(folder.parent)  # stores whose deletion a crash cut short
    folder.mkdir(parents=True, exist_ok=True)


async def release_store(store: str) -> None:
    """A variant serving ``store`` is retired (its endpoint deleted, updated to another configuration, or never
    started): the last one deletes the store, unloaded targets and all (SageMaker's instances go with it).
    Stopping hosting releases nothing: the endpoints and their stores come back with it."""
    key = os.path.realpath(store)
    _CLAIMS[key] -= 1
    if _CLAIMS[key] > 0:
        return
    del _CLAIMS[key]
    forget_disk(models_dir(Path(key)))
    await delete_folders([Path(key)])


def attach(fleet: "VariantFleet", hosting: "Hosting") -> None:
    """Give ``fleet`` its multi-model behaviour when its container is a MultiModel one."""
    container = fleet.container
    if not is_multi_model(container):
        return
    settings = hosting.settings
    cache = (container.get("MultiModelConfig") or {}).get("ModelCacheSetting", "Enabled")
    store = Path(fleet.artifact)
    fleet.multi_model = MultiModelVariant(
        fleet, model_data_url(container) or "", store, store_disk(models_dir(store), settings.mme_max_disk_mb * 2**20),
        budget(container.get("Environment"), settings.mme_max_models, settings.mme_max_memory_mb),
        cache != "Disabled", hosting.local_s3,
        settings.mme_max_archive_mb * 2**20, LOAD_TIMEOUT_S, settings.invocation_timeout,
        hosting.log_stream(fleet.endpoint))
