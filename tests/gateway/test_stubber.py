"""boto3 contract of the gateway, checked with botocore's Stubber: the exact InvokeEndpoint parameters
it sends, and how each SageMaker Runtime error becomes the gateway's HTTP error."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.helpers.live_gateway import LiveGateway
from modelport.gateway.app import create_app
from modelport.gateway.settings import GatewaySettings

PIXELS_BODY = json.dumps({"pixels": [0.25] * 784}).encode()


def streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@pytest.fixture()
def stubbed():
    """A live gateway whose sagemaker-runtime client is stubbed; yields (base url, stubber)."""
    settings = GatewaySettings(
        mode="aws", region="eu-west-1", mnist_sklearn_endpoint="prod-mnist-sklearn-v3",
        sentiment_endpoint="prod-sentiment", allowed_origins="*", api_keys="", rate_limit="", routes="",
    )
    app = create_app(settings)
    client = app.state.backend.transport.client()
    assert client.meta.region_name == "eu-west-1"
    with Stubber(client) as stubber, LiveGateway(app) as url:
        yield url, stubber
        stubber.assert_no_pending_responses()


def test_predict_sends_exact_endpoint_types_and_body(stubbed):
    url, stubber = stubbed
    answer = {"predictions": [{"label": 3, "probabilities": [0.1] * 10}]}
    stubber.add_response(
        "invoke_endpoint",
        {"Body": streaming(json.dumps(answer).encode()), "ContentType": "application/json", "InvokedProductionVariant": "AllTraffic"},
        expected_params={"EndpointName": "prod-mnist-sklearn-v3", "ContentType": "application/json",
                         "Accept": "application/json", "Body": PIXELS_BODY},
    )
    response = httpx.post(f"{url}/predict/mnist-sklearn", content=PIXELS_BODY, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["predictions"] == answer["predictions"] and data["endpoint"] == "prod-mnist-sklearn-v3"


def test_invoke_forwards_types_and_sagemaker_headers(stubbed):
    url, stubber = stubbed
    stubber.add_response(
        "invoke_endpoint",
        {"Body": streaming(b"0.9,0.1\n"), "ContentType": "text/csv", "InvokedProductionVariant": "blue"},
        expected_params={"EndpointName": "users-own-model", "ContentType": "text/csv", "Accept": "text/csv",
                         "Body": b"5.1,3.5,1.4,0.2\n", "CustomAttributes": "trace=1", "TargetVariant": "blue"},
    )
    response = httpx.post(f"{url}/invoke/users-own-model", content=b"5.1,3.5,1.4,0.2\n", headers={
        "content-type": "text/csv", "accept": "text/csv",
        "x-amzn-sagemaker-custom-attributes": "trace=1", "x-amzn-sagemaker-target-variant": "blue"})
    assert response.status_code == 200 and response.text == "0.9,0.1\n"
    assert response.headers["x-amzn-invoked-production-variant"] == "blue"


def test_model_refusal_maps_to_the_models_status_and_message(stubbed):
    url, stubber = stubbed
    stubber.add_client_error(
        "invoke_endpoint", service_error_code="ModelError", http_status_code=424,
        service_message='Received client error (400) from primary with message "text is empty".',
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "text is empty",
                        "LogStreamArn": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/prod-sentiment"},
        expected_params={"EndpointName": "prod-sentiment", "ContentType": "application/json",
                         "Accept": "application/json", "Body": b'{"text": "ok"}'},
    )
    response = httpx.post(f"{url}/predict/sentiment", content=b'{"text": "ok"}', headers={"content-type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "model_error" and error["modelStatus"] == 400 and error["modelMessage"] == "text is empty"
    assert error["retryable"] is False and "LogStreamArn" not in response.text


@pytest.mark.parametrize(
    ("code", "http", "message", "status", "gateway_code", "retry_after"),
    [
        ("ValidationError", 400, "Endpoint prod-sentiment of account 123456789012 not found.", 503, "endpoint_not_found", None),
        ("ValidationError", 400, "Input payload must contain a Body.", 400, "backend_rejected", None),
        ("ModelNotReadyException", 429, "Model not ready", 503, "model_not_ready", "5"),
        ("ThrottlingException", 400, "Rate exceeded", 429, "backend_throttled", "1"),
        ("ServiceUnavailable", 503, "Service unavailable", 503, "backend_unavailable", "2"),
        ("InternalFailure", 500, "Internal failure", 502, "backend_error", None),
        ("AccessDeniedException", 403, "not authorized to perform sagemaker:InvokeEndpoint", 502, "backend_misconfigured", None),
    ],
)
def test_sagemaker_errors_map_to_gateway_errors(stubbed, code, http, message, status, gateway_code, retry_after):
    url, stubber = stubbed
    stubber.add_client_error("invoke_endpoint", service_error_code=code, service_message=message, http_status_code=http)
    response = httpx.post(f"{url}/predict/sentiment", json={"text": "fine"})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == gateway_code
    assert response.headers.get("retry-after") == retry_after
