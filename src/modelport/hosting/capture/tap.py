"""The invoke path's one hook into capture and shadow traffic (:class:`Tap`, one per serving endpoint, None when
the endpoint neither captures nor has a shadow variant, so such endpoints pay nothing).

It runs after the production answer is ready and does no I/O: it decides whether to capture (sampling with
``InitialSamplingPercentage``), appends the event to the capture queue, and hands a copy to the shadow variant.
A request that is captured is captured for its shadow copy too, under the same ``eventId``, so the two pair up.
"""

from __future__ import annotations

import random
import time
from typing import Any

from modelport.hosting.capture.config import CaptureSettings
from modelport.hosting.capture.records import DEFAULT_CONTENT_TYPE, Event
from modelport.hosting.capture.writer import CaptureWriter
from modelport.hosting.shadow import ShadowTraffic

INFERENCE_ID_HEADER = "x-amzn-sagemaker-inference-id"
_random = random.random
_random_bits = random.getrandbits  # the eventId's bits (made a UUID when written: uuid4() costs µs here)


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
        if settings is not None and (settings.percentage >= 100.0 or _random() * 100.0 < settings.percentage):
            event = Event(self.endpoint, variant, _random_bits(128), headers.get(INFERENCE_ID_HEADER), time.time(),
                          headers.get("content-type", DEFAULT_CONTENT_TYPE), body,
                          upstream.headers.get("content-type", DEFAULT_CONTENT_TYPE), upstream.body, settings)
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
