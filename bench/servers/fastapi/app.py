"""FastAPI peer: the idiomatic FastAPI service for one-row JSON → predict_proba → JSON.

`app_sync` uses a plain `def` handler (FastAPI runs it in its thread pool); `app_async` uses
`async def` (runs on the event loop). Both validate the body with a pydantic model, as FastAPI
users do. The model path comes from BENCH_MODEL.
"""
import os

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

MODEL = joblib.load(os.environ["BENCH_MODEL"])


class PredictRequest(BaseModel):
    """Rows of 784 floats."""

    instances: list[list[float]]


class PredictResponse(BaseModel):
    """One row of class probabilities per input row."""

    probabilities: list[list[float]]


app_sync = FastAPI()
app_async = FastAPI()


@app_sync.post("/predict", response_model=PredictResponse)
def predict_sync(request: PredictRequest) -> PredictResponse:
    """Predict in FastAPI's thread pool."""
    return PredictResponse(probabilities=MODEL.predict_proba(np.asarray(request.instances)).tolist())


@app_async.post("/predict", response_model=PredictResponse)
async def predict_async(request: PredictRequest) -> PredictResponse:
    """Predict on the event loop."""
    return PredictResponse(probabilities=MODEL.predict_proba(np.asarray(request.instances)).tolist())
