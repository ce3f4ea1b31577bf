"""NVIDIA Triton peer of the PyTorch race, through PyTriton: the CNN behind Triton's dynamic batcher, on CPU.

Usage: python server.py PORT   (model folder from BENCH_TORCH_MODEL)

Configuration (Triton's batcher guide and PyTriton's docs, 2 cores): the `tritonserver` binary PyTriton
bundles serves HTTP on 127.0.0.1:PORT (gRPC and metrics on free ports); model `mnist` with
`max_batch_size=16` and the dynamic batcher with `max_queue_delay_microseconds=0` (Triton's advice: start
at 0, so a batch holds what queued while the previous one ran and a lone request is not held back); two
model instances (PyTriton's multi-instance form: a list of two infer callables), one torch thread each.
Requests are Triton's KServe-v2 JSON (`{"inputs": [{"name": "pixels", "shape": [1, 784], "datatype":
"FP32", "data": [...]}]}`) or its binary tensor extension (JSON header + 3,136 raw bytes, with
`Inference-Header-Content-Length`), the binary counterpart of the .npy rows.
"""
import os
import socket
import sys

import numpy as np
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import digit_work  # noqa: E402

MAX_BATCH_SIZE = 16
INSTANCES = 2


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for gRPC and metrics, which the bench does not use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_infer(model):
    """One model instance's infer callable: a batch of pixels → probabilities and labels."""

    @batch
    def infer(pixels: np.ndarray):
        probabilities = digit_work.predict(model, pixels).astype(np.float32)
        return {"probabilities": probabilities, "label": probabilities.argmax(axis=1).astype(np.int64)[:, None]}

    return infer


if __name__ == "__main__":
    port = int(sys.argv[1])
    model = digit_work.load_model(threads=1)
    config = TritonConfig(http_address="127.0.0.1", http_port=port, grpc_address="127.0.0.1",
                          grpc_port=free_port(), metrics_port=free_port(), log_verbose=0)
    with Triton(config=config) as triton:
        triton.bind(
            model_name="mnist",
            infer_func=[make_infer(model) for _ in range(INSTANCES)],
            inputs=[Tensor(name="pixels", dtype=np.float32, shape=(784,))],
            outputs=[Tensor(name="probabilities", dtype=np.float32, shape=(10,)),
                     Tensor(name="label", dtype=np.int64, shape=(1,))],
            config=ModelConfig(max_batch_size=MAX_BATCH_SIZE,
                               batcher=DynamicBatcher(max_queue_delay_microseconds=0)),
            strict=False,
        )
        triton.serve()
