"""Ray Serve peer of the PyTorch race: one digit per HTTP request, batched with `@serve.batch`.

Usage: python server.py PORT   (model folder from BENCH_TORCH_MODEL)

Configuration (Ray's performance guide for a 2-core machine): a local Ray of 2 CPUs without the
dashboard; two replicas reserving one CPU each (`ray_actor_options={"num_cpus": 1}`, so Ray sets
OMP_NUM_THREADS=1 in each: one torch thread per replica); `@serve.batch(max_batch_size=16,
batch_wait_timeout_s=0.001)` on the model call, `max_ongoing_requests=32` (at least the batch size, as the
batching guide says); RAY_SERVE_THROUGHPUT_OPTIMIZED=1 (set by the runner), request logging off.
"""
import os
import sys
import time

import numpy as np
import ray
from ray import serve
from starlette.requests import Request
from starlette.responses import Response

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MAX_BATCH_SIZE = 16
BATCH_WAIT_TIMEOUT_S = 0.001


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 1}, max_ongoing_requests=32,
                  logging_config={"enable_access_log": False, "log_level": "WARNING"})
class Digits:
    """The CNN behind Ray Serve's HTTP proxy."""

    def __init__(self) -> None:
        import json

        import digit_work

        self.work, self.json = digit_work, json
        self.model = digit_work.load_model(threads=1)

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S)
    async def predict(self, digits: list[np.ndarray]) -> list[dict]:
        """One forward pass for the digits that arrived together."""
        probabilities = self.work.predict(self.model, np.stack(digits))
        return [self.work.answer(row) for row in probabilities]

    async def __call__(self, request: Request) -> Response:
        """Decode the body, wait for the batched answer, JSON out."""
        pixels = self.work.decode(await request.body(), request.headers.get("content-type"))
        return Response(self.json.dumps(await self.predict(pixels)), media_type="application/json")


if __name__ == "__main__":
    port = int(sys.argv[1])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20,
             runtime_env={"env_vars": {"PYTHONPATH": here, "BENCH_TORCH_MODEL": os.environ["BENCH_TORCH_MODEL"]}})
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(Digits.bind(), name="digits", route_prefix="/predict")
    print(f"ray serve: listening on 127.0.0.1:{port}", flush=True)
    while True:
        time.sleep(3600)
