"""Settings of an AWS stack: a TOML file (optional), overridden by environment variables, then the CLI.

TOML layout (every key optional; see docs/aws.md)::

    stack = "modelport"            # MODELPORT_AWS_STACK
    region = "us-east-1"           # MODELPORT_AWS_REGION, AWS_REGION, AWS_DEFAULT_REGION
    bucket = ""                    # MODELPORT_AWS_BUCKET: archives bucket (default derived from stack/account/region)
    role_arn = ""                  # MODELPORT_AWS_ROLE_ARN: SageMaker execution role to use instead of creating one
    instance_type = "ml.m5.large"  # MODELPORT_AWS_INSTANCE_TYPE
    instance_count = 1             # MODELPORT_AWS_INSTANCE_COUNT
    serverless_memory_mb = 0       # MODELPORT_AWS_SERVERLESS_MEMORY_MB: > 0 → serverless endpoints
    serverless_max_concurrency = 5 # MODELPORT_AWS_SERVERLESS_MAX_CONCURRENCY
    autoscale = ""                 # MODELPORT_AWS_AUTOSCALE (--autoscale): "MIN:MAX:TARGET" → target tracking
                                   # on invocations per instance per minute (see aws/autoscaling.py)
    bedrock_model_id = ""          # MODELPORT_AWS_BEDROCK_MODEL_ID (BEDROCK_MODEL_ID also read)
    throttle_rate = 20.0           # MODELPORT_AWS_THROTTLE_RATE: API requests/s (steady)
    throttle_burst = 40            # MODELPORT_AWS_THROTTLE_BURST
    lambda_architecture = "x86_64" # MODELPORT_AWS_LAMBDA_ARCHITECTURE: x86_64 | arm64
    page_dir = "page/dist"         # MODELPORT_AWS_PAGE_DIR; "" → no page; default: the installed page
    extra_origins = []             # MODELPORT_AWS_EXTRA_ORIGINS (comma list): more CORS origins
    wait_seconds = 3600            # MODELPORT_AWS_WAIT_SECONDS: longest wait for an endpoint
    poll_seconds = 15              # MODELPORT_AWS_POLL_SECONDS

    [[models]]                     # MODELPORT_AWS_MODELS: "name=path,name=path"
    name = "mnist-sklearn"
    archive = ".modelport/bundled/mnist-sklearn/model.tar.gz"
    framework = ""                 # sklearn | pytorch; "" → detected from the archive
    instance_type = ""             # per-model overrides of the stack defaults
    serverless_memory_mb = 0
    autoscale = ""

Without models the bundled ones are deployed from ``$MODELPORT_HOME/bundled/<name>/model.tar.gz``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelport.aws.autoscaling import Autoscale
from modelport.config import home_in
from modelport.resources import page_dir as installed_page_dir

BUNDLED_MODELS = ("mnist-sklearn", "mnist-pytorch", "sentiment")
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")


class SettingsError(ValueError):
    """The stack's settings are missing or wrong; the message says which and what is accepted."""


class ModelSpec(BaseModel):
    """One model of the stack: a route name, its archive and how it is hosted."""

    model_config = ConfigDict(extra="forbid")

    name: str
    archive: Path
    framework: str = ""
    instance_type: str = ""
    instance_count: int = 0
    serverless_memory_mb: int = 0
    autoscale: str = ""

    @field_validator("autoscale")
    @classmethod
    def _check_autoscale(cls, value: str) -> str:
        if value:
            Autoscale.parse(value)
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"model name {value!r}: use 1-32 lower-case letters, digits and '-'")
        return value

    @field_validator("framework")
    @classmethod
    def _check_framework(cls, value: str) -> str:
        if value not in ("", "sklearn", "pytorch"):
            raise ValueError(f"framework {value!r}: use sklearn or pytorch (or leave empty to detect)")
        return value


