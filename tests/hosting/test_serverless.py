"""Serverless endpoints through unmodified boto3: no instance until the first request, a cold start that holds
concurrent requests and answers them all, ThrottlingException above MaxConcurrency, back to zero after the idle
period (ProvisionedConcurrency stays warm), the memory size enforced, and ServerlessConfig validated as SageMaker."""

from __future__ import annotations

import json
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from modelport.archive import pack_archive
from tests.helpers.hosting import instances, wait_in_service
from tests.helpers.waiting import eventually

IDLE_S = 1.5
COLD_HEADER = "x-modelport-cold-start-ms"

# grows by {"grow_mb": N} and holds it, to cross the variant's memory size
GREEDY = '''
import json, time

def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    held = b"x" * (int(data.get("grow_mb", 0)) * 1024 * 1024)
    if held:
        time.sleep(20)
    return {"y": data.get("x", 0), "held": len(held)}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


@pytest.fixture(scope="module")
def hosting_options():
    return {"serverless_idle_s": IDLE_S}


def create_serverless(sm, name: str, model_data: str, **config) -> dict:
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": model_data})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name,
         "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 20, **config}}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_in_service(sm, name)


def invoke(rt, name: str, **body):
    response = rt.invoke_endpoint(EndpointName=name, Body=json.dumps({"x": 1, **body}), ContentType="application/json")
    return json.loads(response["Body"].read()), response["ResponseMetadata"]["HTTPHeaders"]


def test_cold_endpoint_holds_concurrent_requests_answers_all_then_idles_to_zero(hosting, sm, rt, archive):
    warm = create_serverless(sm, "sl-warm", str(archive), ProvisionedConcurrency=1)
    warm_pids = {i["pid"] for i in instances(hosting.url, "sl-warm")}
    assert len(warm_pids) == 1 and None not in warm_pids  # ProvisionedConcurrency: running before any request

    described = create_serverless(sm, "sl", str(archive))
    variant = described["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 20}
    assert variant["DesiredServerlessConfig"] == variant["CurrentServerlessConfig"]
    assert "CurrentInstanceCount" not in variant and "DesiredInstanceCount" not in variant
    assert instances(hosting.url, "sl") == []  # InService, and nothing runs yet

    with ThreadPoolExecutor(8) as pool:  # all arrive while cold: held, none refused
        answers = list(pool.map(lambda _: invoke(rt, "sl"), range(8)))
    assert [body["y"] for body, _ in answers] == [2.0] * 8
    cold = [int(headers[COLD_HEADER]) for _, headers in answers if COLD_HEADER in headers]
    assert cold and all(ms > 0 for ms in cold)
    assert len({body["pid"] for body, _ in answers}) == 1
    _, headers = invoke(rt, "sl")
    assert COLD_HEADER not in headers  # warm now
    assert len(instances(hosting.url, "sl")) == 1

    eventually(lambda: instances(hosting.url, "sl") == [], timeout=IDLE_S + 10,
               message="the idle serverless instance never stopped")
    assert {i["pid"] for i in instances(hosting.url, "sl-warm")} == warm_pids  # provisioned: never stopped
    body, headers = invoke(rt, "sl")  # and the next request starts it again
    assert body["y"] == 2.0 and COLD_HEADER in headers


def test_more_than_max_concurrency_is_throttled(hosting, sm, rt, archive):
    create_serverless(sm, "sl-narrow", str(archive), MaxConcurrency=2)
    invoke(rt, "sl-narrow")  # warm
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(invoke, rt, "sl-narrow", sleep=1.5) for _ in range(2)]
        eventually(lambda: sum(i["outstanding"] for i in instances(hosting.url, "sl-narrow")) == 2, timeout=10)
        with pytest.raises(ClientError) as refused:
            invoke(rt, "sl-narrow")
        assert [f.result()[0]["y"] for f in slow] == [2.0, 2.0]
    error = refused.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert "MaxConcurrency 2" in error["Error"]["Message"]
    assert invoke(rt, "sl-narrow")[0]["y"] == 2.0  # below the limit again


def test_instance_past_its_memory_size_is_replaced_and_the_request_fails_clearly(hosting, sm, rt, tmp_path):
    src = tmp_path / "greedy"
    (src / "code").mkdir(parents=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(GREEDY))
    greedy = pack_archive(src, tmp_path / "greedy.tar.gz")
    create_serverless(sm, "sl-greedy", str(greedy))
    assert invoke(rt, "sl-greedy")[0]["held"] == 0
    first_pid = instances(hosting.url, "sl-greedy")[0]["pid"]
    with pytest.raises(ClientError) as failed:
        invoke(rt, "sl-greedy", grow_mb=1200)
    error = failed.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert "more than its MemorySizeInMB (1024)" in error["Error"]["Message"]
    body, _ = eventually(lambda: invoke(rt, "sl-greedy"), timeout=30, ignore=(ClientError,))  # a new instance
    assert body["held"] == 0
    assert instances(hosting.url, "sl-greedy")[0]["pid"] != first_pid


@pytest.mark.parametrize("variant, says", [
    ({"InstanceType": "ml.m5.large"}, "takes ServerlessConfig only"),
    ({"InitialInstanceCount": 1}, "takes ServerlessConfig only"),
    ({"ServerlessConfig": {"MemorySizeInMB": 1500, "MaxConcurrency": 5}}, "1 GB increments"),
    ({"ServerlessConfig": {"MemorySizeInMB": 8192, "MaxConcurrency": 5}}, "less than or equal to 6144"),
    ({"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 201}}, "less than or equal to 200"),
    ({"ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2, "ProvisionedConcurrency": 3}},
     "ProvisionedConcurrency (3)"),
])
def test_serverless_config_is_validated_as_sagemaker(sm, archive, variant, says):
    if "sl-check" not in {m["ModelName"] for m in sm.list_models(NameContains="sl-check")["Models"]}:
        sm.create_model(ModelName="sl-check", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)})
    spec = {"VariantName": "AllTraffic", "ModelName": "sl-check",
            "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 5}, **variant}
    with pytest.raises(ClientError) as refused:
        sm.create_endpoint_config(EndpointConfigName="sl-check", ProductionVariants=[spec])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert says in refused.value.response["Error"]["Message"]


def test_serverless_takes_one_variant_and_no_instance_count(hosting, sm, rt, archive):
    sm.create_model(ModelName="sl-two", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)})
    serverless = {"ModelName": "sl-two", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
    with pytest.raises(ClientError, match="exactly one production variant"):
        sm.create_endpoint_config(EndpointConfigName="sl-two", ProductionVariants=[
            {"VariantName": "a", **serverless}, {"VariantName": "b", **serverless}])
    with pytest.raises(ClientError, match="do not support ShadowProductionVariants"):
        sm.create_endpoint_config(EndpointConfigName="sl-two", ProductionVariants=[{"VariantName": "a", **serverless}],
                                  ShadowProductionVariants=[{"VariantName": "b", "ModelName": "sl-two",
                                                             "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    create_serverless(sm, "sl-weights", str(archive))
    with pytest.raises(ClientError, match="is serverless: it has no instance count"):
        sm.update_endpoint_weights_and_capacities(EndpointName="sl-weights", DesiredWeightsAndCapacities=[
            {"VariantName": "AllTraffic", "DesiredInstanceCount": 2}])
