"""Asynchronous inference with unmodified boto3 against real hosting: AsyncInferenceConfig, InvokeEndpointAsync,
results and failures in hosting's S3, the concurrency limit, the notification webhook, backlog metrics and scaling
to zero and back. (kill -9 with queued requests: test_async_restart.py.)"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from modelport.hosting.async_inference.queue import AsyncQueue, AsyncRequest, now
from tests.helpers.async_inference import (BUCKET, Webhook, async_endpoint, endpoint_metric, put_input,
                                           read_object, wait_object)
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


def test_a_payload_larger_than_invoke_endpoints_limit_is_streamed_through(rt, s3, endpoint):
    padding = "a" * (20 * 1024 * 1024)  # 20 MB: over InvokeEndpoint's 6 MB, read from the store as it is sent
    location = put_input(s3, "in/large.json", json.dumps({"x": 3, "pad": padding}).encode())
    answer = rt.invoke_endpoint_async(EndpointName=endpoint, InputLocation=location, ContentType="application/json")
    assert json.loads(wait_object(s3, answer["OutputLocation"]))["y"] == 6.0


def _error(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_endpoint_configs_are_checked_as_sagemaker_checks_them(sm, archive):
    sm.create_model(ModelName="checked", ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{archive}"})
    instances = [{"VariantName": "v", "ModelName": "checked", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]
    serverless = [{"VariantName": "v", "ModelName": "checked",
                   "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1}}]
    good = {"OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/checked"}}
    code, message = _error(lambda: sm.create_endpoint_config(
        EndpointConfigName="c1", ProductionVariants=serverless, AsyncInferenceConfig=good))
    assert code == "ValidationException" and "serverless endpoints do not support AsyncInferenceConfig" in message
    code, message = _error(lambda: sm.create_endpoint_config(
        EndpointConfigName="c2", ProductionVariants=instances,
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://no-such-bucket/out"}}))
    assert code == "ValidationException" and "the bucket no-such-bucket does not exist" in message
    code, message = _error(lambda: sm.create_endpoint_config(
        EndpointConfigName="c3", ProductionVariants=instances,
        AsyncInferenceConfig={"OutputConfig": {"S3FailurePath": f"s3://{BUCKET}/f"}}))
    assert code == "ValidationException" and "S3OutputPath is required" in message
    code, message = _error(lambda: sm.create_endpoint_config(
        EndpointConfigName="c4", ProductionVariants=instances,
        AsyncInferenceConfig={**good, "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 1001}}))
    assert code == "ValidationException" and "clientConfig.maxConcurrentInvocationsPerInstance" in message
    assert "less than or equal to 1000" in message
    config = {**good, "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 3}}
    sm.create_endpoint_config(EndpointConfigName="c5", ProductionVariants=instances, AsyncInferenceConfig=config)
    assert sm.describe_endpoint_config(EndpointConfigName="c5")["AsyncInferenceConfig"] == config


def _raw_invoke(url: str, endpoint: str, **headers) -> httpx.Response:
    names = {"location": "X-Amzn-SageMaker-InputLocation", "ttl": "X-Amzn-SageMaker-RequestTTLSeconds",
             "timeout": "X-Amzn-SageMaker-InvocationTimeoutSeconds", "id": "X-Amzn-SageMaker-Inference-Id"}
    return httpx.post(f"{url}/endpoints/{endpoint}/async-invocations",
                      headers={**auth_headers(url), **{names[k]: v for k, v in headers.items()}})


def test_invocations_are_checked_as_sagemaker_checks_them(hosting, rt, s3, endpoint, archive, sm):
    location = put_input(s3, "in/checked.json", {"x": 1})
    for headers, expected in [({"location": location, "ttl": "59"}, "between 60 and 21600"),
                              ({"location": location, "timeout": "3601"}, "between 1 and 3600"),
                              ({"location": location, "id": "a/b"}, "other than '/'"),
                              ({"location": f"s3://{BUCKET}/in/missing.json"}, "does not exist"),
                              ({"location": "https://example.com/x"}, "not over https"),
                              ({}, "exactly one of InputLocation")]:
        answer = _raw_invoke(hosting.url, endpoint, **headers)
        assert answer.status_code == 400, (headers, answer.text)
        assert answer.headers["x-amzn-ErrorType"] == "ValidationError" and expected in answer.json()["Message"]
    accepted = _raw_invoke(hosting.url, endpoint, location=location, ttl="60", timeout="3600")
    assert accepted.status_code == 202 and accepted.json()["InferenceId"]
    code, message = _error(lambda: rt.invoke_endpoint(EndpointName=endpoint, Body=b'{"x": 1}',
                                                      ContentType="application/json"))
    assert code == "ValidationError" and "takes InvokeEndpointAsync only" in message
    code, message = _error(lambda: rt.invoke_endpoint_async(EndpointName="no-such-endpoint", InputLocation=location))
    assert code == "ValidationError" and "not found" in message


def test_the_concurrency_limit_per_instance_is_observed(hosting, rt, s3, endpoint):
    location = put_input(s3, "in/slow.json", {"x": 1, "sleep": 0.4})
    answers = [rt.invoke_endpoint_async(EndpointName=endpoint, InputLocation=location,
                                        ContentType="application/json") for _ in range(6)]
    seen, backlogs = set(), set()
    url, headers = f"{hosting.url}/_modelport/endpoints/{endpoint}/instances", auth_headers(hosting.url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(read_object(s3, a["OutputLocation"]) for a in answers):
        seen.add(httpx.get(url, headers=headers).json()["Variants"][0]["Instances"][0]["outstanding"])
        backlogs.add(endpoint_metric(hosting.url, "ApproximateBacklogSize", endpoint))
        time.sleep(0.05)
    assert all(json.loads(read_object(s3, a["OutputLocation"]))["y"] == 2.0 for a in answers)
    assert max(seen) == 2  # MaxConcurrentInvocationsPerInstance 2 × 1 instance: reached, never passed
    assert max(backlogs) >= 3, backlogs  # the queue was seen in /metrics


def _count(sm, name: str) -> int:
    return sm.describe_endpoint(EndpointName=name)["ProductionVariants"][0]["CurrentInstanceCount"]


def test_the_backlog_scales_an_async_variant_to_zero_and_back(hosting, sm, aas, rt, s3, archive):
    async_endpoint(sm, "scaled", f"file://{archive}")
    target = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/scaled/variant/AllTraffic",
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    aas.register_scalable_target(**target, MinCapacity=0, MaxCapacity=1)  # 0: allowed for async variants only
    aas.put_scaling_policy(PolicyName="backlog", PolicyType="TargetTrackingScaling", **target,
                           TargetTrackingScalingPolicyConfiguration={
                               "TargetValue": 1.0, "ScaleInCooldown": 0, "ScaleOutCooldown": 0,
                               "CustomizedMetricSpecification": {
                                   "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                                   "Dimensions": [{"Name": "EndpointName", "Value": "scaled"}],
                                   "Statistic": "Average"}})
    eventually(lambda: _count(sm, "scaled") == 0, 20, message="the idle async variant was not scaled to zero")
    assert endpoint_metric(hosting.url, "HasBacklogWithoutCapacity", "scaled") == 0.0
    answer = rt.invoke_endpoint_async(EndpointName="scaled", InputLocation=put_input(s3, "in/wake.json", {"x": 5}),
                                      ContentType="application/json")
    # queued with no instance: seen while the instance starts (it counts once it passed /ping)
    eventually(lambda: endpoint_metric(hosting.url, "HasBacklogWithoutCapacity", "scaled") == 1.0, 10)
    assert json.loads(wait_object(s3, answer["OutputLocation"], timeout=60))["y"] == 10.0  # scaled from zero
    # the backlog answered, the idle variant goes back to zero (no scale-in cooldown): 1 → 0 → 1 → 0
    eventually(lambda: _count(sm, "scaled") == 0, 20, message="the variant was not scaled to zero again")
    causes = [a["Description"] for a in aas.describe_scaling_activities(ServiceNamespace="sagemaker")["ScalingActivities"]
              if a["ResourceId"] == target["ResourceId"]]
    assert causes[::-1] == [f"Setting desired instance count to {n}." for n in (0, 1, 0)], causes


def test_a_request_past_its_ttl_fails_to_the_failure_path(hosting, s3, endpoint, webhook):
    # RequestTTLSeconds is at least 60 s: a stored request whose TTL ran out stands in for a minute in the queue
    queue = AsyncQueue(hosting.home / "hosting" / "registry.db", owner="test")
    received = now() - 120
    failure = f"s3://{BUCKET}/queued/failed/stale-error.out"
    try:
        queue.add(AsyncRequest("stale-row", endpoint, "stale", put_input(s3, "in/stale.json", {"x": 1}), None,
                               f"s3://{BUCKET}/queued/out/stale.out", failure,
                               [("Content-Type", "application/json")], received, received + 60, 900.0))
    finally:
        queue.close()
    assert "Request expired" in wait_object(s3, failure).decode()
    assert read_object(s3, f"s3://{BUCKET}/queued/out/stale.out") is None
    notice = eventually(lambda: next((n for n in webhook.received if n["inferenceId"] == "stale"), None), 10)
    assert notice["invocationStatus"] == "Failed" and notice["topicArn"].endswith(":err")
    assert endpoint_metric(hosting.url, "ExpiredRequests_total", endpoint) == 1.0
    assert endpoint_metric(hosting.url, "InvocationFailures_total", endpoint) >= 2.0  # with the model's refusal
    assert endpoint_metric(hosting.url, "NotificationFailures_total", endpoint) == 0.0


def test_a_request_over_its_invocation_timeout_fails_to_the_failure_path(rt, s3, endpoint):
    location = put_input(s3, "in/too-slow.json", {"x": 1, "sleep": 2})
    answer = rt.invoke_endpoint_async(EndpointName=endpoint, InputLocation=location, ContentType="application/json",
                                      InvocationTimeoutSeconds=1)
    error = wait_object(s3, answer["FailureLocation"], timeout=10).decode()
    assert "did not answer within 1 s (InvocationTimeoutSeconds)" in error
    assert read_object(s3, answer["OutputLocation"]) is None
