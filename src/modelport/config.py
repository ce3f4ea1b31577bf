"""modelport's own settings, read from ``MODELPORT_*`` environment variables (one place for config).

``MODELPORT_HOME`` (all local state) defaults to ``.modelport`` at the root of the modelport checkout the
current directory lies in, and to ``~/.modelport`` everywhere else (``default_home``). "In a checkout"
means: the nearest ``pyproject.toml`` at or above the current directory names the project ``modelport``.
So ``make run`` in a clone keeps its state beside the code, as before, and an installed ``modelport up``
in any other folder keeps one home per user instead of scattering ``.modelport`` folders.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HOME_HELP = ("MODELPORT_HOME holds all local state; default: ./.modelport at the root of a modelport "
             "checkout, ~/.modelport anywhere else.")


def find_checkout(start: Path) -> Path | None:
    """The modelport checkout ``start`` lies in: the folder of the nearest ``pyproject.toml`` at or above
    ``start``, when that file names the project ``modelport``; None otherwise."""
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        return folder if name == "modelport" else None
    return None


def default_home() -> Path:
    """MODELPORT_HOME when the variable is not set: ``<checkout>/.modelport`` inside a modelport
    checkout, else ``~/.modelport``."""
    try:
        checkout = find_checkout(Path.cwd())
    except OSError:  # the current directory was removed
        checkout = None
    return checkout / ".modelport" if checkout is not None else Path.home() / ".modelport"


class Settings(BaseSettings):
    """Settings shared by every part; each field documents its environment variable."""

    model_config = SettingsConfigDict(env_prefix="MODELPORT_", extra="ignore")

    home: Path = Field(default_factory=default_home, description=HOME_HELP)
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
