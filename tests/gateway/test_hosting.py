"""End to end through the real stack: gateway → boto3 → modelport hosting (SageMaker Runtime and
control APIs) → a runtime process serving a real archive, all on 127.0.0.1.

The archive is a small MNIST-shaped model written here (same JSON request/response shapes as the
bundled models), because the bundled models' archives are built by training, which these tests do not run.
"""

from __future__ import annotations

import json
import textwrap

import httpx
import pytest

from tests.helpers.live_gateway import LiveGateway, hosting_gateway_settings
from tests.helpers.hosting import clients, deploy, start_hosting
from modelport.archive import pack_archive
from modelport.gateway.app import create_app

# The bundled MNIST models' contract with a toy predictor: the label is the rounded ink total mod 10.
DIGITS_INFERENCE = '''
import json
from sagemaker_inference import errors

def model_fn(model_dir):
    return {"classes": 10}

def input_fn(body, content_type):
    if content_type != "application/json":
        raise errors.GenericInferenceToolkitError(415, "this model accepts application/json only, got " + str(content_type))
    data = json.loads(body)
    if "image" in data:
        raise errors.GenericInferenceToolkitError(400, "could not decode the image: not a PNG or JPEG")
    rows = data["instances"] if "instances" in data else [data["pixels"]]
    if any(len(row) != 784 for row in rows):
        raise errors.GenericInferenceToolkitError(400, "expected 784 pixels per image")
    return rows

def predict_fn(rows, model):
    predictions = []
    for row in rows:
        label = int(round(sum(row))) % 10
        probabilities = [0.01] * 10
        probabilities[label] = 0.91
        predictions.append({"label": label, "probabilities": probabilities})
    return {"predictions": predictions}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
SITE = "http://localhost:5173"


def pixels_for(label: int) -> list[float]:
    row = [0.0] * 784
    for i in range(label):
        row[300 + i] = 1.0
    return row


@pytest.fixture(scope="module", params=["boto3", "http"])
def digits_gateway(request, tmp_path_factory):
    """Hosting with the digits endpoint, and a live gateway using the boto3 or the lean Runtime client."""
    root = tmp_path_factory.mktemp("gateway-hosting")
    src = root / "digits"
    (src / "code").mkdir(parents=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(DIGITS_INFERENCE))
    (src / "weights.json").write_text("{}")
    archive = pack_archive(src, root / "model.tar.gz")
    hosting = start_hosting(root / "home")
    try:
        sm, _ = clients(hosting.url)
        deploy(sm, "digits-e2e", str(archive), env={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
        settings = hosting_gateway_settings(hosting, request.param, mnist_sklearn_endpoint="digits-e2e",
                                            allowed_origins=SITE)
        with LiveGateway(create_app(settings)) as url:
            with httpx.Client(base_url=url, timeout=30) as client:
                yield client
    finally:
        hosting.stop()


def test_predict_through_hosting_and_runtime(digits_gateway):
    response = digits_gateway.post("/predict/mnist-sklearn", json={"pixels": pixels_for(7)}, headers={"origin": SITE})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["predictions"][0]["label"] == 7 and len(data["predictions"][0]["probabilities"]) == 10
    assert data["endpoint"] == "digits-e2e" and data["latencyMs"]["total"] >= data["latencyMs"]["model"] > 0
    assert response.headers["access-control-allow-origin"] == SITE
    batch = digits_gateway.post("/predict/mnist-sklearn", json={"instances": [pixels_for(3), pixels_for(5)]})
    assert [p["label"] for p in batch.json()["predictions"]] == [3, 5]


def test_model_refusals_come_back_with_the_models_status(digits_gateway):
    response = digits_gateway.post("/predict/mnist-sklearn", json={"image": "aGVsbG8="}, headers={"origin": SITE})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "model_error" and error["modelStatus"] == 400
    assert "could not decode the image" in error["modelMessage"]
    assert response.headers["access-control-allow-origin"] == SITE
    csv = digits_gateway.post("/invoke/digits-e2e", content=b"0,0,0\n", headers={"content-type": "text/csv"})
    assert csv.status_code == 415 and csv.json()["error"]["modelStatus"] == 415


def test_bad_input_is_stopped_at_the_gateway(digits_gateway):
    response = digits_gateway.post("/predict/mnist-sklearn", json={"pixels": [0.5] * 10})
    assert response.status_code == 400 and response.json()["error"]["field"] == "pixels"


def test_invoke_pass_through_and_unknown_endpoint(digits_gateway):
    body = json.dumps({"pixels": pixels_for(4)}).encode()
    response = digits_gateway.post("/invoke/digits-e2e", content=body, headers={"content-type": "application/json", "accept": "application/json"})
    assert response.status_code == 200 and response.json()["predictions"][0]["label"] == 4
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    missing = digits_gateway.post("/invoke/not-deployed", content=b"{}", headers={"content-type": "application/json"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_endpoint"


def test_models_shows_live_status_from_hostings_control_api(digits_gateway):
    models = {m["name"]: m for m in digits_gateway.get("/models").json()["models"]}
    digits = models["mnist-sklearn"]
    assert digits["status"] == "InService"
    assert digits["variants"] == [{"name": "AllTraffic", "instances": 1, "weight": 1.0}]
    assert models["sentiment"]["status"] == "NotConfigured"
