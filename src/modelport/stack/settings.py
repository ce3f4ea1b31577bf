"""Settings of ``modelport up``'s stack, read from the environment (its options come from the CLI)."""

from __future__ import annotations

from pydantic import Field

from modelport.settings import HomeSetting

DETACHED_ENV = "MODELPORT_DETACHED"


class StackSettings(HomeSetting):
    """MODELPORT_HOME (shared), and whether this process is the background one ``up --detach`` started."""

    detached: str = Field(
        default="", validation_alias=DETACHED_ENV,
        description="MODELPORT_DETACHED: `1` in the background process `modelport up --detach` starts "
        "(set by modelport for its child, not by users).",
    )

    @property
    def is_detached(self) -> bool:
        """Whether this process runs the stack in the background for ``modelport up --detach``."""
        return self.detached == "1"
