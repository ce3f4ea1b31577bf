"""``DataCaptureConfig`` of an endpoint config: checked as SageMaker checks it (beyond its input shapes), turned
into the :class:`CaptureSettings` the invoke path reads, and summarized for DescribeEndpoint.

Where capture files may go is decided like a transform job's output (``s3://`` is hosting's own store, a
``file://`` URI or path must lie under the allowed model roots), by :class:`~modelport.hosting.locations.Places`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelport.hosting.errors import validation
from modelport.hosting.locations import LocationError, Places

INPUT, OUTPUT, BOTH = "Input", "Output", "InputAndOutput"
DESTINATION = "DataCaptureConfig.DestinationS3Uri"


@dataclass(frozen=True)
class CaptureSettings:
    """What an endpoint captures: whether, how much, where, which halves, and how each content type is encoded."""

    enabled: bool
    percentage: float
    destination: str
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]

    @classmethod
    def of(cls, config: dict[str, Any] | None) -> "CaptureSettings | None":
        """The settings of a stored (already checked) ``DataCaptureConfig``; None when capture is off."""
        if not config or not config.get("EnableCapture", True):
            return None
        modes = {option["CaptureMode"] for option in config.get("CaptureOptions") or []}
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            enabled=True,
            percentage=float(config["InitialSamplingPercentage"]),
            destination=config["DestinationS3Uri"].rstrip("/"),
            capture_input=bool(modes & {INPUT, BOTH}),
            capture_output=bool(modes & {OUTPUT, BOTH}),
            csv_types=frozenset(media_type(t) for t in header.get("CsvContentTypes") or ()),
            json_types=frozenset(media_type(t) for t in header.get("JsonContentTypes") or ()),
        )


def media_type(content_type: str) -> str:
    """``"Text/CSV; charset=utf-8"`` → ``"text/csv"`` (SageMaker matches content types without parameters)."""
    return content_type.split(";", 1)[0].strip().lower()


def check(config: Any, places: Places) -> dict[str, Any] | None:
    """``DataCaptureConfig`` (its members' shapes are checked already): ``EnableCapture`` defaulted to true, and a
    destination capture files can be written to. Returns the config to store (None when absent)."""
    if config is None:
        return None
    uri = config["DestinationS3Uri"]
    try:
        places.check_bucket(places.check(uri, DESTINATION), uri, DESTINATION)
    except LocationError as exc:
        raise validation(str(exc)) from None
    return {"EnableCapture": True, **config}


def summary(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's ``DataCaptureConfig`` (``DataCaptureConfigSummary``) for a stored config, or None."""
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    out = {"EnableCapture": enabled, "CaptureStatus": "Started" if enabled else "Stopped",
           "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
           "DestinationS3Uri": config["DestinationS3Uri"]}
    if config.get("KmsKeyId"):
        out["KmsKeyId"] = config["KmsKeyId"]
    return out
