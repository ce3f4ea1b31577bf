"""`modelport aws` under moto: deploy → status → re-deploy (nothing twice; update on change) → destroy,
asserting the exact resources and their settings. UpdateEndpoint, which moto does not model, is checked
with a botocore Stubber (exact parameters) and its effect applied to moto's endpoint."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from modelport.aws.calls import Calls
from modelport.aws.deploy import deploy
from modelport.aws.destroy import destroy
from modelport.aws.images import ImageError
from modelport.aws.progress import Progress
from modelport.aws.settings import load_settings
from modelport.aws.status import stack_status
from tests.helpers.aws import ACCOUNT, make_archive, make_page

REGION = "eu-west-1"
STACK = "mp-test"
SITE = f"{STACK}-site-{ACCOUNT}-{REGION}"
ARTIFACTS = f"{STACK}-artifacts-{ACCOUNT}-{REGION}"
SITE_ORIGIN = f"http://{SITE}.s3-website-{REGION}.amazonaws.com"
SKLEARN_IMAGE = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PYTORCH_IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
BEDROCK = "anthropic.claude-3-haiku-20240307-v1:0"
TAGS = {"modelport:stack": STACK}

class SageMakerWithUpdate:
    """moto's SageMaker client plus UpdateEndpoint (not modelled by moto): the call goes through a
    Stubber-backed client that checks its exact parameters; then moto's endpoint is switched over."""

    def __init__(self, client):
        self._client = client
        self.stubbed = boto3.client("sagemaker", region_name=REGION)
        self.stubber = Stubber(self.stubbed)
        self.stubber.activate()

    def expect_update(self, endpoint: str) -> None:
        self.stubber.add_response("update_endpoint",
                                  {"EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{endpoint}"},
                                  expected_params={"EndpointName": endpoint, "EndpointConfigName": ANY})

    def update_endpoint(self, **params):
        answer = self.stubbed.update_endpoint(**params)
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[ACCOUNT][REGION]
        backend.endpoints[params["EndpointName"]].endpoint_config_name = params["EndpointConfigName"]
        return answer

    def __getattr__(self, name):
        return getattr(self._client, name)


class TestCalls(Calls):
    __test__ = False

    def client(self, service):
        if service == "sagemaker" and service not in self._clients:
            plain = Calls(region=self.region)
            self._clients[service] = SageMakerWithUpdate(plain.client("sagemaker"))
        return super().client(service)


@pytest.fixture
def deploy_inputs(tmp_path):
    """Archives (sklearn matching an image; PyTorch pinned to a version without one), page, settings."""
    sk = make_archive(tmp_path, "sk", "model.joblib", "scikit-learn==1.2.2\njoblib==1.3.2\n")
    pt = make_archive(tmp_path, "pt", "model.pth", "torch==2.13.0\n")
    config = tmp_path / "aws.toml"
    config.write_text(f'''
stack = "{STACK}"
region = "{REGION}"
instance_type = "ml.c5.large"
instance_count = 2
bedrock_model_id = "{BEDROCK}"
throttle_rate = 7.5
throttle_burst = 15
page_dir = "{make_page(tmp_path)}"
extra_origins = ["http://localhost:5173"]
poll_seconds = 0

[[models]]
name = "mnist-sklearn"
archive = "{sk}"

[[models]]
name = "mnist-pytorch"
archive = "{pt}"
serverless_memory_mb = 2048
''')
    return {"config": config, "sk": sk, "pt": pt, "root": tmp_path}


def quiet() -> Progress:
    return Progress(sleep=lambda _: None)


def inventory() -> dict:
    """Everything that exists in the mocked account, by kind (to prove nothing is created twice)."""
    sm = boto3.client("sagemaker", region_name=REGION)
    return {
        "buckets": sorted(b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]),
        "roles": sorted(r["RoleName"] for r in boto3.client("iam").list_roles()["Roles"]),
        "models": sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        "configs": sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
        "endpoints": sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]),
        "functions": sorted(f["FunctionName"] for f in boto3.client("lambda", region_name=REGION).list_functions()["Functions"]),
        "apis": sorted(a["Name"] for a in boto3.client("apigatewayv2", region_name=REGION).get_apis()["Items"]),
    }


