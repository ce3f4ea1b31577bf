"""FastAPI, hand-tuned: the raw body parsed with orjson, no pydantic models, orjson out.

A reference row, not one of the issue's peers: the same work as modelport's bench script (orjson
both ways) inside FastAPI, to show how much of any gap is the JSON library alone.
"""
import os

import joblib
import numpy as np
import orjson
from fastapi import FastAPI, Request, Response

MODEL = joblib.load(os.environ["BENCH_MODEL"])

app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> Response:
    """[[784 floats]] → [[10 floats]], on the event loop."""
    rows = np.asarray(orjson.loads(await request.body()), dtype=np.float64)
    return Response(orjson.dumps(MODEL.predict_proba(rows).tolist()), media_type="application/json")
