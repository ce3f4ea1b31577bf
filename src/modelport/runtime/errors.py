"""Errors with an HTTP status, and how any exception from user code maps to a status.

Every error leaves the runtime as JSON ``{"error": CODE, "message": ...}``.
"""

from __future__ import annotations

from modelport.process import PORT_IN_USE_EXIT


class InferenceError(Exception):
    """An error that knows its HTTP status and machine-readable code."""

    status = 500
    code = "InternalServerError"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class BadRequest(InferenceError):
    status, code = 400, "BadRequest"


class NotFound(InferenceError):
    status, code = 404, "NotFound"


class MethodNotAllowed(InferenceError):
    status, code = 405, "MethodNotAllowed"


class NotAcceptable(InferenceError):
    status, code = 406, "NotAcceptable"


class PayloadTooLarge(InferenceError):
    status, code = 413, "PayloadTooLarge"


class UnsupportedMediaType(InferenceError):
    status, code = 415, "UnsupportedMediaType"


class ModelNotReady(InferenceError):
    status, code = 503, "ModelNotReady"


class InferenceTimeout(InferenceError):
    status, code = 504, "Timeout"


class StartupError(Exception):
    """The model cannot be served (missing module, bad handler signature, failing model_fn)."""

    exit_code = 1


class PortInUse(StartupError):
    """The port to listen on is taken: the process exits with PORT_IN_USE_EXIT, so hosting retries elsewhere."""

    exit_code = PORT_IN_USE_EXIT


_CODE_FOR_STATUS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def as_inference_error(exc: BaseException) -> InferenceError:
    """Map any exception raised while handling a request to an InferenceError.

    Exceptions that carry an integer ``status_code`` between 400 and 599 keep it — SageMaker's
    ``GenericInferenceToolkitError(400, ...)`` and the shims' equivalents, or a user's own class.
    Everything else is a 500 with the exception's message.
    """
    if isinstance(exc, InferenceError):
        return exc
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status <= 599:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return InferenceError(str(message), status=status, code=_CODE_FOR_STATUS.get(status, "ModelError"))
    message = str(exc) or type(exc).__name__
    return InferenceError(f"{type(exc).__name__}: {message}", status=500, code="ModelError")
