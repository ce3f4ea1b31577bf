"""deploy/template.yaml: cfn-lint clean, and the SAM transform (aws-sam-translator, offline) yields the
same infrastructure `modelport aws deploy` builds. deploy/Dockerfile: the BYOC `serve` entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


class NoManagedPolicies:
    """The template uses inline policies only, so the translator never needs IAM's managed policy list."""

    def load(self):
        return {}


def lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CFN_LINT), "--format", "parseable", str(path)], capture_output=True, text=True)


def test_template_passes_cfn_lint_and_a_broken_one_does_not(tmp_path):
    done = lint(TEMPLATE)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("InstanceType: !Ref InstanceType", "InstanceTypo: !Ref InstanceType"))
    failed = lint(broken)
    assert failed.returncode != 0 and "InstanceTypo" in failed.stdout


def test_sam_transform_offline_gives_the_deployed_shape(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator asks boto3 for a region; no calls
    template = load_cfn_yaml(str(TEMPLATE))
    output = transform(template, {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                                  "AWS::Partition": "aws"}, NoManagedPolicies())
    resources = output["Resources"]
    types = sorted({r["Type"] for r in resources.values()})
    assert "AWS::Serverless::Function" not in types and "AWS::Serverless::HttpApi" not in types
    for needed in ("AWS::Lambda::Function", "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage",
                   "AWS::Lambda::Permission", "AWS::SageMaker::Endpoint", "AWS::S3::BucketPolicy", "AWS::IAM::Role"):
        assert needed in types, needed
    function = resources["GatewayFunction"]["Properties"]
    assert function["Runtime"] == "python3.12" and function["Handler"] == "lambda_function.lambda_handler"
    assert {t["Key"]: t["Value"] for t in function["Tags"]}["modelport:stack"] == {"Ref": "StackTag"}
    env = function["Environment"]["Variables"]
    assert env["CHAT_PROVIDER"] == "bedrock" and env["MODELPORT_MODE"] == "aws"
    api = resources["GatewayApi"]["Properties"]["Body"]
    assert api["x-amazon-apigateway-cors"]["allowOrigins"] == [{"Fn::GetAtt": ["SiteBucket", "WebsiteURL"]}]
    [route] = api["paths"].values()
    integration = route["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy" and integration["payloadFormatVersion"] == "2.0"
    stage = next(r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["StageName"] == "$default"
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": {"Ref": "ThrottleBurst"},
                                             "ThrottlingRateLimit": {"Ref": "ThrottleRate"}}
    role = resources["GatewayFunctionRole"]["Properties"]
    inline = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    assert {s["Sid"] for s in inline} == {"InvokeEndpoints", "BedrockChat"}
    assert not [s for s in inline if s["Resource"] == "*"]
    endpoints = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Endpoint"]
    assert len(endpoints) == 3


def test_dockerfile_serve_entry_point_runs_modelport_on_8080():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    serve = (ROOT / "deploy" / "serve").read_text()
    assert 'ENTRYPOINT ["/usr/local/bin/serve"]' in dockerfile and "EXPOSE 8080" in dockerfile
    assert "COPY deploy/serve /usr/local/bin/serve" in dockerfile
    assert serve.startswith("#!/bin/sh")
    assert 'exec modelport serve /opt/ml/model --host 0.0.0.0 --port "${SAGEMAKER_BIND_TO_PORT:-8080}"' in serve
