"""Notifications of asynchronous results: the JSON SageMaker publishes to the config's SNS topics, posted to
``MODELPORT_ASYNC_NOTIFY_URL`` (a local webhook standing in for SNS).

The success message is SageMaker's documented one (``invocationStatus`` ``Completed``, ``responseParameters``
with the output's content type and location). SageMaker's failure message is not documented: here it is the
same document with ``invocationStatus`` ``Failed``, ``failureReason`` and ``responseParameters.failureLocation``.
Each message also names the topic it would go to (``topicArn``: the config's SuccessTopic or ErrorTopic, or
absent when the config names none; the webhook gets every result either way).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from typing import Any

import orjson

log = logging.getLogger(__name__)

POST_TIMEOUT_S = 5.0


def _timestamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def message(*, region: str, endpoint: str, inference_id: str, received: float, input_location: str | None,
            content_type: str | None, ok: bool, location: str, response_type: str | None, reason: str | None,
            notification: dict[str, Any]) -> dict[str, Any]:
    """The notification of one result."""
    request = {"endpointName": endpoint, "inputLocation": input_location or ""}
    if content_type:
        request["contentType"] = content_type
    out: dict[str, Any] = {
        "awsRegion": region, "eventTime": _timestamp(time.time()), "receivedTime": _timestamp(received),
        "invocationStatus": "Completed" if ok else "Failed", "requestParameters": request,
        "responseParameters": ({"contentType": response_type or "application/octet-stream", "outputLocation": location}
                               if ok else {"failureLocation": location}),
        "inferenceId": inference_id, "eventVersion": "1.0", "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult"}
    if not ok:
        out["failureReason"] = reason or ""
    topic = notification.get("SuccessTopic" if ok else "ErrorTopic")
    if topic:
        out["topicArn"] = topic
    return out


def post(url: str, notice: dict[str, Any]) -> bool:
    """POST one notification as JSON (blocking: call it in a thread); whether the webhook took it (2xx)."""
    request = urllib.request.Request(url, data=orjson.dumps(notice), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_S) as response:  # noqa: S310 - the operator's URL
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("async inference: the notification webhook %s failed: %s", url, exc)
        return False
