"""modelport bench handler (SageMaker contract): JSON rows → predict_proba → JSON.

The same work as every peer. It parses and writes JSON with orjson when it is installed (any
SageMaker user script can do the same), else with the standard library.
"""
import os

import joblib
import numpy as np

try:
    import orjson

    def _loads(body):
        return orjson.loads(body)

    def _dumps(value):
        return orjson.dumps(value)

except ImportError:  # pragma: no cover - orjson is in modelport's own dependencies
    import json

    def _loads(body):
        return json.loads(body)

    def _dumps(value):
        return json.dumps(value).encode()


def model_fn(model_dir):
    """Load the scikit-learn model."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, content_type):
    """[[784 floats], ...] (application/json) → float64 rows."""
    rows = np.asarray(_loads(request_body), dtype=np.float64)
    return rows.reshape(1, -1) if rows.ndim == 1 else rows


def predict_fn(data, model):
    """Class probabilities."""
    return model.predict_proba(data)


def predict_batch_fn(inputs, model):
    """Adaptive batching (the `modelport-batch` row): every request's rows in one predict_proba call."""
    probabilities = model.predict_proba(np.concatenate(inputs))
    return np.split(probabilities, np.cumsum([len(rows) for rows in inputs])[:-1])


def output_fn(prediction, accept):
    """Probabilities → JSON [[10 floats], ...]."""
    return _dumps(prediction.tolist())
