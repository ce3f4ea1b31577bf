"""modelport's settings: the base every settings class derives from, and each shared field, defined once.

modelport is configured by environment variables only, read by pydantic-settings classes: one per
component (``RuntimeEnvironment``, ``HostingSettings``, ``GatewaySettings``, ``HttpLimits``, ...; the
table in ``docs/architecture.md`` says which variable lives where). Each derives from
:class:`ModelportSettings`. A field that more than one component reads is a small mixin here —
:class:`HomeSetting`, :class:`BusyPollSetting`, :class:`MetricsSetting`, :class:`InstallRequirementsSetting`,
:class:`HostingTokenSetting`, :class:`S3EndpointSetting` — so its variable, default, bounds and
description exist once and every component reads it the same way; a component's class lists the
mixins it needs and adds only its own fields.

A shared field reads exactly one variable (its ``validation_alias``), whatever prefix the class
that mixes it in has. :class:`Settings` is the small set every part may ask for (``get_settings()``).
Outside settings classes modelport does not read the environment for its own configuration (the
exceptions, and why, are listed in ``docs/architecture.md``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelport.config import HOME_ENV, HOME_HELP, default_home
from modelport.token import TOKEN_ENV


class ModelportSettings(BaseSettings):
    """The base of modelport's settings classes: read from the environment, unknown variables ignored."""

    model_config = SettingsConfigDict(extra="ignore")


# A shared field's alias is its variable only, never also the field's name: a class that accepts field names
# (populate_by_name, as GatewaySettings) would otherwise also read `home` from the unrelated $HOME.
class HomeSetting(ModelportSettings):
    """``home``: MODELPORT_HOME, all local state (its default is decided in ``modelport.config``)."""

    home: Path = Field(default_factory=default_home, validation_alias=HOME_ENV, description=HOME_HELP)

    def path(self, *parts: str) -> Path:
        """A path under MODELPORT_HOME (not created)."""
        return self.home.joinpath(*parts)


class BusyPollSetting(ModelportSettings):
    """``busy_poll_ms``: MODELPORT_BUSY_POLL_MS, read alike by runtime workers, hosting and the local gateway."""

    busy_poll_ms: float = Field(
        default=2.0, ge=0, validation_alias="MODELPORT_BUSY_POLL_MS",
        description="MODELPORT_BUSY_POLL_MS: milliseconds the event loop keeps polling after each answer instead "
        "of sleeping (0: off); runtime workers, hosting and the local gateway (never in Lambda).",
    )


class MetricsSetting(ModelportSettings):
    """``metrics``: MODELPORT_METRICS, read alike by runtime workers, hosting and the gateway."""

    metrics: bool = Field(
        default=True, validation_alias="MODELPORT_METRICS",
        description="MODELPORT_METRICS: count requests and serve GET /metrics (Prometheus text format, "
        "CloudWatch's SageMaker names) on the runtime, hosting and the gateway; 0: off (no counting, /metrics 404).",
    )


class InstallRequirementsSetting(ModelportSettings):
    """``install_requirements``: MODELPORT_INSTALL_REQUIREMENTS."""

    install_requirements: bool = Field(
        default=False, validation_alias="MODELPORT_INSTALL_REQUIREMENTS",
        description="MODELPORT_INSTALL_REQUIREMENTS: install code/requirements.txt of served archives.",
    )


class HostingTokenSetting(ModelportSettings):
    """``hosting_token``: MODELPORT_HOSTING_TOKEN, the token hosting requires and its clients present."""

    hosting_token: str = Field(
        default="", validation_alias=TOKEN_ENV,
        description="MODELPORT_HOSTING_TOKEN: hosting's token, required by hosting and presented by its clients "
        "(the gateway: as the access key id with boto3, as a bearer token with the lean http client); empty: "
        "the token file under MODELPORT_HOME (see modelport.token).",
    )


class S3EndpointSetting(ModelportSettings):
    """The S3 the AWS SDK is pointed at: ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL`` (see :meth:`s3_endpoint`)."""

    endpoint_url_s3: str = Field(
        default="", validation_alias="AWS_ENDPOINT_URL_S3",
        description="AWS_ENDPOINT_URL_S3: the S3 API s3:// URIs are read from and written to (default: AWS).",
    )
    endpoint_url: str = Field(
        default="", validation_alias="AWS_ENDPOINT_URL",
        description="AWS_ENDPOINT_URL: every AWS service's URL; S3's when AWS_ENDPOINT_URL_S3 is empty.",
    )

    @property
    def s3_endpoint(self) -> str | None:
        """The S3 endpoint URL, or None for AWS's own."""
        return self.endpoint_url_s3 or self.endpoint_url or None


class Settings(HomeSetting, InstallRequirementsSetting, HostingTokenSetting):
    """What every part may ask for: MODELPORT_HOME, MODELPORT_INSTALL_REQUIREMENTS, MODELPORT_HOSTING_TOKEN."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_")


def get_settings() -> Settings:
    """Read the settings from the environment now (cheap; call where needed, don't cache globally)."""
    return Settings()
