"""Training's settings, read from the environment."""

from __future__ import annotations

from pydantic import Field

from modelport.settings import ModelportSettings


class TrainingSettings(ModelportSettings):
    """How the bundled models are trained. Each field names the variable it reads."""

    threads: int = Field(
        default=1, validation_alias="MODELPORT_TRAIN_THREADS",
        description="MODELPORT_TRAIN_THREADS: torch threads for the chat model's training (default 1: on a "
        "shared machine more threads made its small steps slower).",
    )
