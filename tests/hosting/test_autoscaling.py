"""Application Auto Scaling on hosting through unmodified boto3: a target-tracking policy scales a variant from 1
to 3 instances under load and back to 1 with zero failed requests, every change a scaling activity; targets and
policies survive a restart; and the API refuses what AWS refuses, with AWS's error codes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers.hosting import Load, autoscaling_client, clients, deploy, instances, start_hosting, wait_status
from tests.helpers.waiting import eventually

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture(scope="module")
def hosting_options():
    return {"autoscaling_interval": 0.5, "drain_timeout": 10.0}


def target(endpoint: str, variant: str = "AllTraffic") -> dict:
    return {"ServiceNamespace": "sagemaker", "ResourceId": f"endpoint/{endpoint}/variant/{variant}",
            "ScalableDimension": DIMENSION}


def tracking(value: float, **extra) -> dict:
    return {"PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {
        "TargetValue": value, "ScaleOutCooldown": 1, "ScaleInCooldown": 1,
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}, **extra}}


def counts(sm, name: str) -> tuple[str, int, int]:
    described = sm.describe_endpoint(EndpointName=name)
    variant = described["ProductionVariants"][0]
    return described["EndpointStatus"], variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def test_target_tracking_scales_1_to_3_under_load_and_back_with_zero_failures(hosting, sm, rt, aas, archive):
    deploy(sm, "auto", str(archive))
    arn = aas.register_scalable_target(**target("auto"), MinCapacity=1, MaxCapacity=3)["ScalableTargetARN"]
    assert arn.startswith("arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/")
    # one worker sleeping 50 ms answers ≤ 1200 invocations a minute; 300 per instance is the target
    put = aas.put_scaling_policy(PolicyName="invocations", **target("auto"), **tracking(300.0))
    assert put["PolicyARN"].endswith(":resource/sagemaker/endpoint/auto/variant/AllTraffic:policyName/invocations")
    assert [a["AlarmName"].split("-")[-6] for a in put["Alarms"]] == ["AlarmHigh", "AlarmLow"]

    with Load(rt, "auto", threads=6, body=b'{"x": 1, "sleep": 0.05}') as load:
        eventually(lambda: counts(sm, "auto") == ("InService", 3, 3), timeout=60,
                   message=lambda: f"never scaled out: {counts(sm, 'auto')}, failures {load.failures[-3:]}")
        load.wait_for(60)
        assert len({i["pid"] for i in instances(hosting.url, "auto")}) == 3
    eventually(lambda: counts(sm, "auto") == ("InService", 1, 1), timeout=60,
               message=lambda: f"never scaled in: {counts(sm, 'auto')}")
    assert load.failures == []
    assert len(instances(hosting.url, "auto")) == 1

    activities = aas.describe_scaling_activities(ServiceNamespace="sagemaker", ResourceId="endpoint/auto/variant/AllTraffic")
    done = [(a["Description"], a["StatusCode"]) for a in reversed(activities["ScalingActivities"])]
    assert {status for _, status in done} == {"Successful"}
    # target tracking may take a step on the way (as the per-minute rate decays, 3 → 2 → 1): the counts
    # must rise to 3, then fall to 1, each change a step in one direction
    steps = [int(description.removeprefix("Setting desired instance count to ").rstrip(".")) for description, _ in done]
    peak = steps.index(3)
    assert steps[:peak + 1] == sorted(set(steps[:peak + 1])) and steps[-1] == 1, steps
    assert steps[peak:] == sorted(set(steps[peak:]), reverse=True), steps
    assert "triggered policy invocations" in activities["ScalingActivities"][0]["Cause"]
    page = aas.describe_scaling_activities(ServiceNamespace="sagemaker", MaxResults=1)
    assert len(page["ScalingActivities"]) == 1 and page["NextToken"]
    rest = aas.describe_scaling_activities(ServiceNamespace="sagemaker", MaxResults=1, NextToken=page["NextToken"])
    assert rest["ScalingActivities"][0]["ActivityId"] != page["ScalingActivities"][0]["ActivityId"]


def test_registering_a_range_moves_the_count_into_it(hosting, sm, aas, archive):
    deploy(sm, "ranged", str(archive))
    aas.register_scalable_target(**target("ranged"), MinCapacity=2, MaxCapacity=2)
    eventually(lambda: counts(sm, "ranged") == ("InService", 2, 2), timeout=60,
               message=lambda: f"never reached the minimum: {counts(sm, 'ranged')}")
    described = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=["endpoint/ranged/variant/AllTraffic"])
    (only,) = described["ScalableTargets"]
    assert (only["MinCapacity"], only["MaxCapacity"], only["ScalableDimension"]) == (2, 2, DIMENSION)
    assert only["SuspendedState"] == {"DynamicScalingInSuspended": False, "DynamicScalingOutSuspended": False,
                                      "ScheduledScalingSuspended": False}
    aas.deregister_scalable_target(**target("ranged"))
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker",
                                         ResourceIds=["endpoint/ranged/variant/AllTraffic"])["ScalableTargets"] == []


def test_targets_and_policies_survive_a_restart(tmp_path, archive):
    home = tmp_path / "home"
    server = start_hosting(home)
    try:
        sm, _ = clients(server.url)
        aas = autoscaling_client(server.url)
        deploy(sm, "kept", str(archive))
        aas.register_scalable_target(**target("kept"), MinCapacity=1, MaxCapacity=2)
        aas.put_scaling_policy(PolicyName="p", **target("kept"), **tracking(70.0))
    finally:
        server.stop()
    server = start_hosting(home)
    try:
        sm, _ = clients(server.url)
        aas = autoscaling_client(server.url)
        wait_status(sm, "kept", ("InService",))
        (only,) = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        assert (only["ResourceId"], only["MaxCapacity"]) == ("endpoint/kept/variant/AllTraffic", 2)
        (policy,) = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
        assert policy["PolicyName"] == "p"
        assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70.0
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scaled(sm, aas, archive) -> str:
    """An endpoint whose variant is a registered scalable target (for the refusals)."""
    deploy(sm, "refusals", str(archive))
    aas.register_scalable_target(**target("refusals"), MinCapacity=1, MaxCapacity=2)
    return "refusals"


@pytest.mark.parametrize("call, params, code, says", [
    ("register_scalable_target", {**target("refusals"), "ServiceNamespace": "ecs", "MinCapacity": 1, "MaxCapacity": 2},
     "ValidationException", "ServiceNamespace must be sagemaker"),
    ("register_scalable_target", {**target("refusals"), "ResourceId": "endpoint/refusals", "MinCapacity": 1,
                                  "MaxCapacity": 2}, "ValidationException", "endpoint/ENDPOINT_NAME/variant/VARIANT_NAME"),
    ("register_scalable_target", {**target("refusals"), "ScalableDimension": "sagemaker:variant:DesiredProvisionedConcurrency",
                                  "MinCapacity": 1, "MaxCapacity": 2}, "ValidationException", "Unsupported scalable dimension"),
    ("register_scalable_target", {**target("refusals"), "MinCapacity": 0, "MaxCapacity": 2},
     "ValidationException", "must be at least 1"),
    ("register_scalable_target", {**target("refusals"), "MinCapacity": 3, "MaxCapacity": 2},
     "ValidationException", "cannot be greater than maximum capacity"),
    ("register_scalable_target", {**target("refusals"), "MinCapacity": 1, "MaxCapacity": 500},
     "ValidationException", "MODELPORT_HOSTING_MAX_INSTANCES_PER_VARIANT"),
    ("register_scalable_target", {**target("missing"), "MinCapacity": 1, "MaxCapacity": 2},
     "ValidationException", "there is no endpoint missing"),
    ("register_scalable_target", {**target("refusals", "Other"), "MinCapacity": 1, "MaxCapacity": 2},
     "ValidationException", "has variants AllTraffic"),
    ("put_scaling_policy", {"PolicyName": "p", **target("refusals", "Other"), **tracking(70.0)},
     "ObjectNotFoundException", "No scalable target registered"),
    ("put_scaling_policy", {"PolicyName": "p", **target("refusals"), "PolicyType": "StepScaling"},
     "ValidationException", "use TargetTrackingScaling"),
    ("put_scaling_policy", {"PolicyName": "p", **target("refusals"), "PolicyType": "TargetTrackingScaling",
                            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70.0, "PredefinedMetricSpecification": {
                                "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"}}},
     "ValidationException", "Unsupported PredefinedMetricType"),
    ("put_scaling_policy", {"PolicyName": "p", **target("refusals"), "PolicyType": "TargetTrackingScaling",
                            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70.0, "CustomizedMetricSpecification": {
                                "MetricName": "CPUUtilization", "Namespace": "/aws/sagemaker/Endpoints", "Statistic": "Average"}}},
     "ValidationException", "ModelLatency (Average)"),
    ("put_scaling_policy", {"PolicyName": "p", **target("refusals"), "PolicyType": "TargetTrackingScaling",
                            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70.0, "CustomizedMetricSpecification": {
                                "MetricName": "ModelLatency", "Namespace": "AWS/SageMaker", "Statistic": "Average",
                                "Dimensions": [{"Name": "EndpointName", "Value": "other"}]}}},
     "ValidationException", "Dimensions must be EndpointName=refusals"),
    ("put_scaling_policy", {"PolicyName": "p", **target("refusals"), **tracking(-1.0)},
     "ValidationException", "TargetValue must be a number greater than 0"),
    ("delete_scaling_policy", {"PolicyName": "nope", **target("refusals")},
     "ObjectNotFoundException", "No scaling policy found"),
    ("deregister_scalable_target", target("refusals", "Other"), "ObjectNotFoundException", "No scalable target registered"),
])
def test_refusals_as_application_auto_scaling(aas, scaled, call, params, code, says):
    with pytest.raises(ClientError) as refused:
        getattr(aas, call)(**params)
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400)
    assert says in error["Error"]["Message"]


def test_a_custom_metric_policy_is_described_as_put(aas, scaled):
    custom = {"MetricName": "ModelLatency", "Namespace": "AWS/SageMaker", "Statistic": "Average",
              "Dimensions": [{"Name": "EndpointName", "Value": "refusals"}, {"Name": "VariantName", "Value": "AllTraffic"}]}
    aas.put_scaling_policy(PolicyName="latency", **target("refusals"), PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration={"TargetValue": 50000.0,
                                                                     "CustomizedMetricSpecification": custom})
    described = aas.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["latency"])
    (policy,) = described["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"] == custom
    aas.delete_scaling_policy(PolicyName="latency", **target("refusals"))
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker", PolicyNames=["latency"])["ScalingPolicies"] == []
