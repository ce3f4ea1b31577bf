"""The invoke path's one hook into capture and shadow traffic (:class:`Tap`, one per serving endpoint, None when
the endpoint neither captures nor has a shadow variant, so such endpoints pay nothing).

It runs after the production answer is ready and does no I/O: it decides whether to capture (sampling with
``InitialSamplingPercentage``), appends the event to the capture queue, and hands a copy to the shadow variant.
A request that is captured is captured for its shadow copy too, under the same ``eventId``, so the two pair up.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from modelport.hosting.capture.config import CaptureSettings
from modelport.hosting.capture.records import DEFAULT_CONTENT_TYPE, Event
from modelport.hosting.capture.writer import CaptureWriter
from modelport.hosting.shadow import ShadowTraffic

INFERENCE_ID_HEADER = "x-amzn-sagemaker-inference-id"


class Tap:
    """Capture and shadow copies for one endpoint's invocations."""

    def __init__(self, endpoint: str, capture: CaptureSettings | None, writer: CaptureWriter,
                 shadow: ShadowTraffic | None) -> None:
        self.endpoint = endpoint
        self.capture = capture
        self.writer = writer
        self.shadow = shadow

    def __call__(self, headers: Any, forward: list[tuple[str, str]], body: bytes, variant: str, upstream: Any) -> None:
        """One invocation ``variant`` answered with ``upstream`` (any status; only 2xx answers are captured)."""
        event = None
        settings = self.capture
        if settings is not None and (settings.percentage >= 100.0 or random.random() * 100.0 < settings.percentage):
            event = Event(endpoint=self.endpoint, variant=variant, event_id=str(uuid.uuid4()),
                          inference_id=headers.get(INFERENCE_ID_HEADER), when=time.time(),
                          input_type=headers.get("content-type", DEFAULT_CONTENT_TYPE), input_body=body,
                          output_type=upstream.headers.get("content-type", DEFAULT_CONTENT_TYPE),
                          output_body=upstream.body, settings=settings)
            if 200 <= upstream.status < 300:
                self.writer.offer(event)
            else:
                event = None  # an error is not captured, nor is its shadow copy's answer
        if self.shadow is not None:
            self.shadow.copy(forward, body, event)


def make_tap(endpoint: str, fleets: list[Any], writer: CaptureWriter, timeout: float) -> Tap | None:
    """The tap for an endpoint serving ``fleets`` (production and shadow), or None when it needs none."""
    production = [f for f in fleets if not f.shadow]
    shadows = [f for f in fleets if f.shadow]
    capture = CaptureSettings.of(fleets[0].capture) if fleets else None
    shadow = ShadowTraffic(production[0], shadows[0], timeout, writer) if production and shadows else None
    if capture is None and shadow is None:
        return None
    return Tap(endpoint, capture, writer, shadow)
