"""The interface every Runtime API transport offers, and what an invocation returns.

A transport carries InvokeEndpoint and InvokeEndpointWithResponseStream to the SageMaker Runtime API
(real SageMaker, or modelport hosting) and gives back answers and ``ApiError`` values, never a
library's own exceptions; the rest of the gateway sees only this interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol


@dataclass(frozen=True)
class Invocation:
    """What a model answered: the body as bytes, its content type, the variant, the call's duration."""

    body: bytes
    content_type: str | None
    variant: str | None
    latency_ms: float


class RuntimeTransport(Protocol):
    """InvokeEndpoint (whole answers) and InvokeEndpointWithResponseStream (payload parts as they come)."""

    name: str  # "boto3", "http" or "in-process", as MODELPORT_RUNTIME_CLIENT names it

    async def invoke(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, custom_attributes: str | None = None, target_variant: str | None = None, target_model: str | None = None,
    ) -> Invocation:
        """Call InvokeEndpoint (``target_model``: a multi-model endpoint's TargetModel) within the backend timeout (else a 504); raises ApiError on any failure."""
        ...

    def invoke_stream(
        self, endpoint: str, body: bytes, content_type: str | None, accept: str | None,
        *, idle_timeout: float, custom_attributes: str | None = None, target_variant: str | None = None,
    ) -> AsyncIterator[bytes]:
        """Call InvokeEndpointWithResponseStream; yield each ``PayloadPart``'s bytes as it arrives.

        Raises ApiError on any failure, before or during the stream (an error event too), and a 504
        when nothing arrives for ``idle_timeout`` seconds. Closing the iterator early closes the stream,
        which stops the model.
        """
        ...


# InvokeEndpoint's optional fields: (boto3 parameter, the HTTP header it travels in on the wire).
# The response-stream call sends Accept as X-Amzn-SageMaker-Accept (STREAM_ACCEPT_HEADER).
INVOKE_FIELDS = (
    ("ContentType", "Content-Type"),
    ("Accept", "Accept"),
    ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
    ("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
    ("TargetModel", "X-Amzn-SageMaker-Target-Model"),  # InvokeEndpoint only (not the response-stream call)
)
STREAM_ACCEPT_HEADER = "X-Amzn-SageMaker-Accept"


def optional_fields(*values: str | None) -> list[tuple[str, str, str]]:
    """(parameter, header, value) for each given optional field, in INVOKE_FIELDS order."""
    return [(param, header, value) for (param, header), value in zip(INVOKE_FIELDS, values) if value]
