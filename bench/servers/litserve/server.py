"""LitServe peer: a LitAPI doing JSON rows → predict_proba → JSON, 2 inference workers on CPU.

Usage: python server.py PORT   (model path from BENCH_MODEL)
LitServe defaults to as many API-server processes as inference workers (here 2).
"""
import os
import sys

import joblib
import litserve as ls
import numpy as np


class MnistAPI(ls.LitAPI):
    """scikit-learn MNIST LogisticRegression."""

    def setup(self, device):
        """Load the model once per inference worker."""
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    def decode_request(self, request):
        """{"instances": [[784 floats]]} → array."""
        return np.asarray(request["instances"], dtype=np.float64)

    def predict(self, x):
        """Class probabilities."""
        return self.model.predict_proba(x)

    def encode_response(self, output):
        """Array → {"probabilities": [[10 floats]]}."""
        return {"probabilities": output.tolist()}


if __name__ == "__main__":
    server = ls.LitServer(MnistAPI(), accelerator="cpu", workers_per_device=2)
    server.run(host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", generate_client_file=False)
