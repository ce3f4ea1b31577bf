"""The gateway's metrics, counted by ``Edge`` for every API request (labels ``route``, ``model``, ``endpoint``).

``Invocations{route, model, endpoint, status_class}`` (``2xx``, ``4xx``, ...), ``Invocation4XXErrors`` and
``Invocation5XXErrors`` (the gateway's answer), and for requests that called a model ``ModelLatency``
(the Runtime API call, µs) and ``OverheadLatency`` (the gateway's own time around it, µs). ``route`` is
the route's pattern (``/predict/{model}``), never the raw path. Model and endpoint names come from the
request's path, so at most :data:`MAX_SERIES` label sets are kept; later ones count under
``model="_other", endpoint="_other"``. Each gateway process counts its own requests (``--workers N``:
each scrape reports the process that answered it).
"""

from __future__ import annotations

from modelport.metrics import names
from modelport.metrics.series import Histogram, counter_family, histogram_family, render

MAX_SERIES = 1000  # distinct (route, model, endpoint) label sets; the rest are folded into "_other"
OTHER = "_other"
_LABELS = ("route", "model", "endpoint")


class RouteSeries:
    """One (route, model, endpoint)'s answers by status class and its latencies."""

    __slots__ = ("by_class", "model_latency", "overhead_latency")

    def __init__(self) -> None:
        self.by_class = [0] * 6  # index: status // 100 (0: the client left before any answer)
        self.model_latency = Histogram(names.LATENCY_BUCKETS_US)
        self.overhead_latency = Histogram(names.LATENCY_BUCKETS_US)


class GatewayMetrics:
    """Every (route, model, endpoint)'s series, and their rendering for ``GET /metrics``."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self.series: dict[tuple[str, str, str], RouteSeries] = {}

    def record(self, route: str, model: str, endpoint: str, status: int, model_ms: float | None,
               total_seconds: float) -> None:
        """One answered request; ``model_ms`` is the model call's latency when one was made."""
        key = (route, model, endpoint)
        series = self.series.get(key)
        if series is None:
            series = self._add(key)
        series.by_class[status // 100 if 0 <= status < 600 else 0] += 1
        if model_ms is not None:
            micros = model_ms * 1000.0
            series.model_latency.observe(micros)
            series.overhead_latency.observe(max(0.0, total_seconds * 1e6 - micros))

    def _add(self, key: tuple[str, str, str]) -> RouteSeries:
        if len(self.series) >= self.max_series:
            key = (key[0], OTHER, OTHER)
            if key in self.series:
                return self.series[key]
        series = self.series[key] = RouteSeries()
        return series

    def render(self) -> bytes:
        """Every series in Prometheus' text format."""
        items = sorted(self.series.items())
        latency = names.LATENCY_BUCKETS_US
        return render([
            counter_family(names.INVOCATIONS, (*_LABELS, "status_class"),
                           [((*k, f"{c}xx"), n) for k, s in items for c, n in enumerate(s.by_class) if n]),
            counter_family(names.ERRORS_4XX, _LABELS, [(k, s.by_class[4]) for k, s in items]),
            counter_family(names.ERRORS_5XX, _LABELS, [(k, s.by_class[5]) for k, s in items]),
            histogram_family(names.MODEL_LATENCY, _LABELS,
                             [(k, latency, s.model_latency.counts, s.model_latency.total)
                              for k, s in items if any(s.model_latency.counts)]),
            histogram_family(names.OVERHEAD_LATENCY, _LABELS,
                             [(k, latency, s.overhead_latency.counts, s.overhead_latency.total)
                              for k, s in items if any(s.overhead_latency.counts)]),
        ])
