"""Hosting's metrics, measured where hosting forwards invocations (never by scraping instances).

Per variant, as CloudWatch's dimensions (``endpoint``, ``variant``): ``Invocations``,
``Invocation4XXErrors``, ``Invocation5XXErrors`` (the model's status; a worker that died or a timeout
counts as 5XX), ``ModelLatency`` (from sending to the instance until its answer, µs) and
``OverheadLatency`` (hosting's own time around it, µs). Per instance (``endpoint``, ``variant``,
``instance``): ``InvocationsPerInstance`` and ``ModelSetupTime`` (start until ``/ping`` passes, also on
restarts). Multi-model variants add CloudWatch's ``ModelCacheHit`` (0/1 samples: ``_sum / _count`` is the
hit ratio), ``ModelLoadingWaitTime``, ``ModelLoadingTime`` and ``ModelUnloadingTime`` (µs) per variant and
``LoadedModelCount`` per instance. Requests refused before a variant was chosen (no instance ready, an unknown TargetVariant)
count under ``variant=""``.

Series are keyed by name, not by fleet: a blue/green update's new fleet keeps adding to its variant's
counts, so they never go back while the endpoint lives; deleting the endpoint drops its series.

Per asynchronous endpoint (``endpoint``), gauges read from the queue at scrape time (:attr:`HostingMetrics.backlog`):
``ApproximateBacklogSize``, ``ApproximateBacklogSizePerInstance``, ``ApproximateAgeOfOldestRequest`` (s) and
``HasBacklogWithoutCapacity``; and counters (:class:`AsyncSeries`): ``InvocationsProcesssed`` (CloudWatch's
spelling), ``InvocationFailures``, ``ExpiredRequests``, ``NotificationFailures``.
"""

from __future__ import annotations

from collections.abc import Callable

from modelport.metrics import names
from modelport.metrics.series import Histogram, counter_family, gauge_family, histogram_family, render

_VARIANT_LABELS = ("endpoint", "variant")
_INSTANCE_LABELS = ("endpoint", "variant", "instance")
_ENDPOINT_LABELS = ("endpoint",)
# endpoint → (backlog, backlog per instance, age of the oldest request in s, 1 if a backlog has no instance)
BacklogGauges = Callable[[], dict[str, tuple[float, float, float, int]]]


class VariantSeries:
    """One variant's counts and latencies (written on the hot path)."""

    __slots__ = ("invocations", "errors_4xx", "errors_5xx", "model_latency", "overhead_latency", "capture_dropped",
                 "shadow_dropped")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors_4xx = 0
        self.errors_5xx = 0
        self.model_latency = Histogram(names.LATENCY_BUCKETS_US)
        self.overhead_latency = Histogram(names.LATENCY_BUCKETS_US)
        self.capture_dropped = 0  # data capture records dropped (queue full, destination not writable)
        self.shadow_dropped = 0  # copies not sent to this shadow variant (too many in flight)

    def record(self, status: int, model_seconds: float, total_seconds: float) -> None:
        """One invocation answered with ``status`` (the model's, or 500 for a dead worker, 504 for a timeout)."""
        self.invocations += 1
        if status >= 500:
            self.errors_5xx += 1
        elif status >= 400:
            self.errors_4xx += 1
        self.model_latency.observe(model_seconds * 1e6)
        self.overhead_latency.observe(max(0.0, total_seconds - model_seconds) * 1e6)

    def refused(self, status: int) -> None:
        """One invocation refused before it reached a model (no latency to report)."""
        self.invocations += 1
        if status >= 500:
            self.errors_5xx += 1
        else:
            self.errors_4xx += 1


class InstanceSeries:
    """One instance's invocations, model setup times and (multi-model) loaded targets."""

    __slots__ = ("invocations", "setup", "loaded_models")

    def __init__(self) -> None:
        self.invocations = 0
        self.setup = Histogram(names.SETUP_BUCKETS_US)
        self.loaded_models: int | None = None  # set for instances of multi-model variants


class MultiModelSeries:
    """One multi-model variant's cache hits and load, wait and unload times (µs)."""

    __slots__ = ("cache_hit", "loading_wait", "loading", "unloading")

    def __init__(self) -> None:
        self.cache_hit = Histogram(names.CACHE_HIT_BUCKETS)
        self.loading_wait = Histogram(names.SETUP_BUCKETS_US)
        self.loading = Histogram(names.SETUP_BUCKETS_US)
        self.unloading = Histogram(names.SETUP_BUCKETS_US)


class AsyncSeries:
    """One asynchronous endpoint's counts (written by its workers)."""

    __slots__ = ("processed", "failures", "expired", "notification_failures")

    def __init__(self) -> None:
        self.processed = 0
        self.failures = 0
        self.expired = 0
        self.notification_failures = 0


