"""Multi-model endpoints (a model whose container has ``Mode = MultiModel``): many model archives under one
``ModelDataUrl`` prefix, loaded on each instance as ``InvokeEndpoint(TargetModel=...)`` asks for them.

:mod:`.config` checks the container and the target name, :mod:`.fetch` fetches and unpacks a target,
:mod:`.disk` keeps the unpacked targets within the store's disk budget,
:mod:`.variant` routes, loads and unloads; this module wires a fleet up (:func:`instance_store`, :func:`attach`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.hosting.model_data import model_data_url
from modelport.hosting.multi_model.config import budget, is_multi_model
from modelport.hosting.multi_model.disk import store_disk
from modelport.hosting.multi_model.fetch import models_dir, store_dir
from modelport.hosting.multi_model.variant import MultiModelVariant
from modelport.runtime.environment import RuntimeEnvironment

if TYPE_CHECKING:
    from modelport.hosting.fleet import VariantFleet
    from modelport.hosting.service import Hosting

MULTI_MODEL_ENV = {"SAGEMAKER_MULTI_MODEL": "true"}  # what SageMaker sets in an MME container
# a load call may last as long as the instance's server lets a load run (SageMaker: 360 s), and a little more
LOAD_TIMEOUT_S = RuntimeEnvironment.model_fields["mme_load_timeout_s"].default + 5.0

__all__ = ["MULTI_MODEL_ENV", "attach", "instance_store", "is_multi_model"]


def instance_store(cache_root: Path, container: dict[str, Any]) -> str:
    """The model store (a folder) a multi-model instance serves from: created now, filled as targets are fetched."""
    folder = store_dir(cache_root, model_data_url(container) or "")
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


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
