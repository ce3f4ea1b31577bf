"""modelport's own settings, read from ``MODELPORT_*`` environment variables (one place for config)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings shared by every part; each field documents its environment variable."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    home: Path = Field(default=Path(".modelport"), description="MODELPORT_HOME: all local state.")
    install_requirements: bool = Field(
        default=False,
        description="MODELPORT_INSTALL_REQUIREMENTS: install code/requirements.txt of served archives.",
    )

    def path(self, *parts: str) -> Path:
        """A path under MODELPORT_HOME (not created)."""
        return self.home.joinpath(*parts)


def get_settings() -> Settings:
    """Read the settings from the environment now (cheap; call where needed, don't cache globally)."""
    return Settings()
