"""`modelport aws deploy` autoscaling (``autoscale = "MIN:MAX:TARGET"``) under moto: the setting, the target and the
target-tracking policy it registers, changes and removals on re-deploy, and destroy deregistering it."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from modelport.aws.autoscaling import Autoscale, ensure_autoscaling
from modelport.aws.calls import Calls
from modelport.aws.deploy import deploy, stack_names
from modelport.aws.destroy import destroy
from modelport.aws.progress import Progress
from modelport.aws.settings import SettingsError, load_settings
from tests.helpers.aws import make_archive

REGION = "us-east-2"
STACK = "mp-scale"
RESOURCE = f"endpoint/{STACK}-sentiment/variant/AllTraffic"


def test_the_setting_is_stack_wide_or_per_model_and_never_on_serverless(tmp_path):
    toml = tmp_path / "aws.toml"
    toml.write_text('autoscale = "1:4:70"\n[[models]]\nname = "a"\narchive = "a.tar.gz"\n'
                    '[[models]]\nname = "b"\narchive = "b.tar.gz"\nautoscale = "2:6:150"\n'
                    '[[models]]\nname = "c"\narchive = "c.tar.gz"\nserverless_memory_mb = 2048\n')
    settings = load_settings(toml, environ={})
    assert [settings.model_autoscale(m) for m in settings.models] == [Autoscale(1, 4, 70.0), Autoscale(2, 6, 150.0), None]
    from_env = load_settings(None, environ={"MODELPORT_AWS_AUTOSCALE": "1:2:30", "MODELPORT_AWS_MODELS": "a=a.tar.gz"})
    assert from_env.model_autoscale(from_env.models[0]) == Autoscale(1, 2, 30.0)
    for bad, says in (("1:4", "write MIN:MAX:TARGET"), ("0:4:70", "1 <= MIN <= MAX"), ("3:2:70", "1 <= MIN <= MAX"),
                      ("1:4:0", "TARGET > 0"), ("1:4:70:9", "write MIN:MAX:TARGET")):
        with pytest.raises(SettingsError, match=says):
            load_settings(None, environ={"MODELPORT_AWS_AUTOSCALE": bad})


def described():
    aas = boto3.client("application-autoscaling", region_name=REGION)
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RESOURCE)["ScalingPolicies"]
    return ([(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets],
            [(p["PolicyName"], p["PolicyType"], p["TargetTrackingScalingPolicyConfiguration"]) for p in policies])


def test_deploy_registers_the_policy_redeploys_change_it_and_destroy_removes_it(tmp_path, lambda_package):
    archive = make_archive(tmp_path, "sk", "model.joblib", "scikit-learn==1.0.2\n")
    with mock_aws():
        settings = load_settings(None, environ={"MODELPORT_AWS_STACK": STACK, "AWS_REGION": REGION,
                                                "MODELPORT_AWS_PAGE_DIR": "", "MODELPORT_AWS_MODELS": f"sentiment={archive}",
                                                "MODELPORT_AWS_POLL_SECONDS": "0", "MODELPORT_AWS_AUTOSCALE": "1:3:70"})
        calls = Calls(region=REGION)
        result = deploy(settings, calls, Progress(sleep=lambda _: None), tmp_path, package=lambda_package)
        assert result.actions["autoscaling:sentiment"] == "created"
        tracking = {"TargetValue": 70.0, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
                    "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}
        assert described() == ([(RESOURCE, 1, 3)], [(f"{STACK}-invocations", "TargetTrackingScaling", tracking)])

        names, endpoint = stack_names(calls, settings), f"{STACK}-sentiment"
        assert ensure_autoscaling(calls, names, endpoint, Autoscale(1, 3, 70.0)) == "unchanged"
        assert ensure_autoscaling(calls, names, endpoint, Autoscale(2, 4, 50.0)) == "updated"
        assert described() == ([(RESOURCE, 2, 4)],
                               [(f"{STACK}-invocations", "TargetTrackingScaling", {**tracking, "TargetValue": 50.0})])
        assert ensure_autoscaling(calls, names, endpoint, None) == "removed"
        assert described() == ([], [])
        assert ensure_autoscaling(calls, names, endpoint, None) == "unchanged"

        assert ensure_autoscaling(calls, names, endpoint, Autoscale(1, 3, 70.0)) == "created"
        done = destroy(settings, calls, Progress(sleep=lambda _: None))
        assert done[f"autoscaling:{endpoint}"] == "deleted"
        assert described() == ([], [])
