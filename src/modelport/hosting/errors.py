"""Errors shaped as SageMaker's, for the control plane (JSON 1.1) and the Runtime API (REST-JSON).

botocore reads the error code from ``__type`` (control plane) or the ``x-amzn-ErrorType`` header
(runtime), the message from ``message``/``Message``, and modelled members from the body.
"""

from __future__ import annotations

from typing import Any


class ControlError(Exception):
    """A control-plane error: ``{"__type": code, "message": message}`` with an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        """The JSON 1.1 error document."""
        return {"__type": self.code, "message": self.message}


def validation(message: str) -> ControlError:
    """SageMaker's catch-all client error (unknown names, bad values, wrong state)."""
    return ControlError("ValidationException", message)


def resource_limit(message: str) -> ControlError:
    """Raised when a request would exceed a limit."""
    return ControlError("ResourceLimitExceeded", message)


class RuntimeApiError(Exception):
    """A Runtime API error; ``code`` goes to ``x-amzn-ErrorType`` and ``extra`` into the body."""

    def __init__(self, code: str, message: str, status: int, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The REST-JSON error document."""
        return {"ErrorCode": self.code, "Message": self.message, **self.extra}


def validation_error(message: str) -> RuntimeApiError:
    """400 ``ValidationError``: unknown endpoint or variant, body too large, bad header."""
    return RuntimeApiError("ValidationError", message, 400)


def model_not_ready(message: str) -> RuntimeApiError:
    """429 ``ModelNotReadyException``: the endpoint exists but no instance can take requests yet."""
    return RuntimeApiError("ModelNotReadyException", message, 429)


def throttling(message: str) -> RuntimeApiError:
    """429 ``ThrottlingException``: a serverless variant is at its MaxConcurrency. SageMaker does not document the
    status; 429 is what the endpoint-kinds issue asks for, and botocore retries any 429 in every retry mode
    (a 400 only where the code is in its throttling list), so a client backs off either way."""
    return RuntimeApiError("ThrottlingException", message, 429)


def service_unavailable(message: str) -> RuntimeApiError:
    """503 ``ServiceUnavailable``: every instance is down or the backend failed."""
    return RuntimeApiError("ServiceUnavailable", message, 503)


def model_error(endpoint: str, variant: str, status: int, original: str, log_stream: str) -> RuntimeApiError:
    """424 ``ModelError``: the model answered 4xx/5xx; carries its status and message.

    The message has SageMaker's shape; where SageMaker points at CloudWatch, this points at the
    instance logs (``modelport logs ENDPOINT``).
    """
    kind = "client" if 400 <= status < 500 else "server"
    message = (
        f'Received {kind} error ({status}) from primary with message "{original}". '
        f"See `modelport logs {endpoint}` (log group {log_stream}) for more information."
    )
    return RuntimeApiError(
        "ModelError",
        message,
        424,
        OriginalStatusCode=status,
        OriginalMessage=original,
        LogStreamArn=log_stream,
    )
