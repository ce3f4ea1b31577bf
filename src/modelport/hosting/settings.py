"""Hosting settings, read from ``MODELPORT_HOSTING_*`` environment variables, and the shared
MODELPORT_BUSY_POLL_MS and MODELPORT_METRICS (``modelport.settings``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from modelport.process import available_cpus
from modelport.settings import BusyPollSetting, MetricsSetting


class HostingSettings(BusyPollSetting, MetricsSetting):
    """Where hosting listens, what it calls itself in ARNs, and how it supervises instances."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_HOSTING_")

    host: str = Field(default="127.0.0.1", description="MODELPORT_HOSTING_HOST: address to listen on.")
    allow_remote: bool = Field(
        default=False,
        description="MODELPORT_HOSTING_ALLOW_REMOTE (--allow-remote): listen beyond loopback and accept any Host "
        "header; needs MODELPORT_HOSTING_TOKEN set.",
    )
    model_roots: str = Field(
        default="", validation_alias=AliasChoices("MODELPORT_MODEL_ROOTS", "model_roots"),
        description="MODELPORT_MODEL_ROOTS: more folders (colon-separated, like PATH) whose archives a ModelDataUrl "
        "may name, besides MODELPORT_HOME; s3:// is always allowed.",
    )
    max_instances_per_variant: int = Field(
        default_factory=lambda: max(2, 2 * available_cpus()), ge=1,
        description="MODELPORT_HOSTING_MAX_INSTANCES_PER_VARIANT: cap on a variant's instance count (default 2 per CPU).",
    )
    max_instances: int = Field(
        default_factory=lambda: max(4, 4 * available_cpus()), ge=1,
        description="MODELPORT_HOSTING_MAX_INSTANCES: cap on the instances of one endpoint, all variants together "
        "(default 4 per CPU).",
    )
    max_model_workers: int = Field(
        default_factory=lambda: max(2, 2 * available_cpus()), ge=1,
        description="MODELPORT_HOSTING_MAX_MODEL_WORKERS: cap on SAGEMAKER_MODEL_SERVER_WORKERS in a model's "
        "Environment (default 2 per CPU).",
    )
    port: int = Field(default=8001, description="MODELPORT_HOSTING_PORT: port of both APIs.")
    region: str = Field(default="us-east-1", description="MODELPORT_HOSTING_REGION: region shown in ARNs.")
    account: str = Field(default="123456789012", description="MODELPORT_HOSTING_ACCOUNT: account id in ARNs.")
    workers: int = Field(
        default=1,
        description="MODELPORT_HOSTING_WORKERS: worker processes per instance, unless the model's "
        "Environment sets SAGEMAKER_MODEL_SERVER_WORKERS.",
    )
    startup_timeout: float = Field(
        default=120.0,
        description="MODELPORT_HOSTING_STARTUP_TIMEOUT: seconds an instance may take to pass /ping "
        "(a variant's ContainerStartupHealthCheckTimeoutInSeconds overrides it).",
    )
    invocation_timeout: float = Field(
        default=60.0, description="MODELPORT_HOSTING_INVOCATION_TIMEOUT: seconds per invocation (SageMaker: 60)."
    )
    rollback_error_rate: float = Field(
        default=0.1, ge=0, lt=1,
        description="MODELPORT_HOSTING_ROLLBACK_ERROR_RATE: share of a new fleet's invocations that may fail "
        "with server errors during a blue/green update before the AutoRollbackConfiguration alarms go off.",
    )
    rollback_min_requests: int = Field(
        default=10, ge=1,
        description="MODELPORT_HOSTING_ROLLBACK_MIN_REQUESTS: invocations of the new fleet needed before "
        "its error rate can set off the AutoRollbackConfiguration alarms.",
    )
    health_interval: float = Field(
        default=2.0,
        description="MODELPORT_HOSTING_HEALTH_INTERVAL: seconds between /ping checks of a ready instance; "
        "3 failures in a row (each waiting at most min(2 s, interval)) restart it.",
    )
    drain_timeout: float = Field(
        default=30.0, description="MODELPORT_HOSTING_DRAIN_TIMEOUT: seconds an old fleet may take to drain."
    )
    capture_flush_seconds: float = Field(
        default=2.0, gt=0, le=3600,
        description="MODELPORT_HOSTING_CAPTURE_FLUSH_SECONDS: how often queued data capture records are written "
        "(one new .jsonl file per endpoint, variant and hour each time; SageMaker takes a couple of minutes).",
    )
    capture_queue_records: int = Field(
        default=10_000, ge=1,
        description="MODELPORT_HOSTING_CAPTURE_QUEUE_RECORDS: data capture records waiting to be written, at most; "
        "beyond it (or MODELPORT_HOSTING_CAPTURE_QUEUE_MB) records are dropped and counted, callers never wait.",
    )
    capture_queue_mb: int = Field(
        default=64, ge=1,
        description="MODELPORT_HOSTING_CAPTURE_QUEUE_MB: megabytes of captured bodies waiting to be written, at most.",
    )
    serverless_idle_s: float = Field(
        default=300.0, gt=0, validation_alias=AliasChoices("MODELPORT_SERVERLESS_IDLE_S", "serverless_idle_s"),
        description="MODELPORT_SERVERLESS_IDLE_S: seconds a serverless variant's instance may stay idle before it "
        "stops (the next request starts it again: a cold start); ProvisionedConcurrency keeps it running.",
    )
    mme_max_models: int = Field(
        default=8, ge=1, validation_alias=AliasChoices("MODELPORT_MME_MAX_MODELS", "mme_max_models"),
        description="MODELPORT_MME_MAX_MODELS: targets one instance of a multi-model endpoint keeps loaded; loading "
        "one more unloads the least recently used (a model's Environment may set its own).",
    )
    mme_max_memory_mb: int = Field(
        default=4096, ge=1, validation_alias=AliasChoices("MODELPORT_MME_MAX_MEMORY_MB", "mme_max_memory_mb"),
        description="MODELPORT_MME_MAX_MEMORY_MB: resident memory the loaded targets of one multi-model instance may "
        "use together; past it, the least recently used are unloaded (a model's Environment may set its own).",
    )
    mme_max_disk_mb: int = Field(
        default=10240, ge=1, validation_alias=AliasChoices("MODELPORT_MME_MAX_DISK_MB", "mme_max_disk_mb"),
        description="MODELPORT_MME_MAX_DISK_MB: unpacked targets a multi-model endpoint's model store keeps on disk "
        "(the endpoints serving one ModelDataUrl prefix share a store); past it, the least recently used that no "
        "instance has loaded are deleted before each load.",
    )
    mme_max_archive_mb: int = Field(
        default=2048, ge=1, validation_alias=AliasChoices("MODELPORT_MME_MAX_ARCHIVE_MB", "mme_max_archive_mb"),
        description="MODELPORT_MME_MAX_ARCHIVE_MB: largest target archive a multi-model endpoint fetches (its unpacked "
        "size is limited by MODELPORT_MAX_ARCHIVE_BYTES).",
    )
    autoscaling_interval: float = Field(
        default=10.0, gt=0,
        description="MODELPORT_HOSTING_AUTOSCALING_INTERVAL: seconds between two evaluations of the "
        "application-autoscaling policies (SageMaker: 1-minute CloudWatch periods; target values stay per minute).",
    )
    async_notify_url: str = Field(
        default="", validation_alias=AliasChoices("MODELPORT_ASYNC_NOTIFY_URL", "async_notify_url"),
        description="MODELPORT_ASYNC_NOTIFY_URL: a webhook that gets a JSON notification (SageMaker's SNS message) "
        "after each asynchronous inference result, success or failure; empty: none.",
    )
    async_max_input_mb: int = Field(
        default=1024, ge=1,
        description="MODELPORT_HOSTING_ASYNC_MAX_INPUT_MB: largest InvokeEndpointAsync input object (SageMaker: 1 GB); "
        "inputs and outputs are streamed, never held in memory whole.",
    )
    async_max_backlog: int = Field(
        default=10_000, ge=1,
        description="MODELPORT_HOSTING_ASYNC_MAX_BACKLOG: requests one asynchronous endpoint may have queued or "
        "running; beyond it InvokeEndpointAsync answers ServiceUnavailable.",
    )
    forkserver: bool = Field(
        default=True,
        description="MODELPORT_HOSTING_FORKSERVER: fork endpoint instances from a warm template process that has "
        "the runtime and the framework imported (milliseconds instead of seconds); 0: start each as a new "
        "Python process.",
    )
    url: str = Field(
        default="http://127.0.0.1:8001",
        description="MODELPORT_HOSTING_URL: where clients (CLI, Python SDK) find the service.",
    )


def get_hosting_settings() -> HostingSettings:
    """Read the hosting settings from the environment now."""
    return HostingSettings()
