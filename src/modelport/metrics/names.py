"""The exported metric names (CloudWatch's SageMaker names), their help texts, units and buckets.

Latencies are in microseconds, as CloudWatch reports ``ModelLatency`` and ``OverheadLatency``. Counters
are exposed with Prometheus' ``_total`` suffix (``Invocations_total``), histograms as ``_bucket``,
``_sum`` and ``_count``.
"""

from __future__ import annotations

INVOCATIONS = "Invocations"
ERRORS_4XX = "Invocation4XXErrors"
ERRORS_5XX = "Invocation5XXErrors"
MODEL_LATENCY = "ModelLatency"
OVERHEAD_LATENCY = "OverheadLatency"
INVOCATIONS_PER_INSTANCE = "InvocationsPerInstance"
MODEL_SETUP_TIME = "ModelSetupTime"
# multi-model endpoints (CloudWatch's MME metrics)
MODEL_CACHE_HIT = "ModelCacheHit"
MODEL_LOADING_WAIT_TIME = "ModelLoadingWaitTime"
MODEL_LOADING_TIME = "ModelLoadingTime"
MODEL_UNLOADING_TIME = "ModelUnloadingTime"
LOADED_MODEL_COUNT = "LoadedModelCount"
# batching's own (no CloudWatch counterpart)
BATCH_QUEUE_WAIT = "BatchQueueWait"
BATCH_SIZE = "BatchSize"
BATCH_RELEASES = "BatchReleases"
# data capture's and shadow variants' own (no CloudWatch counterpart)
CAPTURE_DROPPED = "CaptureRecordsDropped"
SHADOW_DROPPED = "ShadowRequestsDropped"

# asynchronous inference's backlog, per endpoint (CloudWatch's names; gauges)
BACKLOG = "ApproximateBacklogSize"
BACKLOG_PER_INSTANCE = "ApproximateBacklogSizePerInstance"
OLDEST_AGE = "ApproximateAgeOfOldestRequest"
BACKLOG_WITHOUT_CAPACITY = "HasBacklogWithoutCapacity"
ASYNC_PROCESSED = "InvocationsProcesssed"  # sic: CloudWatch's own spelling
ASYNC_FAILURES = "InvocationFailures"
ASYNC_EXPIRED = "ExpiredRequests"
ASYNC_NOTIFICATION_FAILURES = "NotificationFailures"

RELEASE_REASONS = ("full", "delay", "idle")  # why the batcher released a batch: BatchReleases{reason}

COUNTERS = (INVOCATIONS, ERRORS_4XX, ERRORS_5XX, INVOCATIONS_PER_INSTANCE, BATCH_RELEASES, CAPTURE_DROPPED,
            SHADOW_DROPPED, ASYNC_PROCESSED, ASYNC_FAILURES, ASYNC_EXPIRED, ASYNC_NOTIFICATION_FAILURES)
BACKLOG_GAUGES = (BACKLOG, BACKLOG_PER_INSTANCE, OLDEST_AGE, BACKLOG_WITHOUT_CAPACITY)  # per async endpoint, in order
GAUGES = (*BACKLOG_GAUGES, LOADED_MODEL_COUNT)
HISTOGRAMS = (MODEL_LATENCY, OVERHEAD_LATENCY, MODEL_SETUP_TIME, BATCH_QUEUE_WAIT, BATCH_SIZE, MODEL_CACHE_HIT,
              MODEL_LOADING_WAIT_TIME, MODEL_LOADING_TIME, MODEL_UNLOADING_TIME)

