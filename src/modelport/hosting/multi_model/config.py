"""What a multi-model container is and which values it accepts: ``Mode``, the ``ModelDataUrl`` prefix,
``MultiModelConfig``, the budget variables in its Environment, and a ``TargetModel`` name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport import store
from modelport.hosting.model_data import ModelDataError, check_allowed, model_data_url

MULTI_MODEL = "MultiModel"
MODES = ("SingleModel", MULTI_MODEL)
CACHE_SETTINGS = ("Enabled", "Disabled")
MAX_MODELS_KEY = "MODELPORT_MME_MAX_MODELS"
MAX_MEMORY_KEY = "MODELPORT_MME_MAX_MEMORY_MB"
BUDGET_KEYS = (MAX_MODELS_KEY, MAX_MEMORY_KEY)  # the variables a model's Environment may set
MAX_TARGET_LENGTH = 1024
TARGET_PATTERN = r"\A\S[\p{Print}]*\z"  # SageMaker's TargetModel pattern


class ConfigError(ValueError):
    """A multi-model value SageMaker would refuse; the message says what is accepted."""


def is_multi_model(container: dict[str, Any]) -> bool:
    """Whether ``container`` is a multi-model container (``Mode = MultiModel``)."""
    return container.get("Mode") == MULTI_MODEL


@dataclass(frozen=True)
class Budget:
    """What one instance keeps loaded at most: a number of targets and their resident memory."""

    max_models: int
    max_memory_mb: int


def budget(environment: dict[str, str] | None, max_models: int, max_memory_mb: int) -> Budget:
    """The budget a model's Environment sets, else hosting's (already checked by :func:`check_container`)."""
    env = environment or {}
    return Budget(int(env.get(MAX_MODELS_KEY, max_models)), int(env.get(MAX_MEMORY_KEY, max_memory_mb)))


def check_container(container: dict[str, Any], where: str, roots: list[Path]) -> None:
    """Refuse a container SageMaker would (bad Mode or MultiModelConfig); for a MultiModel one, also a
    ModelDataUrl that is not a prefix under the allowed roots, and bad budget variables."""
    mode = container.get("Mode")
    if mode is not None and mode not in MODES:
        raise ConfigError(f"1 validation error detected: Value '{mode}' at '{where}.mode' failed to satisfy "
                          f"constraint: Member must satisfy enum value set: [{', '.join(MODES)}]")
    setting = (container.get("MultiModelConfig") or {}).get("ModelCacheSetting")
    if setting is not None and setting not in CACHE_SETTINGS:
        raise ConfigError(f"1 validation error detected: Value '{setting}' at '{where}.multiModelConfig."
                          f"modelCacheSetting' failed to satisfy constraint: Member must satisfy enum value set: "
                          f"[{', '.join(CACHE_SETTINGS)}]")
    if mode != MULTI_MODEL:
        return
    url = model_data_url(container)
    if not url:
        raise ConfigError("A MultiModel container needs ModelDataUrl: the S3 prefix (or file:// folder) its model "
                          "archives are under, e.g. s3://bucket/models/.")
    try:
        check_allowed(url, roots)
        parsed = store.parse_uri(url)
    except (ModelDataError, store.StoreError) as exc:
        raise ConfigError(str(exc)) from None
    if parsed.scheme != "s3" and not Path(os.path.realpath(parsed.path)).is_dir():
        raise ConfigError(f"ModelDataUrl {url} of a MultiModel container must be a prefix (a folder holding the "
                          f"model archives), not a single archive.")
    if parsed.scheme == "s3" and url.endswith((".tar.gz", ".tgz")):
        raise ConfigError(f"ModelDataUrl {url} of a MultiModel container must be an S3 prefix (e.g. "
                          f"s3://bucket/models/), not the path of one archive.")
    env = container.get("Environment") or {}
    for key in BUDGET_KEYS:
        value = env.get(key)
        if value is not None and not (value.isdigit() and int(value) >= 1):
            raise ConfigError(f"{where}.Environment {key}={value!r} must be a whole number of at least 1.")


def check_target(target: str) -> None:
    """Refuse a TargetModel SageMaker would refuse (length, pattern) or that climbs out of the prefix."""
    if not 1 <= len(target) <= MAX_TARGET_LENGTH or target[0].isspace() or not target.isprintable():
        raise ConfigError(f"1 validation error detected: Value '{target[:100]}' at 'targetModel' failed to satisfy "
                          f"constraint: Member must have length between 1 and {MAX_TARGET_LENGTH} and satisfy "
                          f"regular expression pattern: {TARGET_PATTERN}")
    if target.startswith("/") or any(part in ("..", ".") for part in target.split("/")) or "\\" in target:
        raise ConfigError(f"TargetModel {target!r} must be a path relative to the endpoint's ModelDataUrl prefix, "
                          f"without '.' or '..' segments, a leading '/' or backslashes (e.g. model1.tar.gz).")
