"""How a failed SageMaker Runtime call becomes the gateway's error: one table, for every transport.

SageMaker names its errors (``x-amzn-ErrorType`` on the wire, ``Error.Code`` in botocore's
``ClientError``, ``:exception-type`` in a response stream); ``SERVICE_ERRORS`` maps each name to the
status, code, message and retry advice of the gateway's ``ApiError``. The boto3 and the pooled HTTP
transports both call :func:`service_error` with what they read, so the same failure gives the same
answer whichever transport carried it. Failures below the API (no connection, timeouts, an answer cut
short) have their own small constructors here, used by both transports too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modelport.gateway.errors import ApiError


@dataclass(frozen=True)
class ErrorRule:
    """The gateway's answer to one SageMaker error name.

    ``message`` is formatted with ``endpoint``, ``code`` and ``message`` (SageMaker's text). A rule
    ``from_model`` carries the model's own status and message (``OriginalStatusCode`` /
    ``OriginalMessage``) as details and is retryable when the model failed with a 5xx.
    """

    status: int
    code: str
    message: str
    retryable: bool = False
    retry_after: str | None = None
    from_model: bool = False


# SageMaker has no error name of its own for a missing endpoint: it is a ValidationError whose message
# says "Endpoint NAME of account ACCOUNT not found." service_error looks that case up under this key (a
# ValidationError about something else that is not found, such as a TargetVariant, stays a 400).
ENDPOINT_NOT_FOUND = "ValidationError/not-found"
_MISSING_ENDPOINT = re.compile(r"^endpoint \S+ .*not found", re.IGNORECASE)

_THROTTLED = ErrorRule(429, "backend_throttled", "SageMaker is throttling endpoint {endpoint}", True, "1")
_NOT_ALLOWED = ErrorRule(502, "backend_misconfigured", "the gateway may not call endpoint {endpoint}: {message}")

SERVICE_ERRORS: dict[str, ErrorRule] = {
    "ModelError": ErrorRule(502, "model_error", "the model behind endpoint {endpoint} failed: {model_message}",
                            from_model=True),
    # an error event in the middle of a response stream (the model's stream broke or timed out)
    "ModelStreamError": ErrorRule(502, "model_error", "the model behind endpoint {endpoint} failed mid-stream: "
                                  "{model_message}", from_model=True),
    ENDPOINT_NOT_FOUND: ErrorRule(503, "endpoint_not_found",
                                  "endpoint {endpoint} does not exist (not deployed yet?): {message}"),
    "ValidationError": ErrorRule(400, "backend_rejected", "SageMaker refused the request to endpoint {endpoint}: {message}"),
    "ModelNotReadyException": ErrorRule(503, "model_not_ready", "endpoint {endpoint} is not ready yet: {message}",
                                        True, "5"),
    "ThrottlingException": _THROTTLED,
    "TooManyRequestsException": _THROTTLED,
    "ServiceUnavailable": ErrorRule(503, "backend_unavailable", "endpoint {endpoint} is unavailable: {message}", True, "2"),
    "AccessDeniedException": _NOT_ALLOWED,
    "UnrecognizedClientException": _NOT_ALLOWED,
    "InvalidSignatureException": _NOT_ALLOWED,
}
OTHER_ERROR = ErrorRule(502, "backend_error", "SageMaker failed on endpoint {endpoint} ({code}): {message}", True)


def service_error(code: str, message: str, fields: dict[str, Any], endpoint: str) -> ApiError:
    """The gateway's error for a SageMaker Runtime error: its name, message and modelled fields."""
    key = ENDPOINT_NOT_FOUND if code == "ValidationError" and _MISSING_ENDPOINT.match(message) else code
    rule = SERVICE_ERRORS.get(key, OTHER_ERROR)
    headers = {"Retry-After": rule.retry_after} if rule.retry_after else None
    if not rule.from_model:
        text = rule.message.format(endpoint=endpoint, code=code, message=message)
        return ApiError(rule.status, rule.code, text, retryable=rule.retryable, headers=headers)
    model_status = fields.get("OriginalStatusCode")
    model_message = fields.get("OriginalMessage") or message
    text = rule.message.format(endpoint=endpoint, code=code, message=message, model_message=model_message)
    return ApiError(
        rule.status, rule.code, text, headers=headers,
        retryable=isinstance(model_status, int) and model_status >= 500,
        modelStatus=model_status, modelMessage=model_message,
    )


def timeout_error(endpoint: str, timeout: float) -> ApiError:
    """The 504 for an invocation that did not answer within the backend timeout."""
    return ApiError(504, "backend_timeout", f"endpoint {endpoint} did not answer within {timeout:g} s", retryable=True)


def stream_idle_error(endpoint: str, idle_timeout: float) -> ApiError:
    """The 504 for a response stream that sent nothing for too long."""
    return ApiError(504, "backend_timeout", f"endpoint {endpoint} sent nothing for {idle_timeout:g} s", retryable=True)


def unavailable(endpoint: str) -> ApiError:
    """The 503 for a Runtime API that cannot be reached."""
    return ApiError(
        503, "backend_unavailable",
        f"the SageMaker Runtime API is not reachable for endpoint {endpoint} (is hosting running?)",
        retryable=True, headers={"Retry-After": "2"},
    )


def broken_answer(endpoint: str) -> ApiError:
    """The 502 for an answer that was malformed or cut short."""
    return ApiError(502, "backend_error", f"the Runtime API sent a malformed or cut-short answer for endpoint {endpoint}",
                    retryable=True)


def call_failed(endpoint: str, what: str) -> ApiError:
    """The 502 for any other failure of the call (``what``: the exception's type name)."""
    return ApiError(502, "backend_error", f"calling endpoint {endpoint} failed ({what})", retryable=True)


def no_credentials() -> ApiError:
    """The 502 when boto3 finds no AWS credentials."""
    return ApiError(502, "backend_misconfigured", "the gateway has no AWS credentials to call SageMaker")