HELP = {
    INVOCATIONS: "Requests sent to the model (CloudWatch: Invocations).",
    ERRORS_4XX: "Requests the model answered with a 4xx status (CloudWatch: Invocation4XXErrors).",
    ERRORS_5XX: "Requests the model answered with a 5xx status, or whose worker died or timed out "
                "(CloudWatch: Invocation5XXErrors).",
    MODEL_LATENCY: "Time the model took to answer, in microseconds (CloudWatch: ModelLatency).",
    OVERHEAD_LATENCY: "Time added around the model's answer, in microseconds (CloudWatch: OverheadLatency).",
    INVOCATIONS_PER_INSTANCE: "Requests sent to each instance (CloudWatch: InvocationsPerInstance).",
    MODEL_SETUP_TIME: "Time from starting a model server (hosting: an instance; runtime: a worker) until it "
                      "serves, in microseconds (CloudWatch: ModelSetupTime).",
    MODEL_CACHE_HIT: "1 per multi-model invocation whose target was already loaded, else 0; _sum / _count is "
                     "CloudWatch's Average, the hit ratio (CloudWatch: ModelCacheHit).",
    MODEL_LOADING_WAIT_TIME: "Time a multi-model invocation waited for its target to be fetched and loaded, in "
                             "microseconds (CloudWatch: ModelLoadingWaitTime).",
    MODEL_LOADING_TIME: "Time the container's load call took for one target, in microseconds "
                        "(CloudWatch: ModelLoadingTime).",
    MODEL_UNLOADING_TIME: "Time the container's unload call took for one target, in microseconds "
                          "(CloudWatch: ModelUnloadingTime).",
    LOADED_MODEL_COUNT: "Targets loaded on each instance of a multi-model endpoint (CloudWatch: LoadedModelCount).",
    BATCH_QUEUE_WAIT: "Time a request waited in the batch queue before its batch was predicted, in microseconds.",
    BATCH_SIZE: "Requests per predicted batch.",
    BATCH_RELEASES: "Batches released, by reason: full (max batch size), delay (the oldest waited the "
                    "max delay), idle (the model was idle and nothing else waited).",
    CAPTURE_DROPPED: "Data capture records dropped because the capture queue was full or the destination could "
                     "not be written.",
    SHADOW_DROPPED: "Copies of requests not sent to a shadow variant because too many copies were in flight.",
    BACKLOG: "Asynchronous requests queued or being processed (CloudWatch: ApproximateBacklogSize).",
    BACKLOG_PER_INSTANCE: "ApproximateBacklogSize divided by the endpoint's instances (by 1 when it has none) "
                          "(CloudWatch: ApproximateBacklogSizePerInstance).",
    OLDEST_AGE: "Seconds since the oldest queued or running asynchronous request arrived "
                "(CloudWatch: ApproximateAgeOfOldestRequest).",
    ASYNC_PROCESSED: "Asynchronous requests answered, successfully or not (CloudWatch: InvocationsProcesssed, sic).",
    ASYNC_FAILURES: "Asynchronous requests whose result is a failure object (CloudWatch: InvocationFailures).",
    ASYNC_EXPIRED: "Asynchronous requests failed because they outlived their RequestTTLSeconds in the queue "
                   "(CloudWatch: ExpiredRequests).",
    ASYNC_NOTIFICATION_FAILURES: "Asynchronous result notifications the webhook did not take "
                                 "(CloudWatch: NotificationFailures).",
    BACKLOG_WITHOUT_CAPACITY: "1 when asynchronous requests wait and the endpoint has no instance, else 0 "
                              "(CloudWatch: HasBacklogWithoutCapacity).",
}

# 50 µs .. 60 s: a fast scikit-learn row (~0.1 ms) to SageMaker's 60 s invocation timeout
LATENCY_BUCKETS_US = (50.0, 100.0, 200.0, 300.0, 500.0, 750.0, 1e3, 2e3, 3e3, 5e3, 7.5e3, 1e4, 2.5e4, 5e4,
                      1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 3e7, 6e7)
SETUP_BUCKETS_US = (1e5, 2.5e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 3e7, 6e7, 1.2e8, 3e8)  # 0.1 s .. 5 min
CACHE_HIT_BUCKETS = (0.5,)  # ModelCacheHit's samples are 0 or 1
BATCH_SIZE_BUCKETS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)


def exported_samples() -> frozenset[str]:
    """Every sample name modelport can export (what a dashboard may query)."""
    names = {f"{name}_total" for name in COUNTERS}
    names.update(f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count"))
    names.update(GAUGES)
    return frozenset(names)


def status_class(status: int) -> str:
    """``200`` → ``"2xx"``."""
    return f"{status // 100}xx"
