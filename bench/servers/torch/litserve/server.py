"""LitServe peer of the PyTorch race: {"pixels": [784 floats]} → the CNN, LitServe's batching on.

Usage: python server.py PORT   (model folder from BENCH_TORCH_MODEL)

Configuration: `LitAPI(max_batch_size=16, batch_timeout=0.001)` (batching on), `LitServer(accelerator="cpu",
workers_per_device=2, fast_queue=True)` (two inference workers, ZeroMQ response queue; by default as many
API-server processes), one torch thread per inference worker, log level warning. LitServe's API server
reads every body as JSON (or a form), so this peer has no .npy row.
"""
import os
import sys

import litserve as ls
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAX_BATCH_SIZE = 16
BATCH_TIMEOUT_S = 0.001


class DigitAPI(ls.LitAPI):
    """The CNN, batched by LitServe."""

    def setup(self, device):
        """Load the model once per inference worker."""
        import digit_work

        self.work = digit_work
        self.model = digit_work.load_model(threads=1)

    def decode_request(self, request):
        """{"pixels": [784 floats]} → (784,) float32."""
        return self.work.from_pixels(request["pixels"])

    def batch(self, inputs):
        """The digits that arrived together, stacked."""
        return np.stack(inputs)

    def predict(self, x):
        """One forward pass for the batch."""
        return self.work.predict(self.model, x)

    def unbatch(self, output):
        """One row of probabilities per request."""
        return list(output)

    def encode_response(self, output):
        """{"label", "probabilities"}."""
        return self.work.answer(output)


if __name__ == "__main__":
    api = DigitAPI(max_batch_size=MAX_BATCH_SIZE, batch_timeout=BATCH_TIMEOUT_S)
    server = ls.LitServer(api, accelerator="cpu", workers_per_device=2, fast_queue=True)
    server.run(host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", generate_client_file=False)
