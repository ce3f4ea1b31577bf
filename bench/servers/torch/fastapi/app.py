"""FastAPI + uvicorn peer of the PyTorch race: one digit (JSON or .npy) → the CNN → JSON.

Run as `uvicorn app:app --workers 2` (one process per core). Each worker uses one torch thread
(PyTorch's CPU guidance: threads × processes = cores, no oversubscription). The handler is `async def`
on the raw body, predicting on the event loop: with one torch thread per process a thread pool only adds
a hop. With BENCH_JSON=orjson (the `fastapi-orjson` rows, FastAPI hand-tuned as in the scikit-learn race)
bodies are parsed and answers written with orjson instead of the stdlib's json.
"""
import json
import os
import sys

from fastapi import FastAPI, Request, Response

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import digit_work  # noqa: E402

if os.environ.get("BENCH_JSON") == "orjson":
    import orjson

    loads, dumps = orjson.loads, orjson.dumps
else:
    loads, dumps = json.loads, json.dumps

MODEL = digit_work.load_model(threads=1)

app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> Response:
    """Decode, forward pass, {"label", "probabilities"}."""
    pixels = digit_work.decode(await request.body(), request.headers.get("content-type"), loads)
    body = dumps(digit_work.answer(digit_work.predict(MODEL, pixels[None])[0]))
    return Response(body, media_type="application/json")