class AwsSettings(BaseModel):
    """Everything `modelport aws` needs to know about a stack."""

    model_config = ConfigDict(extra="forbid")

    stack: str = "modelport"
    region: str = "us-east-1"
    bucket: str = ""
    role_arn: str = ""
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(default=1, ge=1)
    serverless_memory_mb: int = 0
    serverless_max_concurrency: int = Field(default=5, ge=1, le=200)
    autoscale: str = ""
    bedrock_model_id: str = ""
    throttle_rate: float = Field(default=20.0, gt=0)
    throttle_burst: int = Field(default=40, ge=1)
    lambda_architecture: str = "x86_64"
    lambda_memory_mb: int = Field(default=512, ge=128, le=10240)
    lambda_timeout_s: int = Field(default=29, ge=1, le=900)
    page_dir: str = Field(default_factory=lambda: str(installed_page_dir()))
    extra_origins: list[str] = []
    wait_seconds: float = 3600.0
    poll_seconds: float = 15.0
    models: list[ModelSpec] = []

    @field_validator("stack")
    @classmethod
    def _check_stack(cls, value: str) -> str:
        if not re.match(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$", value):
            raise ValueError(f"stack name {value!r}: use 2-24 lower-case letters, digits and '-', starting with a letter")
        return value

    @field_validator("serverless_memory_mb")
    @classmethod
    def _check_memory(cls, value: int) -> int:
        if value and not (1024 <= value <= 6144 and value % 1024 == 0):
            raise ValueError(f"serverless_memory_mb={value}: use 0 (instances) or 1024, 2048, ... 6144")
        return value

    @field_validator("autoscale")
    @classmethod
    def _check_autoscale(cls, value: str) -> str:
        if value:
            Autoscale.parse(value)
        return value

    @field_validator("lambda_architecture")
    @classmethod
    def _check_arch(cls, value: str) -> str:
        if value not in ("x86_64", "arm64"):
            raise ValueError(f"lambda_architecture {value!r}: use x86_64 or arm64")
        return value

    def model_autoscale(self, model: ModelSpec) -> Autoscale | None:
        """The autoscaling of ``model`` (its own, else the stack's), or None; never for a serverless endpoint."""
        text = model.autoscale or self.autoscale
        if not text or "ServerlessConfig" in self.model_hosting(model):
            return None
        return Autoscale.parse(text)

    def model_hosting(self, model: ModelSpec) -> dict[str, Any]:
        """The production variant settings of ``model`` (its own overrides, else the stack's)."""
        memory = model.serverless_memory_mb or self.serverless_memory_mb
        if memory:
            return {"ServerlessConfig": {"MemorySizeInMB": memory, "MaxConcurrency": self.serverless_max_concurrency}}
        return {"InstanceType": model.instance_type or self.instance_type,
                "InitialInstanceCount": model.instance_count or self.instance_count}


_ENV = {
    "stack": "MODELPORT_AWS_STACK", "bucket": "MODELPORT_AWS_BUCKET", "role_arn": "MODELPORT_AWS_ROLE_ARN",
    "instance_type": "MODELPORT_AWS_INSTANCE_TYPE", "instance_count": "MODELPORT_AWS_INSTANCE_COUNT",
    "serverless_memory_mb": "MODELPORT_AWS_SERVERLESS_MEMORY_MB",
    "serverless_max_concurrency": "MODELPORT_AWS_SERVERLESS_MAX_CONCURRENCY", "autoscale": "MODELPORT_AWS_AUTOSCALE",
    "throttle_rate": "MODELPORT_AWS_THROTTLE_RATE", "throttle_burst": "MODELPORT_AWS_THROTTLE_BURST",
    "lambda_architecture": "MODELPORT_AWS_LAMBDA_ARCHITECTURE", "page_dir": "MODELPORT_AWS_PAGE_DIR",
    "wait_seconds": "MODELPORT_AWS_WAIT_SECONDS", "poll_seconds": "MODELPORT_AWS_POLL_SECONDS",
}


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {key: environ[var] for key, var in _ENV.items() if var in environ}
    for var in ("MODELPORT_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(var):
            values["region"] = environ[var]
            break
    for var in ("MODELPORT_AWS_BEDROCK_MODEL_ID", "BEDROCK_MODEL_ID"):
        if environ.get(var):
            values["bedrock_model_id"] = environ[var]
            break
    if "MODELPORT_AWS_EXTRA_ORIGINS" in environ:
        values["extra_origins"] = [o.strip() for o in environ["MODELPORT_AWS_EXTRA_ORIGINS"].split(",") if o.strip()]
    if environ.get("MODELPORT_AWS_MODELS"):
        values["models"] = parse_model_list(environ["MODELPORT_AWS_MODELS"])
    return values


def parse_model_list(text: str) -> list[dict[str, str]]:
    """Parse ``name=path,name=path`` (the env / CLI form of the model list)."""
    models = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise SettingsError(f"model {item!r}: write NAME=PATH_TO_MODEL_TAR_GZ, e.g. mnist-sklearn=out/model.tar.gz")
        models.append({"name": name.strip(), "archive": path.strip()})
    return models


def default_models(home: Path) -> list[dict[str, Any]]:
    """The bundled models, at the paths `modelport up` / `modelport train` write them to."""
    return [{"name": name, "archive": home / "bundled" / name / "model.tar.gz"} for name in BUNDLED_MODELS]


def load_settings(config: Path | None = None, environ: dict[str, str] | None = None,
                  overrides: dict[str, Any] | None = None, home: Path | None = None) -> AwsSettings:
    """Merge the TOML file, the environment and CLI overrides (later wins) into validated settings."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    if config is not None:
        if not config.is_file():
            raise SettingsError(f"settings file {config} does not exist")
        try:
            values.update(tomllib.loads(config.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {config} is not valid TOML: {exc}") from exc
    values.update(_from_env(environ))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if not values.get("models"):
        values["models"] = default_models(home or home_in(environ))
    try:
        settings = AwsSettings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"AWS settings are not valid: {problems}") from exc
    names = [m.name for m in settings.models]
    if len(set(names)) != len(names):
        raise SettingsError(f"model names must be unique, got {names}")
    return settings
