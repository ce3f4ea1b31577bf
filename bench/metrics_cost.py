"""What counting one request costs each part, measured in isolation (no server, no network):

    PYTHONPATH=src .venv/bin/python bench/metrics_cost.py

The A/B of whole stacks (``compare_trees.py --base src --new src --base-env MODELPORT_METRICS=0``) is the
real measure, but on a shared 2-core machine its rounds spread far wider than the few microseconds
metrics add; this gives the added CPU per request directly (the recording call and the clock reads the
hot path adds around it), to set against each part's CPU per request.
"""
from __future__ import annotations

import tempfile
import time
import timeit
from pathlib import Path

from modelport.gateway.metrics import GatewayMetrics
from modelport.hosting.metrics import HostingMetrics
from modelport.runtime import metrics as runtime_metrics

CALLS = 300_000


def per_call_us(statement) -> float:  # noqa: ANN001
    """Best of five runs of CALLS calls, in microseconds per call, less an empty call's cost."""
    empty = min(timeit.repeat(lambda: None, number=CALLS, repeat=5))
    return (min(timeit.repeat(statement, number=CALLS, repeat=5)) - empty) / CALLS * 1e6


def main() -> None:
    path = Path(tempfile.mkdtemp()) / "metrics"
    runtime_metrics.create(path, 2)
    worker = runtime_metrics.RuntimeMetrics(path, 2, 1)
    variant = HostingMetrics().variant("endpoint", "AllTraffic")
    gateway = GatewayMetrics()
    clock = time.perf_counter

    def runtime() -> None:  # measured_invocations: two clock reads and the record
        started = clock()
        worker.record_invocation(200, clock() - started)

    def hosting() -> None:  # _invoke: three clock reads and the record
        started = clock()
        sent = clock()
        now = clock()
        variant.record(200, now - sent, now - started)

    def edge() -> None:  # Edge: one clock read more than before and the record
        gateway.record("/predict/{model}", "mnist-sklearn", "mnist-sklearn", 200, 0.3, clock() - 0.0)

    for name, statement in (("runtime", runtime), ("hosting", hosting), ("gateway", edge)):
        print(f"{name:<8} {per_call_us(statement):6.2f} µs per request")


if __name__ == "__main__":
    main()
