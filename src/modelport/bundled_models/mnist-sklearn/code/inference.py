"""SageMaker handlers of the `mnist-sklearn` model: a scikit-learn pipeline that reads 28×28 digits.

Runs unmodified in SageMaker's scikit-learn container and in modelport's runtime. The archive's code/
also holds the shared `mnist_io.py`, `mnist_preprocessing.py` and `handler_utils.py` (copied in at pack
time). Accepts JSON ({"pixels"}, {"instances"}, {"image": base64}), CSV rows of 784 values, NPY (N×784 or
N×28×28) and raw PNG/JPEG bytes; answers {"predictions": [{"label", "probabilities"}]} (or CSV / NPY).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the shared modules beside this file

import joblib  # noqa: E402
import numpy as np  # noqa: E402

from mnist_io import decode_digits, encode_predictions  # noqa: E402


def model_fn(model_dir):
    """Load the fitted pipeline from model.joblib."""
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(request_body, content_type):
    """Decode the request into an (N, 784) float32 array of pixels in 0..1."""
    return decode_digits(request_body, content_type)


def predict_fn(data, model):
    """Class probabilities, (N, 10), column k for digit k."""
    probabilities = np.zeros((len(data), 10), dtype=np.float32)
    probabilities[:, model.classes_.astype(int)] = model.predict_proba(data)
    return probabilities


def predict_batch_fn(inputs, model):
    """modelport's adaptive batching (SageMaker ignores it): every request's rows in one predict_fn call,
    split back into one (N_i, 10) array per request."""
    probabilities = predict_fn(np.concatenate(inputs), model)
    return np.split(probabilities, np.cumsum([len(rows) for rows in inputs])[:-1])


def output_fn(prediction, accept):
    """Encode the probabilities as JSON (default), CSV or NPY; returns (body, content type)."""
    return encode_predictions(prediction, accept)
