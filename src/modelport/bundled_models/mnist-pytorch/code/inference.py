"""SageMaker handlers of the `mnist-pytorch` model: a small CNN (state dict in model.pth) that reads 28×28 digits.

Runs unmodified in SageMaker's PyTorch container and in modelport's runtime. The network is defined in
`digit_cnn.py` beside this file; the request codec is the shared `mnist_io.py` (with
`mnist_preprocessing.py` and `handler_utils.py`), copied into code/ at pack time. Accepts JSON
({"pixels"}, {"instances"}, {"image": base64}), CSV rows of 784 values, NPY (N×784 or N×28×28) and raw
PNG/JPEG bytes; answers {"predictions": [{"label", "probabilities"}]} (or CSV / NPY).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the shared modules beside this file

import numpy as np  # noqa: E402
import torch  # noqa: E402

from digit_cnn import DigitCNN, for_inference  # noqa: E402
from mnist_io import decode_digits, encode_predictions  # noqa: E402

BATCH = 512


def model_fn(model_dir):
    """Build the network, load its weights from model.pth (CPU or the first GPU) and compile it for serving."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = DigitCNN()
    state = torch.load(os.path.join(model_dir, "model.pth"), map_location=device, weights_only=True)
    model.load_state_dict(state)
    return for_inference(model.to(device))


def input_fn(request_body, content_type):
    """Decode the request into an (N, 784) float32 array of pixels in 0..1."""
    return decode_digits(request_body, content_type)


def predict_fn(data, model):
    """Class probabilities, (N, 10), column k for digit k."""
    device = getattr(model, "device", None) or next(model.parameters()).device  # InferenceCNN says: the CPU
    with torch.inference_mode():
        pixels = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)).view(-1, 1, 28, 28)
        if device.type == "cpu" and len(pixels) <= BATCH:
            # the common case in one call: slicing and moving the tensor cost ~17 us per request, ~6 % of one digit
            return torch.softmax(model(pixels), dim=1).numpy()
        out = [torch.softmax(model(pixels[start: start + BATCH].to(device)), dim=1).cpu()
               for start in range(0, len(pixels), BATCH)]
    return torch.cat(out).numpy()


def predict_batch_fn(inputs, model):
    """modelport's adaptive batching (SageMaker ignores it): every request's rows in one predict_fn call,
    split back into one (N_i, 10) array per request."""
    probabilities = predict_fn(np.concatenate(inputs), model)
    return np.split(probabilities, np.cumsum([len(rows) for rows in inputs])[:-1])


def output_fn(prediction, accept):
    """Encode the probabilities as JSON (default), CSV or NPY; returns (body, content type)."""
    return encode_predictions(prediction, accept)
