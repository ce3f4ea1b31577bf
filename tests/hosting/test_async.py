"""Asynchronous inference with unmodified boto3 against real hosting: AsyncInferenceConfig, InvokeEndpointAsync,
results and failures in hosting's S3, the concurrency limit, the notification webhook, backlog metrics and scaling
to zero and back. (kill -9 with queued requests: test_async_restart.py.)"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.helpers.async_inference import BUCKET, Webhook, async_endpoint, put_input, read_object, wait_object
from tests.helpers.hosting import auth_headers, clients
from tests.helpers.transform import s3_client
from tests.helpers.waiting import eventually


@pytest.fixture(scope="module")
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture(scope="module")
def hosting_options(webhook) -> dict:
    return {"async_notify_url": webhook.url, "autoscaling_interval": 0.3}


@pytest.fixture(scope="module")
def s3(hosting):
    client = s3_client(hosting.url)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def endpoint(sm, s3, archive):
    async_endpoint(sm, "queued", f"file://{archive}", per_instance=2)
    return "queued"


def test_a_good_request_is_answered_in_the_output_path(rt, s3, endpoint, webhook):
    location = put_input(s3, "in/one.json", {"x": 21})
    answer = rt.invoke_endpoint_async(EndpointName=endpoint, InputLocation=location, ContentType="application/json",
                                      InferenceId="first-request", CustomAttributes="trace=7")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] == "first-request"
    assert answer["OutputLocation"] == f"s3://{BUCKET}/queued/out/first-request.out"
    assert answer["FailureLocation"] == f"s3://{BUCKET}/queued/failed/first-request-error.out"
    result = json.loads(wait_object(s3, answer["OutputLocation"]))
    assert result["y"] == 42.0 and result["attrs"] == "trace=7"
    assert s3.head_object(Bucket=BUCKET, Key="queued/out/first-request.out")["ContentType"] == "application/json"
    assert read_object(s3, answer["FailureLocation"]) is None
    notice = eventually(lambda: next((n for n in webhook.received if n["inferenceId"] == "first-request"), None), 10)
    assert notice["invocationStatus"] == "Completed" and notice["eventName"] == "InferenceResult"
    assert notice["responseParameters"] == {"contentType": "application/json",
                                            "outputLocation": answer["OutputLocation"]}
    assert notice["requestParameters"] == {"endpointName": endpoint, "inputLocation": location,
                                           "contentType": "application/json"}
    assert notice["topicArn"] == "arn:aws:sns:us-east-1:123456789012:ok"


def test_a_failing_request_lands_in_the_failure_path_with_the_models_error(rt, s3, endpoint, webhook):
    location = put_input(s3, "in/bad.json", {"x": 5, "fail": True})
    answer = rt.invoke_endpoint_async(EndpointName=endpoint, InputLocation=location, ContentType="application/json")
    error = wait_object(s3, answer["FailureLocation"]).decode()
    assert "bad x: 5" in error
    assert read_object(s3, answer["OutputLocation"]) is None
    notice = eventually(lambda: next((n for n in webhook.received if n["inferenceId"] == answer["InferenceId"]),
                                     None), 10)
    assert notice["invocationStatus"] == "Failed" and "bad x: 5" in notice["failureReason"]
    assert notice["responseParameters"] == {"failureLocation": answer["FailureLocation"]}


def test_an_inline_body_is_answered_too(rt, s3, endpoint):
    answer = rt.invoke_endpoint_async(EndpointName=endpoint, Body=b'{"x": 4}', ContentType="application/json")
    assert json.loads(wait_object(s3, answer["OutputLocation"]))["y"] == 8.0
