"""Helpers to read botocore errors: is this a "does not exist" answer?"""

from __future__ import annotations

from botocore.exceptions import ClientError

_MISSING_CODES = {"404", "NoSuchBucket", "NoSuchKey", "NoSuchEntity", "ResourceNotFoundException",
                  "NotFoundException", "NoSuchBucketPolicy", "NoSuchWebsiteConfiguration"}


def is_missing(exc: Exception) -> bool:
    """True when ``exc`` says the resource asked about does not exist."""
    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if code in _MISSING_CODES:
        return True
    # SageMaker answers ValidationException "Could not find endpoint/model/endpoint configuration ..."
    return code == "ValidationException" and ("Could not find" in message or "does not exist" in message)


class DeployError(RuntimeError):
    """A deploy step failed; the message says which resource and why."""