class HostingMetrics:
    """Every live endpoint's series, and their rendering for ``GET /metrics``."""

    def __init__(self) -> None:
        self.variants: dict[tuple[str, str], VariantSeries] = {}
        self.instances: dict[tuple[str, str, str], InstanceSeries] = {}
        self.backlog: BacklogGauges | None = None  # set by asynchronous inference
        self.async_endpoints: dict[tuple[str], AsyncSeries] = {}
        self.multi_model: dict[tuple[str, str], MultiModelSeries] = {}

    def variant(self, endpoint: str, variant: str) -> VariantSeries:
        """The series of ``variant`` of ``endpoint`` (created at its first fleet; ``""``: refused before routing)."""
        return _kept(self.variants, (endpoint, variant), VariantSeries)

    def instance(self, endpoint: str, variant: str, index: int) -> InstanceSeries:
        """The series of instance ``index`` of ``variant`` (created with the instance)."""
        return _kept(self.instances, (endpoint, variant, str(index)), InstanceSeries)

    def async_endpoint(self, endpoint: str) -> AsyncSeries:
        """The asynchronous counts of ``endpoint`` (created at its first result)."""
        return _kept(self.async_endpoints, (endpoint,), AsyncSeries)

    def multi_model_variant(self, endpoint: str, variant: str) -> MultiModelSeries:
        """The multi-model series of ``variant`` of ``endpoint``."""
        return _kept(self.multi_model, (endpoint, variant), MultiModelSeries)

    def forget(self, endpoint: str) -> None:
        """Drop a deleted endpoint's series."""
        self.async_endpoints.pop((endpoint,), None)
        self.variants = {k: v for k, v in self.variants.items() if k[0] != endpoint}
        self.instances = {k: v for k, v in self.instances.items() if k[0] != endpoint}
        self.multi_model = {k: v for k, v in self.multi_model.items() if k[0] != endpoint}

    def render(self) -> bytes:
        """Every series in Prometheus' text format."""
        variants = sorted(self.variants.items())
        instances = sorted(self.instances.items())
        latency = names.LATENCY_BUCKETS_US
        backlog = sorted((self.backlog() if self.backlog is not None else {}).items())
        gauges = [gauge_family(name, _ENDPOINT_LABELS, [((endpoint,), values[i]) for endpoint, values in backlog])
                  for i, name in enumerate(names.BACKLOG_GAUGES)]
        queues = sorted(self.async_endpoints.items())
        counters = [counter_family(name, _ENDPOINT_LABELS, [(k, getattr(s, attr)) for k, s in queues])
                    for name, attr in ((names.ASYNC_PROCESSED, "processed"), (names.ASYNC_FAILURES, "failures"),
                                       (names.ASYNC_EXPIRED, "expired"),
                                       (names.ASYNC_NOTIFICATION_FAILURES, "notification_failures"))]
        mme = sorted(self.multi_model.items())

        def timing(name: str, pick) -> object:
            return histogram_family(name, _VARIANT_LABELS, [(k, pick(s).bounds, pick(s).counts, pick(s).total)
                                                            for k, s in mme])

        return render([*gauges, *counters,
            counter_family(names.INVOCATIONS, _VARIANT_LABELS, [(k, s.invocations) for k, s in variants]),
            counter_family(names.ERRORS_4XX, _VARIANT_LABELS, [(k, s.errors_4xx) for k, s in variants]),
            counter_family(names.ERRORS_5XX, _VARIANT_LABELS, [(k, s.errors_5xx) for k, s in variants]),
            histogram_family(names.MODEL_LATENCY, _VARIANT_LABELS,
                             [(k, latency, s.model_latency.counts, s.model_latency.total) for k, s in variants]),
            histogram_family(names.OVERHEAD_LATENCY, _VARIANT_LABELS,
                             [(k, latency, s.overhead_latency.counts, s.overhead_latency.total) for k, s in variants]),
            counter_family(names.CAPTURE_DROPPED, _VARIANT_LABELS, [(k, s.capture_dropped) for k, s in variants]),
            counter_family(names.SHADOW_DROPPED, _VARIANT_LABELS, [(k, s.shadow_dropped) for k, s in variants]),
            counter_family(names.INVOCATIONS_PER_INSTANCE, _INSTANCE_LABELS,
                           [(k, s.invocations) for k, s in instances]),
            histogram_family(names.MODEL_SETUP_TIME, _INSTANCE_LABELS,
                             [(k, names.SETUP_BUCKETS_US, s.setup.counts, s.setup.total) for k, s in instances]),
            timing(names.MODEL_CACHE_HIT, lambda s: s.cache_hit),
            timing(names.MODEL_LOADING_WAIT_TIME, lambda s: s.loading_wait),
            timing(names.MODEL_LOADING_TIME, lambda s: s.loading),
            timing(names.MODEL_UNLOADING_TIME, lambda s: s.unloading),
            gauge_family(names.LOADED_MODEL_COUNT, _INSTANCE_LABELS,
                         [(k, s.loaded_models) for k, s in instances if s.loaded_models is not None]),
        ])


def _kept(series: dict, key: tuple, make):  # noqa: ANN001, ANN202 - one helper for four typed callers
    """The series under ``key``, made with ``make()`` the first time."""
    found = series.get(key)
    if found is None:
        found = series[key] = make()
    return found
