"""The archive's settings: its unpacking limits, and whether the environment names the entry script.

The limits are kept as the text of their variables; :mod:`modelport.archive.unpack` turns them into
numbers, so a bad value is an :class:`~modelport.archive.errors.ArchiveError` that names the variable.
"""

from __future__ import annotations

from pydantic import Field

from modelport.settings import ModelportSettings

MAX_BYTES_ENV = "MODELPORT_MAX_ARCHIVE_BYTES"
MAX_ENTRIES_ENV = "MODELPORT_MAX_ARCHIVE_ENTRIES"


class ArchiveSettings(ModelportSettings):
    """What unpacking and checking an archive read from the environment."""

    max_bytes: str = Field(
        default="", validation_alias=MAX_BYTES_ENV,
        description="MODELPORT_MAX_ARCHIVE_BYTES: largest unpacked size accepted (empty: 20 GiB).",
    )
    max_entries: str = Field(
        default="", validation_alias=MAX_ENTRIES_ENV,
        description="MODELPORT_MAX_ARCHIVE_ENTRIES: most entries an archive may hold (empty: 100000).",
    )
    entry_script: str = Field(
        default="", validation_alias="SAGEMAKER_PROGRAM",
        description="SAGEMAKER_PROGRAM as set where the archive is checked (the runtime's own reading, with "
        "its default, is RuntimeEnvironment.program): when set, code/ needs no inference.py.",
    )
