"""The work every PyTorch-race peer does, written once: decode one digit, the CNN's forward pass, JSON out.

Imported by each peer's server module (in that peer's own venv). The network class is the bundled
model's own `digit_cnn.py`, read from the model folder bench/make_torch_model.py writes (BENCH_TORCH_MODEL),
with the same weights (artifacts/model.pth) modelport serves from its archive; `.npy` bodies are read by the
bundled model's own `npy_body.py` (copied there too), as modelport's archive reads them.

Requests: `{"pixels": [784 floats]}` (application/json) or a 1×784 float32 `.npy` (application/x-npy).
Answers: `{"label": digit, "probabilities": [10 floats]}`.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

# The model folder; TorchServe's workers find digit_cnn.py and model.pth beside this file (in the .mar).
MODEL_DIR = os.environ.get("BENCH_TORCH_MODEL", os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, MODEL_DIR)

from digit_cnn import DigitCNN, for_inference  # noqa: E402
from npy_body import read_npy  # noqa: E402 - the bundled model's own .npy reader, as modelport's archive reads it

NPY = "application/x-npy"


def load_model(threads: int = 1, weights: str | None = None) -> torch.nn.Module:
    """The trained CNN compiled for serving exactly as modelport's archive serves it (`digit_cnn.for_inference`:
    frozen TorchScript, oneDNN for batches), from `weights` (a model.pth, default the model folder's), with
    `threads` torch threads."""
    torch.set_num_threads(threads)
    model = DigitCNN()
    weights = weights or os.path.join(MODEL_DIR, "artifacts", "model.pth")
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return for_inference(model)


def decode(body: bytes, content_type: str | None, loads=json.loads) -> np.ndarray:
    """One digit's 784 float32 pixels from a JSON (parsed with `loads`) or .npy body."""
    if content_type and content_type.split(";")[0].strip().lower() == NPY:
        pixels = read_npy(body).astype(np.float32)  # a writable copy, as the archive's codec makes
    else:
        pixels = loads(body)["pixels"]
    return from_pixels(pixels)


def from_pixels(pixels) -> np.ndarray:
    """A list or array of 784 values (any shape holding 784) as a (784,) float32 array."""
    return np.asarray(pixels, dtype=np.float32).reshape(784)


def predict(model: torch.nn.Module, rows: np.ndarray) -> np.ndarray:
    """(N, 784) pixels → (N, 10) class probabilities: the forward pass and a softmax."""
    batch = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32)).view(-1, 1, 28, 28)
    with torch.inference_mode():
        return torch.softmax(model(batch), dim=1).numpy()


def answer(probabilities: np.ndarray) -> dict:
    """One digit's answer: its label (argmax) and the 10 probabilities."""
    return {"label": int(probabilities.argmax()), "probabilities": probabilities.tolist()}
