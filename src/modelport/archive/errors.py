"""Errors and warnings raised by the archive part (pack, check, safe unpack)."""

from __future__ import annotations


class ArchiveError(Exception):
    """An archive or model directory could not be packed, read or unpacked."""


class UnsafeArchiveError(ArchiveError):
    """An archive was refused because one of its members breaks a safety rule.

    The message names the offending member and the rule it breaks.
    """

    def __init__(self, member: str, rule: str) -> None:
        self.member = member
        self.rule = rule
        super().__init__(f"unsafe archive member {member!r}: {rule}")


class ArchiveWarning(UserWarning):
    """Something in an archive that SageMaker accepts but that is probably a mistake."""
