"""The runtime's settings: SageMaker's own environment variables, as its containers read them, and the
shared MODELPORT_HOME, MODELPORT_BUSY_POLL_MS, MODELPORT_METRICS and MODELPORT_INSTALL_REQUIREMENTS (``modelport.settings``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from modelport.process import available_cpus
from modelport.settings import BusyPollSetting, HomeSetting, InstallRequirementsSetting, MetricsSetting


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

    @property
    def module_name(self) -> str:
        """``inference.py`` → ``inference``."""
        name = self.program.strip()
        return name[:-3] if name.endswith(".py") else name

    @property
    def max_payload_bytes(self) -> int:
        """The request-size limit in bytes (MB × 2^20, as SageMaker's toolkit computes it)."""
        return int(self.max_payload_mb * 1024 * 1024)
