"""The scikit-learn race's rows with adaptive batching on: modelport, MLServer and BentoML.

Each is the plain row's server with its own batching switched on as its documentation says, and the same
request (one row per request): modelport ``--max-batch-size``/``--max-batch-delay-ms`` with the bench script's
``predict_batch_fn``; MLServer ``max_batch_size``/``max_batch_time`` in model-settings.json; BentoML
``@bentoml.api(batchable=True, max_batch_size, max_latency_ms)``.
"""
from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .servers import Server

# modelport's batching in this race: max 32 requests per call, 2 ms delay (bench/README.md says how chosen)
MODELPORT_BATCH = ("--max-batch-size", "32", "--max-batch-delay-ms", "2")


def batch_rows(plain: ModuleType) -> list[Server]:
    """The three rows, built from the plain rows and launchers of ``plain`` (``benchlib.servers``)."""

    def row(name: str, title: str, config: str, launch) -> Server:
        base = plain.SERVERS[name.removesuffix("-batch")]
        return plain.Server(name=name, title=title, config=config, venv=base.venv, packages=base.packages,
                            path=base.path, content_type=base.content_type, body=base.body, parse=base.parse,
                            launch=launch, startup_timeout=base.startup_timeout)

    return [
        row("modelport-batch", "modelport batching",
            "as `modelport`, plus `--max-batch-size 32 --max-batch-delay-ms 2`; the bench script's `predict_batch_fn` "
            "stacks the requests' rows into one `predict_proba` call",
            lambda ctx, port: plain._launch_modelport(ctx, port, "modelport-batch", MODELPORT_BATCH)),
        row("mlserver-batch", "MLServer 1.7 batching",
            "as `mlserver`, plus adaptive batching in model-settings.json: `max_batch_size: 32`, "
            "`max_batch_time: 0.002` (s)",
            lambda ctx, port: plain._launch_mlserver(ctx, port, "mlserver-batch", "model-settings-batch.json")),
        row("bentoml-batch", "BentoML batching",
            "as `bentoml`, with `@bentoml.api(batchable=True, max_batch_size=32, max_latency_ms=1000)` "
            "(`servers/bentoml/batch_service.py`)",
            lambda ctx, port: plain._launch_bentoml(ctx, port, "bentoml-batch", "batch_service:MnistClassifierBatch")),
    ]
