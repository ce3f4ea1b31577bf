"""FastAPI + uvicorn peer of the PyTorch race: one digit (JSON or .npy) → the CNN → JSON.

Run as `uvicorn app:app --workers 2` (one process per core). Each worker uses one torch thread
(PyTorch's CPU guidance: threads × processes = cores, no oversubscription). The handler is `async def`
on the raw body, predicting on the event loop: with one torch thread per process a thread pool only adds
a hop.
"""
import os
import sys

from fastapi import FastAPI, Request, Response

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import json  # noqa: E402

import digit_work  # noqa: E402

MODEL = digit_work.load_model(threads=1)

app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> Response:
    """Decode, forward pass, {"label", "probabilities"}."""
    pixels = digit_work.decode(await request.body(), request.headers.get("content-type"))
    body = json.dumps(digit_work.answer(digit_work.predict(MODEL, pixels[None])[0]))
    return Response(body, media_type="application/json")
