"""`modelport aws deploy|destroy --plan` (every call it would make, nothing changed) and the CLI under moto."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from modelport.cli.main import app
from tests.helpers.aws import ACCOUNT, make_archive, make_page  # noqa: F401 (also sets dummy credentials)

REGION = "us-west-2"
STACK = "mp-plan"


def operations(output: str) -> list[str]:
    """The numbered `service.operation` lines of a printed plan."""
    return re.findall(r"^\s*\d+\. (\S+) ", output, flags=re.M)


def planned(output: str, operation: str) -> list[dict]:
    """The parameters of every planned call of ``operation``."""
    return [json.loads(line.split(" ", 2)[2]) for line in
            (line.strip() for line in output.splitlines()) if re.match(rf"\d+\. {re.escape(operation)} ", line)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    archive = make_archive(tmp_path, "sk", "model.joblib", "scikit-learn==1.2.2\n")
    page = make_page(tmp_path)
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPORT_AWS_POLL_SECONDS", "0")
    args = ["--stack", STACK, "--region", REGION, "--model", f"mnist-sklearn={archive}"]
    return {"args": args, "page": str(page), "archive": archive, "root": tmp_path}


def buckets() -> list[str]:
    return [b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]]


def test_plan_lists_every_call_of_a_fresh_deploy_and_changes_nothing(env):
    runner = CliRunner()
    with mock_aws():
        result = runner.invoke(app, ["aws", "deploy", "--plan", *env["args"], "--page-dir", env["page"],
                                     "--bedrock-model-id", "us.anthropic.claude-3-5-haiku-20241022-v1:0"])
        assert result.exit_code == 0, result.output
        assert operations(result.stdout) == [
            "s3.create_bucket", "s3.put_bucket_tagging", "s3.put_bucket_encryption", "s3.put_public_access_block",
            "s3.upload_file", "iam.create_role", "iam.put_role_policy",
            "sagemaker.create_model", "sagemaker.create_endpoint_config", "sagemaker.create_endpoint",
            "sagemaker.wait_endpoint_in_service", "iam.create_role", "iam.put_role_policy",
            "lambda.create_function", "lambda.wait_function_ready", "apigatewayv2.create_api",
            "apigatewayv2.create_integration", "apigatewayv2.create_route", "apigatewayv2.create_stage",
            "lambda.add_permission", "s3.create_bucket", "s3.put_bucket_tagging", "s3.put_public_access_block",
            "s3.put_bucket_policy", "s3.put_bucket_website",
            "s3.put_object", "s3.put_object", "s3.put_object", "s3.put_object", "s3.put_object"]
        assert "plan: 30 call(s)" in result.stdout
        [model] = planned(result.stdout, "sagemaker.create_model")
        assert model["PrimaryContainer"]["Image"] == \
            "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
        assert model["ExecutionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{STACK}-sagemaker"
        function = planned(result.stdout, "lambda.create_function")[0]
        assert function["Code"]["ZipFile"].endswith(" bytes>") and function["Runtime"] == "python3.12"
        assert function["Environment"]["Variables"]["BEDROCK_MODEL_ID"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
        gateway_policy = json.loads(planned(result.stdout, "iam.put_role_policy")[1]["PolicyDocument"])
        bedrock = next(s for s in gateway_policy["Statement"] if s["Sid"] == "BedrockChat")
        assert bedrock["Resource"] == [
            f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"]
        config_put = [p for p in planned(result.stdout, "s3.put_object") if p["Key"] == "config.json"]
        assert config_put and config_put[0]["ContentType"] == "application/json"
        # nothing was created
        assert buckets() == []
        assert boto3.client("lambda", region_name=REGION).list_functions()["Functions"] == []


def test_cli_deploy_status_plan_of_a_change_and_destroy(env):
    runner = CliRunner()
    with mock_aws():
        deployed = runner.invoke(app, ["aws", "deploy", *env["args"], "--page-dir", ""])
        assert deployed.exit_code == 0, deployed.output
        assert re.search(r"API:  https://\w+\.execute-api\.us-west-2\.amazonaws\.com", deployed.stdout)

        status = runner.invoke(app, ["aws", "status", *env["args"], "--json", "--page-dir", ""])
        assert status.exit_code == 0, status.output
        rows = json.loads(status.stdout)
        assert {(r["kind"], r["state"]) for r in rows} == {
            ("s3 bucket", "present"), ("iam role", "present"), ("endpoint", "InService"),
            ("lambda function", "Active/Successful"), ("http api", "present")}

        unchanged = runner.invoke(app, ["aws", "deploy", "--plan", *env["args"], "--page-dir", ""])
        assert unchanged.exit_code == 0, unchanged.output
        assert operations(unchanged.stdout) == [] and "plan: 0 call(s)" in unchanged.stdout

        make_archive(env["root"], "sk", "model.joblib", "scikit-learn==1.2.2\n", payload=b"v2")
        change = runner.invoke(app, ["aws", "deploy", "--plan", *env["args"], "--page-dir", ""])
        assert change.exit_code == 0, change.output
        assert operations(change.stdout) == [
            "s3.upload_file", "sagemaker.create_model", "sagemaker.create_endpoint_config",
            "sagemaker.update_endpoint", "sagemaker.wait_endpoint_in_service",
            "sagemaker.delete_endpoint_config", "sagemaker.delete_model"]
        [update] = planned(change.stdout, "sagemaker.update_endpoint")
        assert update["EndpointName"] == f"{STACK}-mnist-sklearn"

        destroy_plan = runner.invoke(app, ["aws", "destroy", "--plan", *env["args"]])
        assert destroy_plan.exit_code == 0, destroy_plan.output
        assert operations(destroy_plan.stdout)[:4] == ["apigatewayv2.delete_api", "lambda.delete_function",
                                                       "iam.delete_role_policy", "iam.delete_role"]
        assert "sagemaker.delete_endpoint" in operations(destroy_plan.stdout)
        assert operations(destroy_plan.stdout)[-1] == "s3.delete_bucket"
        assert len(buckets()) == 1  # the plan deleted nothing

        gone = runner.invoke(app, ["aws", "destroy", "--yes", *env["args"]])
        assert gone.exit_code == 0, gone.output
        assert buckets() == []
        after = runner.invoke(app, ["aws", "status", *env["args"]], env={"MODELPORT_AWS_PAGE_DIR": ""})
        assert after.exit_code == 1 and "missing" in after.stdout


def test_cli_says_what_is_wrong_with_settings(env, tmp_path):
    runner = CliRunner()
    bad = runner.invoke(app, ["aws", "deploy", "--plan", "--stack", "Bad_Name", "--model", "x=y.tar.gz"])
    assert bad.exit_code == 2 and "stack name 'Bad_Name'" in bad.output
    toml = tmp_path / "typo.toml"
    toml.write_text('stak = "x"\n')
    typo = runner.invoke(app, ["aws", "status", "--config", str(toml)])
    assert typo.exit_code == 2 and "stak" in typo.output
    missing = runner.invoke(app, ["aws", "deploy", "--plan", "--model", "mnist-sklearn"])
    assert missing.exit_code == 2 and "NAME=PATH" in missing.output
