"""One capture record, as SageMaker writes it (one JSON object per line of a ``.jsonl`` file)::

    {"captureData": {"endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                                       "data": "{...}", "encoding": "JSON"},
                     "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                        "data": "{...}", "encoding": "JSON"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2024-01-19T19:27:57Z", "inferenceId": "..."},
     "eventVersion": "0"}

Each half is encoded from its observed content type: ``CSV`` if it is one of ``CsvContentTypes``, ``JSON`` if one
of ``JsonContentTypes`` (parameters ignored), else base64 (``BASE64``). A body that is not UTF-8 is base64 too.
``inferenceId`` is there only when the request carried one.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import orjson

from modelport.hosting.capture.config import CaptureSettings, media_type

CSV, JSON, BASE64 = "CSV", "JSON", "BASE64"
EVENT_VERSION = "0"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class Event:
    """What the invoke path hands over for one captured invocation (formatted later, off the hot path).

    ``event_key`` is 128 random bits, turned into the ``eventId`` UUID only when the record is written: a
    production event and its shadow copy share it, so their records pair up."""

    __slots__ = ("endpoint", "variant", "event_key", "inference_id", "when", "input_type", "input_body",
                 "output_type", "output_body", "settings")

    def __init__(self, endpoint: str, variant: str, event_key: int, inference_id: str | None, when: float,
                 input_type: str, input_body: bytes, output_type: str, output_body: bytes,
                 settings: CaptureSettings) -> None:
        self.endpoint, self.variant, self.event_key, self.inference_id, self.when = (
            endpoint, variant, event_key, inference_id, when)
        self.input_type, self.input_body, self.output_type, self.output_body = (
            input_type, input_body, output_type, output_body)
        self.settings = settings

    @property
    def size(self) -> int:
        """Bytes it holds (what the queue's byte bound counts)."""
        return len(self.input_body) + len(self.output_body)

    @property
    def event_id(self) -> str:
        """SageMaker's ``eventId``: a UUID (version 4) made of ``event_key``."""
        return str(uuid.UUID(int=self.event_key, version=4))


def inference_time(when: float) -> str:
    """SageMaker's ``inferenceTime``: UTC to the second, ``2024-01-19T19:27:57Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _half(body: bytes, content_type: str, mode: str, settings: CaptureSettings) -> dict[str, Any]:
    kind = media_type(content_type)
    encoding = CSV if kind in settings.csv_types else JSON if kind in settings.json_types else BASE64
    if encoding != BASE64:
        try:
            return {"observedContentType": content_type, "mode": mode, "data": body.decode("utf-8"),
                    "encoding": encoding}
        except UnicodeDecodeError:
            pass
    return {"observedContentType": content_type, "mode": mode, "data": base64.b64encode(body).decode("ascii"),
            "encoding": BASE64}


def to_line(event: Event) -> bytes:
    """The record of ``event`` as one JSON line (with its newline)."""
    settings = event.settings
    data: dict[str, Any] = {}
    if settings.capture_input:
        data["endpointInput"] = _half(event.input_body, event.input_type, "INPUT", settings)
    if settings.capture_output:
        data["endpointOutput"] = _half(event.output_body, event.output_type, "OUTPUT", settings)
    meta: dict[str, Any] = {"eventId": event.event_id, "inferenceTime": inference_time(event.when)}
    if event.inference_id is not None:
        meta["inferenceId"] = event.inference_id
    return orjson.dumps({"captureData": data, "eventMetadata": meta, "eventVersion": EVENT_VERSION}) + b"\n"


def body(half: dict[str, Any]) -> bytes:
    """The bytes of a record's ``endpointInput`` or ``endpointOutput`` (any encoding SageMaker writes)."""
    data = half.get("data", "")
    if str(half.get("encoding", "")).upper() in (CSV, JSON):
        return data.encode("utf-8")
    return base64.b64decode(data)


def pair_key(record: dict[str, Any]) -> str | None:
    """What pairs a production record with its shadow's: ``inferenceId`` when given, else ``eventId``."""
    meta = record.get("eventMetadata") or {}
    return meta.get("inferenceId") or meta.get("eventId")
