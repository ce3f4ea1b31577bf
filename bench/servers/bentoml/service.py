"""BentoML peer: a service with one API taking a NumPy array (JSON list) and returning predict_proba.

Two worker processes (`workers=2`); per-request access logging off, as for every server here. The model path comes from BENCH_MODEL.
"""
import os

import bentoml
import joblib
import numpy as np


@bentoml.service(workers=2, logging={"access": {"enabled": False}})
class MnistClassifier:
    """scikit-learn MNIST LogisticRegression."""

    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api
    def predict(self, instances: np.ndarray) -> np.ndarray:
        """Class probabilities for each row."""
        return self.model.predict_proba(instances)
