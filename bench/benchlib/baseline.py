"""The work itself, without any server: json.loads + predict_proba + json.dumps in this process."""
from __future__ import annotations

import json
import time

import numpy as np


def bare_work_ms(model, body: bytes, repeats: int = 2000) -> dict:
    """Median and p99 milliseconds of parse → predict_proba → serialize for one body, stdlib json."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        rows = np.asarray(json.loads(body), dtype=np.float64)
        json.dumps(model.predict_proba(rows).tolist())
        times.append(time.perf_counter() - started)
    times_ms = np.array(times) * 1000
    return {"p50_ms": round(float(np.median(times_ms)), 4), "p99_ms": round(float(np.percentile(times_ms, 99)), 4),
            "repeats": repeats}
