"""BentoML peer with adaptive batching: as service.py, the API marked batchable (rows stacked along axis 0).

Two worker processes (`workers=2`), access logging off; batches of up to 32 requests within a 1 s latency
budget, as BentoML's adaptive-batching guide configures it. The model path comes from BENCH_MODEL.
"""
import os

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=2, logging={"access": {"enabled": False}})
class MnistClassifierBatch:
    """scikit-learn MNIST LogisticRegression, batched."""

    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api(batchable=True, batch_dim=0, max_batch_size=32, max_latency_ms=1000)
    def predict(self, instances: np.ndarray) -> np.ndarray:
        """Class probabilities for each row of every request in the batch."""
        return self.model.predict_proba(instances)