def check_resources(result, settings):
    s3 = boto3.client("s3", region_name=REGION)
    iam = boto3.client("iam")
    sm = boto3.client("sagemaker", region_name=REGION)
    lam = boto3.client("lambda", region_name=REGION)
    apigw = boto3.client("apigatewayv2", region_name=REGION)

    # archives bucket: encrypted, private, tagged; archives content-addressed and encrypted
    rules = s3.get_bucket_encryption(Bucket=ARTIFACTS)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_public_access_block(Bucket=ARTIFACTS)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=ARTIFACTS)["TagSet"]} == TAGS
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ARTIFACTS)["Contents"]]
    assert sorted(k.split("/")[1] for k in keys) == ["mnist-pytorch", "mnist-sklearn"]
    assert s3.head_object(Bucket=ARTIFACTS, Key=keys[0])["ServerSideEncryption"] == "AES256"

    # SageMaker execution role: trusted by SageMaker only; reads only this stack's archives
    role = iam.get_role(RoleName=f"{STACK}-sagemaker")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert {t["Key"]: t["Value"] for t in role["Tags"]} == TAGS
    policy = iam.get_role_policy(RoleName=f"{STACK}-sagemaker", PolicyName="modelport")["PolicyDocument"]
    read = next(s for s in policy["Statement"] if s["Sid"] == "ReadArchives")
    assert read == {"Sid": "ReadArchives", "Effect": "Allow", "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{ARTIFACTS}/{STACK}/*"]}
    pull = next(s for s in policy["Statement"] if s["Sid"] == "PullImages")
    assert pull["Resource"] == [f"arn:aws:ecr:{REGION}:141502667606:repository/sagemaker-scikit-learn",
                                f"arn:aws:ecr:{REGION}:763104351884:repository/pytorch-inference"]

    # one model + config per archive, with the pinned image, the archive and the container env
    models = {m["ModelName"]: sm.describe_model(ModelName=m["ModelName"]) for m in sm.list_models()["Models"]}
    by_route = {name.rsplit("-", 1)[0].removeprefix(f"{STACK}-"): m for name, m in models.items()}
    assert set(by_route) == {"mnist-sklearn", "mnist-pytorch"}
    for route, image in (("mnist-sklearn", SKLEARN_IMAGE), ("mnist-pytorch", PYTORCH_IMAGE)):
        container = by_route[route]["PrimaryContainer"]
        assert container["Image"] == image
        assert container["ModelDataUrl"].startswith(f"s3://{ARTIFACTS}/{STACK}/{route}/")
        assert container["Environment"] == {"SAGEMAKER_PROGRAM": "inference.py",
                                            "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                                            "SAGEMAKER_CONTAINER_LOG_LEVEL": "20", "SAGEMAKER_REGION": REGION}
        assert by_route[route]["ExecutionRoleArn"] == role["Arn"]
    assert result.images["mnist-pytorch"].framework_version == "2.6"
    assert "installs the pinned torch==2.13.0" in result.images["mnist-pytorch"].reason

    endpoints = {e: sm.describe_endpoint(EndpointName=f"{STACK}-{e}") for e in ("mnist-sklearn", "mnist-pytorch")}
    assert all(e["EndpointStatus"] == "InService" for e in endpoints.values())
    sk_variant = sm.describe_endpoint_config(EndpointConfigName=endpoints["mnist-sklearn"]["EndpointConfigName"])["ProductionVariants"][0]
    assert (sk_variant["InstanceType"], sk_variant["InitialInstanceCount"], sk_variant["VariantName"]) == ("ml.c5.large", 2, "AllTraffic")
    pt_variant = sm.describe_endpoint_config(EndpointConfigName=endpoints["mnist-pytorch"]["EndpointConfigName"])["ProductionVariants"][0]
    assert pt_variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    for arn in [e["EndpointArn"] for e in endpoints.values()] + [m["ModelArn"] for m in models.values()]:
        assert {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]} == TAGS

    # gateway role: invoke only these endpoints, Bedrock only for the chosen model
    gw_policy = iam.get_role_policy(RoleName=f"{STACK}-gateway", PolicyName="modelport")["PolicyDocument"]
    statements = {s["Sid"]: s for s in gw_policy["Statement"]}
    assert statements["InvokeEndpoints"]["Resource"] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{STACK}-mnist-sklearn",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{STACK}-mnist-pytorch"]
    assert "sagemaker:InvokeEndpoint" in statements["InvokeEndpoints"]["Action"]
    assert statements["BedrockChat"]["Resource"] == [f"arn:aws:bedrock:{REGION}::foundation-model/{BEDROCK}"]
    assert statements["BedrockChat"]["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    assert not [s for s in gw_policy["Statement"] if s["Resource"] == "*"]

    # Lambda: Python 3.12 on x86_64, the zip we built, the gateway's environment
    function = lam.get_function(FunctionName=f"{STACK}-gateway")
    config = function["Configuration"]
    assert (config["Runtime"], config["Handler"], config["Architectures"]) == (
        "python3.12", "lambda_function.lambda_handler", ["x86_64"])
    assert config["Role"] == iam.get_role(RoleName=f"{STACK}-gateway")["Role"]["Arn"]
    assert config["Environment"]["Variables"] == {
        "MODELPORT_MODE": "aws",
        "MODELPORT_ROUTES": json.dumps({"mnist-pytorch": f"{STACK}-mnist-pytorch",
                                        "mnist-sklearn": f"{STACK}-mnist-sklearn"}, separators=(",", ":")),
        "MODELPORT_INVOKE_ENDPOINTS": f"{STACK}-mnist-pytorch,{STACK}-mnist-sklearn",
        "MNIST_SKLEARN_ENDPOINT": f"{STACK}-mnist-sklearn", "MNIST_PYTORCH_ENDPOINT": f"{STACK}-mnist-pytorch",
        "ALLOWED_ORIGINS": f"{SITE_ORIGIN},http://localhost:5173",
        "CHAT_PROVIDER": "bedrock", "BEDROCK_MODEL_ID": BEDROCK, "BEDROCK_REGION": REGION,
        "MODELPORT_BACKEND_TIMEOUT": "25", "MODELPORT_RUNTIME_CLIENT": "boto3"}
    assert function["Tags"] == TAGS

    # HTTP API: Lambda proxy (payload 2.0), CORS for the page's origin, throttled $default stage
    api = next(a for a in apigw.get_apis()["Items"] if a["Name"] == f"{STACK}-api")
    assert api["ProtocolType"] == "HTTP" and api["Tags"] == TAGS
    assert api["CorsConfiguration"]["AllowOrigins"] == [SITE_ORIGIN, "http://localhost:5173"]
    assert api["CorsConfiguration"]["AllowMethods"] == ["GET", "POST", "OPTIONS"]
    assert "content-type" in api["CorsConfiguration"]["AllowHeaders"]
    [integration] = apigw.get_integrations(ApiId=api["ApiId"])["Items"]
    assert (integration["IntegrationType"], integration["IntegrationUri"], integration["PayloadFormatVersion"]) == (
        "AWS_PROXY", config["FunctionArn"], "2.0")
    [route] = apigw.get_routes(ApiId=api["ApiId"])["Items"]
    assert (route["RouteKey"], route["Target"]) == ("$default", f"integrations/{integration['IntegrationId']}")
    [stage] = apigw.get_stages(ApiId=api["ApiId"])["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 15
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 7.5
    [permission] = json.loads(lam.get_policy(FunctionName=f"{STACK}-gateway")["Policy"])["Statement"]
    assert permission["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api['ApiId']}/*" in json.dumps(permission["Condition"])
    assert result.api_url == api["ApiEndpoint"]

    # page: website, public read of this bucket's objects only, right types, config.json → API
    assert s3.get_bucket_website(Bucket=SITE)["IndexDocument"] == {"Suffix": "index.html"}
    site_policy = json.loads(s3.get_bucket_policy(Bucket=SITE)["Policy"])
    assert site_policy["Statement"] == [{"Sid": "PublicReadSite", "Effect": "Allow", "Principal": "*",
                                         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{SITE}/*"}]
    assert s3.get_public_access_block(Bucket=SITE)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    types = {key: s3.head_object(Bucket=SITE, Key=key)["ContentType"] for key in
             ("index.html", "assets/index-abc123.js", "assets/index-abc123.css", "favicon.svg", "config.json")}
    assert types == {"index.html": "text/html; charset=utf-8", "assets/index-abc123.js": "text/javascript; charset=utf-8",
                     "assets/index-abc123.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml",
                     "config.json": "application/json"}
    assert s3.head_object(Bucket=SITE, Key="assets/index-abc123.js")["CacheControl"] == "public, max-age=31536000, immutable"
    assert json.loads(s3.get_object(Bucket=SITE, Key="config.json")["Body"].read()) == {"apiBase": result.api_url}
    assert result.site_url == SITE_ORIGIN + "/"


def test_full_cycle(deploy_inputs, lambda_package):
    with mock_aws():
        settings = load_settings(deploy_inputs["config"], environ={})
        calls = TestCalls(region=REGION)
        result = deploy(settings, calls, quiet(), deploy_inputs["root"], package=lambda_package)
        assert set(result.actions.values()) <= {"created", "uploaded"}
        check_resources(result, settings)
        first = inventory()
        assert first["functions"] == [f"{STACK}-gateway"] and first["apis"] == [f"{STACK}-api"]
        assert first["buckets"] == sorted([ARTIFACTS, SITE])
        assert first["roles"] == [f"{STACK}-gateway", f"{STACK}-sagemaker"]
        assert len(first["models"]) == len(first["configs"]) == 2

        rows = stack_status(settings, calls)
        assert [(r.kind, r.name, r.state) for r in rows] == [
            ("s3 bucket", ARTIFACTS, "present"), ("iam role", f"{STACK}-sagemaker", "present"),
            ("endpoint", f"{STACK}-mnist-sklearn", "InService"), ("endpoint", f"{STACK}-mnist-pytorch", "InService"),
            ("iam role", f"{STACK}-gateway", "present"), ("lambda function", f"{STACK}-gateway", "Active/Successful"),
            ("http api", f"{STACK}-api", "present"), ("s3 website", SITE, "present")]
        assert all(r.healthy for r in rows)

        # unchanged re-deploy: nothing created, nothing updated
        again = deploy(settings, calls, quiet(), deploy_inputs["root"], package=lambda_package)
        assert set(again.actions.values()) == {"unchanged"}, again.actions
        assert inventory() == first and again.api_url == result.api_url

        # changed archive: a new version and a blue/green UpdateEndpoint; the old version is removed
        old_config = boto3.client("sagemaker", region_name=REGION).describe_endpoint(
            EndpointName=f"{STACK}-mnist-sklearn")["EndpointConfigName"]
        make_archive(deploy_inputs["root"], "sk", "model.joblib", "scikit-learn==1.2.2\njoblib==1.3.2\n", payload=b"retrained")
        seam = calls.client("sagemaker")
        seam.expect_update(f"{STACK}-mnist-sklearn")
        changed = deploy(settings, calls, quiet(), deploy_inputs["root"], package=lambda_package)
        seam.stubber.assert_no_pending_responses()
        assert changed.actions["endpoint:mnist-sklearn"] == "updated"
        assert changed.actions["s3:mnist-sklearn"] == "uploaded"
        assert {k: v for k, v in changed.actions.items() if k not in ("endpoint:mnist-sklearn", "s3:mnist-sklearn")} \
            == {k: "unchanged" for k in changed.actions if k not in ("endpoint:mnist-sklearn", "s3:mnist-sklearn")}
        after = inventory()
        assert old_config not in after["configs"] and old_config not in after["models"]
        assert len(after["configs"]) == len(after["models"]) == 2
        new_config = boto3.client("sagemaker", region_name=REGION).describe_endpoint(
            EndpointName=f"{STACK}-mnist-sklearn")["EndpointConfigName"]
        assert new_config in after["configs"] and new_config != old_config
        assert {k: v for k, v in after.items() if k not in ("configs", "models")} == \
            {k: v for k, v in first.items() if k not in ("configs", "models")}

        # destroy removes everything, and is safe to run again
        done = destroy(settings, calls, quiet())
        assert done["apigw:api"] == done["lambda:gateway"] == done["s3:site"] == done["s3:artifacts"] == "deleted"
        assert inventory() == {"buckets": [], "roles": [], "models": [], "configs": [], "endpoints": [],
                               "functions": [], "apis": []}
        again = destroy(settings, calls, quiet())
        assert set(again.values()) == {"absent"}
        assert not any(r.healthy for r in stack_status(settings, calls))


def test_refuses_an_archive_without_a_matching_image_before_creating_anything(tmp_path, lambda_package):
    unpinned = make_archive(tmp_path, "old", "model.joblib", "", metrics={"versions": {"scikit-learn": "1.5.2"}})
    with mock_aws():
        settings = load_settings(None, environ={}, overrides={
            "stack": STACK, "region": REGION, "page_dir": "", "models": [{"name": "old", "archive": str(unpinned)}]})
        with pytest.raises(ImageError) as refused:
            deploy(settings, TestCalls(region=REGION), quiet(), tmp_path, package=lambda_package)
        assert "scikit-learn 1.5.2" in str(refused.value) and "1.2" in str(refused.value)
        assert "requirements.txt" in str(refused.value)
        assert inventory()["buckets"] == [] and inventory()["roles"] == []


def test_given_role_arn_is_used_and_kept(tmp_path, lambda_package):
    archive = make_archive(tmp_path, "sk", "model.joblib", "scikit-learn==1.0.2\n")
    given = f"arn:aws:iam::{ACCOUNT}:role/team-sagemaker"
    with mock_aws():
        settings = load_settings(None, environ={"MODELPORT_AWS_ROLE_ARN": given, "MODELPORT_AWS_STACK": STACK,
                                                "AWS_REGION": "us-east-2", "MODELPORT_AWS_PAGE_DIR": "",
                                                "MODELPORT_AWS_MODELS": f"sentiment={archive}",
                                                "MODELPORT_AWS_POLL_SECONDS": "0"})
        calls = TestCalls(region="us-east-2")
        result = deploy(settings, calls, quiet(), tmp_path, package=lambda_package)
        sm = boto3.client("sagemaker", region_name="us-east-2")
        [model] = sm.list_models()["Models"]
        described = sm.describe_model(ModelName=model["ModelName"])
        assert described["ExecutionRoleArn"] == given
        assert described["PrimaryContainer"]["Image"] == \
            "257758044811.dkr.ecr.us-east-2.amazonaws.com/sagemaker-scikit-learn:1.0-1-cpu-py3"
        assert "iam:sagemaker-role" not in result.actions and "s3:site" not in result.actions
        env = boto3.client("lambda", region_name="us-east-2").get_function_configuration(
            FunctionName=f"{STACK}-gateway")["Environment"]["Variables"]
        assert env["SENTIMENT_ENDPOINT"] == f"{STACK}-sentiment" and "CHAT_PROVIDER" not in env
        done = destroy(settings, calls, quiet())
        assert done["iam:sagemaker-role"] == "kept (given by role_arn)"
        assert inventory()["roles"] == []


def test_a_failed_endpoint_shows_in_status_and_is_recreated(tmp_path, lambda_package):
    archive = make_archive(tmp_path, "sk", "model.joblib", "scikit-learn==1.2.2\n")
    with mock_aws():
        settings = load_settings(None, environ={}, overrides={
            "stack": STACK, "region": REGION, "page_dir": "", "poll_seconds": 0,
            "models": [{"name": "mnist-sklearn", "archive": str(archive)}]})
        calls = TestCalls(region=REGION)
        deploy(settings, calls, quiet(), tmp_path, package=lambda_package)
        before = inventory()
        from moto.sagemaker.models import sagemaker_backends

        endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[f"{STACK}-mnist-sklearn"]
        endpoint.endpoint_status, endpoint.failure_reason = "Failed", "the container did not pass /ping"
        [row] = [r for r in stack_status(settings, calls) if r.kind == "endpoint"]
        assert (row.state, row.healthy) == ("Failed", False) and "did not pass /ping" in row.detail
        progress = quiet()
        again = deploy(settings, calls, progress, tmp_path, package=lambda_package)
        assert again.actions["endpoint:mnist-sklearn"] == "created"
        assert any("is Failed (the container did not pass /ping); recreating it" in s for s in progress.steps)
        assert inventory() == before  # same model and config reused, one endpoint
        [row] = [r for r in stack_status(settings, calls) if r.kind == "endpoint"]
        assert (row.state, row.healthy) == ("InService", True)
