"""``AsyncInferenceConfig`` of an endpoint config: checked as SageMaker checks it (beyond its input shapes), and what
the workers read from a stored one (:class:`AsyncSettings`).

Where outputs may go is decided like a transform job's (:class:`~modelport.hosting.locations.Places`): ``s3://`` is
hosting's own store (the bucket must exist), a ``file://`` URI or path must lie under the allowed model roots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelport.hosting.errors import validation
from modelport.hosting.locations import LocationError, Places

OUTPUT = "AsyncInferenceConfig.OutputConfig.S3OutputPath"
FAILURE = "AsyncInferenceConfig.OutputConfig.S3FailurePath"


@dataclass(frozen=True)
class AsyncSettings:
    """What the workers need of a stored config: where results go and how many requests one instance takes."""

    output_path: str
    failure_path: str | None
    per_instance: int | None  # MaxConcurrentInvocationsPerInstance; None: the instance's worker count
    notification: dict[str, Any]

    @classmethod
    def of(cls, config: dict[str, Any]) -> "AsyncSettings":
        """The settings of a checked ``AsyncInferenceConfig``."""
        output = config["OutputConfig"]
        failure = output.get("S3FailurePath")
        return cls(output_path=output["S3OutputPath"].rstrip("/"),
                   failure_path=failure.rstrip("/") if failure else None,
                   per_instance=(config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance"),
                   notification=output.get("NotificationConfig") or {})


def check(config: Any, variants: list[dict[str, Any]], shadows: list[dict[str, Any]],
          places: Places) -> dict[str, Any] | None:
    """``AsyncInferenceConfig`` (its members' shapes and ranges are checked already): an output path that can be
    written, not beside serverless or shadow variants (SageMaker's feature exclusions). The config to store."""
    if config is None:
        return None
    serverless = next((v["VariantName"] for v in variants if v.get("ServerlessConfig")), None)
    if serverless is not None:
        raise validation(f"Production variant {serverless} is serverless, and serverless endpoints do not support "
                         f"AsyncInferenceConfig (SageMaker's feature exclusions); remove one of them.")
    if shadows:
        raise validation("Asynchronous inference endpoints do not support ShadowProductionVariants (SageMaker's "
                         "feature exclusions); remove one of them.")
    output = config.get("OutputConfig") or {}
    if not output.get("S3OutputPath"):
        raise validation("AsyncInferenceConfig.OutputConfig.S3OutputPath is required: the folder (s3://bucket/prefix "
                         "in hosting's S3, or file:// under the allowed folders) where results are written.")
    for what, member in ((OUTPUT, "S3OutputPath"), (FAILURE, "S3FailurePath")):
        uri = output.get(member)
        if uri:
            try:
                places.check_bucket(places.check(uri, what), uri, what)
            except LocationError as exc:
                raise validation(str(exc)) from None
    include = (output.get("NotificationConfig") or {}).get("IncludeInferenceResponseIn") or []
    if len(include) > 2 or len(set(include)) != len(include):
        raise validation("NotificationConfig.IncludeInferenceResponseIn lists at most SUCCESS_NOTIFICATION_TOPIC "
                         "and ERROR_NOTIFICATION_TOPIC, each once.")
    return config
