"""TorchServe handler of the PyTorch race: the front end's batch of digits (JSON or .npy) → one forward pass.

Packed into mnist.mar with digit_cnn.py and digit_work.py beside it (torch-model-archiver
--extra-files) and model.pth as the serialized file. TorchServe's Java front end batches requests
(batchSize / maxBatchDelay in config.properties) and hands this handler a list of requests; the
answer is one JSON object per request.
"""
import os

import numpy as np
from ts.torch_handler.base_handler import BaseHandler


class DigitHandler(BaseHandler):
    """Decode each request, stack, predict once, answer each."""

    def initialize(self, context):
        """Load the CNN from the model folder TorchServe unpacked the .mar into."""
        import digit_work

        model_dir = context.system_properties.get("model_dir")
        self.work = digit_work
        self.model = digit_work.load_model(threads=int(os.environ.get("BENCH_TORCH_THREADS", "1")),
                                           weights=os.path.join(model_dir, "model.pth"))
        self.initialized = True

    def preprocess(self, data):
        """TorchServe already parsed JSON bodies into dicts; .npy bodies arrive as bytes."""
        digits = []
        for row in data:
            body = row.get("data") if row.get("data") is not None else row.get("body")
            if isinstance(body, dict):
                digits.append(self.work.from_pixels(body["pixels"]))
            else:
                digits.append(self.work.decode(bytes(body), "application/x-npy"))
        return np.stack(digits)

    def inference(self, data, *args, **kwargs):
        """One forward pass for the whole batch."""
        return self.work.predict(self.model, data)

    def postprocess(self, data):
        """One answer per request, in order."""
        return [self.work.answer(row) for row in data]
