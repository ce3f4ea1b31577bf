"""The runtime's settings: SageMaker's own environment variables, as its containers read them, the
shared MODELPORT_HOME, MODELPORT_BUSY_POLL_MS, MODELPORT_METRICS and MODELPORT_INSTALL_REQUIREMENTS
(``modelport.settings``),
and adaptive batching (MODELPORT_MAX_BATCH_SIZE, MODELPORT_MAX_BATCH_DELAY_MS: also accepted in a hosted
model's Environment, checked there by :func:`batching_setting_error`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, Field, TypeAdapter, ValidationError

from modelport.process import available_cpus
from modelport.settings import BusyPollSetting, HomeSetting, InstallRequirementsSetting, MetricsSetting


BATCH_SIZE_KEY = "MODELPORT_MAX_BATCH_SIZE"
BATCH_DELAY_KEY = "MODELPORT_MAX_BATCH_DELAY_MS"
BATCH_KEYS = (BATCH_SIZE_KEY, BATCH_DELAY_KEY)
MAX_BATCH_SIZE_CAP = 1024
MAX_BATCH_DELAY_MS_CAP = 1000.0
DEFAULT_BATCH_DELAY_MS = 2.0


class RuntimeEnvironment(HomeSetting, BusyPollSetting, MetricsSetting, InstallRequirementsSetting):
    """Settings of one model server. Each field names the environment variable it reads."""

    program: str = Field(
        default="inference",
        validation_alias="SAGEMAKER_PROGRAM",
        description="Module of the handler functions, with or without .py (default inference).",
    )
    submit_directory: str | None = Field(
        default=None,
        validation_alias="SAGEMAKER_SUBMIT_DIRECTORY",
        description="Where to look for the module when <model_dir>/code lacks it: dir, tar.gz or file://.",
    )
    default_accept: str = Field(default="application/json", validation_alias="SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT")
    port: int = Field(default=8080, validation_alias="SAGEMAKER_BIND_TO_PORT")
    host: str = Field(default="127.0.0.1", validation_alias="MODELPORT_BIND_HOST")
    workers: int = Field(default_factory=available_cpus, validation_alias="SAGEMAKER_MODEL_SERVER_WORKERS", ge=1)
    max_payload_mb: float = Field(default=6, validation_alias="SAGEMAKER_MAX_PAYLOAD_IN_MB", gt=0)
    timeout_seconds: float = Field(
        default=60,
        validation_alias=AliasChoices("SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS", "SAGEMAKER_MODEL_SERVER_TIMEOUT"),
        gt=0,
    )
    framework: str = Field(default="auto", validation_alias="MODELPORT_FRAMEWORK")
    multi_model: bool = Field(
        default=False, validation_alias="SAGEMAKER_MULTI_MODEL",
        description="SAGEMAKER_MULTI_MODEL=true: serve the model store's models on request (SageMaker MME's "
        "management API) instead of one model.",
    )
    mme_load_timeout_s: float = Field(
        default=360.0, gt=0, validation_alias="MODELPORT_MME_LOAD_TIMEOUT_S",
        description="MODELPORT_MME_LOAD_TIMEOUT_S: longest a multi-model server waits for one model to load "
        "(SageMaker: 360 s).",
    )
    max_batch_size: int = Field(
        default=1, ge=1, le=MAX_BATCH_SIZE_CAP, validation_alias=BATCH_SIZE_KEY,
        description=f"{BATCH_SIZE_KEY}: most requests one worker predicts in one call (1: batching off).",
    )
    max_batch_delay_ms: float = Field(
        default=DEFAULT_BATCH_DELAY_MS, ge=0, le=MAX_BATCH_DELAY_MS_CAP, validation_alias=BATCH_DELAY_KEY,
        description=f"{BATCH_DELAY_KEY}: longest a request waits for batch mates once requests queue up "
        "(a lone request on an idle worker never waits).",
    )

    @property
    def module_name(self) -> str:
        """``inference.py`` → ``inference``."""
        name = self.program.strip()
        return name[:-3] if name.endswith(".py") else name

    @property
    def max_payload_bytes(self) -> int:
        """The request-size limit in bytes (MB × 2^20, as SageMaker's toolkit computes it)."""
        return int(self.max_payload_mb * 1024 * 1024)

    @property
    def batching(self) -> bool:
        """Whether adaptive batching is on (more than one request per predict call)."""
        return self.max_batch_size > 1


_BATCH_FIELDS = {BATCH_SIZE_KEY: "max_batch_size", BATCH_DELAY_KEY: "max_batch_delay_ms"}


def batching_setting_error(key: str, value: Any) -> str | None:
    """Why ``value`` is not a valid setting for the batching variable ``key`` (None: it is), checked with
    the runtime's own field (type and bounds), so hosting refuses exactly what a runtime would."""
    field = RuntimeEnvironment.model_fields[_BATCH_FIELDS[key]]
    try:
        TypeAdapter(Annotated[(field.annotation, *field.metadata)]).validate_python(value.strip() if isinstance(value, str) else value)
    except ValidationError:
        kind = "a whole number" if field.annotation is int else "a number of milliseconds"
        upper = MAX_BATCH_SIZE_CAP if key == BATCH_SIZE_KEY else f"{MAX_BATCH_DELAY_MS_CAP:g}"
        lower = 1 if key == BATCH_SIZE_KEY else 0
        return f"{key}={value!r} must be {kind} from {lower} to {upper}."
    return None
