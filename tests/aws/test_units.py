"""The pinned image table, archive inspection, settings merging, names and the Lambda zip's contents."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from modelport.aws.archives import inspect_archive, requirement_pins
from modelport.aws.images import ImageError, choose_image
from modelport.aws.lambda_zip import build_lambda_zip
from modelport.aws.names import Names
from modelport.aws.settings import SettingsError, load_settings
from modelport.aws.site import content_type
from tests.helpers.aws import make_archive

ROOT = Path(__file__).resolve().parents[2]


def test_image_table_matches_major_minor_uses_newest_for_a_pin_and_refuses_otherwise():
    sk = choose_image("sklearn", "1.2.2", pinned=False, region="us-east-1")
    assert sk.uri == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    pt = choose_image("pytorch", "2.3.1", pinned=False, region="ap-northeast-1")
    assert pt.uri == "763104351884.dkr.ecr.ap-northeast-1.amazonaws.com/pytorch-inference:2.3.0-cpu-py311"
    pinned = choose_image("pytorch", "2.13.0", pinned=True, region="us-east-1")
    assert pinned.uri.endswith("pytorch-inference:2.6.0-cpu-py312") and "torch==2.13.0" in pinned.reason
    with pytest.raises(ImageError, match=r"scikit-learn 1\.9\.1.*0\.23, 1\.0, 1\.2.*does not pin scikit-learn"):
        choose_image("sklearn", "1.9.1", pinned=False, region="us-east-1")
    with pytest.raises(ImageError, match="unknown torch version"):
        choose_image("pytorch", None, pinned=False, region="us-east-1")
    with pytest.raises(ImageError, match="no sklearn serving image is pinned for region mars-1"):
        choose_image("sklearn", "1.2.1", pinned=False, region="mars-1")


def test_archive_inspection_reads_pins_metrics_and_artifacts(tmp_path):
    pinned = inspect_archive(make_archive(tmp_path, "a", "model.pth", "# pins\ntorch==2.13.0  # cpu\nnumpy==2.4.6\n"))
    assert (pinned.framework, pinned.library_version, pinned.pinned) == ("pytorch", "2.13.0", True)
    from_metrics = inspect_archive(make_archive(tmp_path, "b", "model.joblib", "",
                                                metrics={"versions": {"scikit-learn": "1.0.2"}}))
    assert (from_metrics.framework, from_metrics.library_version, from_metrics.pinned) == ("sklearn", "1.0.2", False)
    assert len(from_metrics.sha256) == 64
    assert requirement_pins("Scikit_Learn == 1.2.2\n-r other.txt\n") == {"scikit-learn": "1.2.2"}
    with pytest.raises(ValueError, match="cannot tell the framework"):
        inspect_archive(make_archive(tmp_path, "c", "weights.bin", ""))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        inspect_archive(tmp_path / "nope.tar.gz")


def test_bundled_model_requirements_pin_their_library():
    """The bundled archives pin torch / scikit-learn, so they deploy on the newest image (see images.py)."""
    for model, library in (("mnist-sklearn", "scikit-learn"), ("mnist-pytorch", "torch"), ("sentiment", "scikit-learn")):
        pins = requirement_pins((ROOT / "src" / "modelport" / "bundled_models" / model / "code" / "requirements.txt").read_text())
        assert library in pins


def test_settings_merge_toml_env_and_overrides(tmp_path):
    toml = tmp_path / "aws.toml"
    toml.write_text('stack = "from-toml"\nregion = "eu-west-1"\ninstance_count = 3\n'
                    '[[models]]\nname = "sentiment"\narchive = "s.tar.gz"\ninstance_type = "ml.t2.medium"\n')
    settings = load_settings(toml, environ={"MODELPORT_AWS_STACK": "from-env", "AWS_REGION": "us-east-2"},
                             overrides={"region": "ap-south-1", "instance_type": None})
    assert (settings.stack, settings.region, settings.instance_count) == ("from-env", "ap-south-1", 3)
    assert settings.model_hosting(settings.models[0]) == {"InstanceType": "ml.t2.medium", "InitialInstanceCount": 3}
    defaults = load_settings(None, environ={"MODELPORT_HOME": str(tmp_path)})
    assert [m.name for m in defaults.models] == ["mnist-sklearn", "mnist-pytorch", "sentiment"]
    assert defaults.models[0].archive == tmp_path / "bundled" / "mnist-sklearn" / "model.tar.gz"
    with pytest.raises(SettingsError, match="serverless_memory_mb=1500"):
        load_settings(None, environ={"MODELPORT_AWS_SERVERLESS_MEMORY_MB": "1500"})
    with pytest.raises(SettingsError, match="unique"):
        load_settings(None, environ={"MODELPORT_AWS_MODELS": "a=x.tar.gz,a=y.tar.gz"})
    with pytest.raises(SettingsError, match="not valid TOML"):
        (tmp_path / "bad.toml").write_text("stack = ")
        load_settings(tmp_path / "bad.toml", environ={})


def test_site_origin_by_region_and_content_types():
    assert Names("s", "us-east-1", "1").site_origin == "http://s-site-1-us-east-1.s3-website-us-east-1.amazonaws.com"
    assert Names("s", "eu-central-1", "1").site_origin == "http://s-site-1-eu-central-1.s3-website.eu-central-1.amazonaws.com"
    assert content_type(Path("a.woff2")) == "font/woff2" and content_type(Path("x.webmanifest")) == "application/manifest+json"
    assert content_type(Path("x.unknownext")) == "application/octet-stream"


def test_lambda_zip_holds_the_gateway_and_cp312_linux_builds(lambda_package):  # noqa: F811
    names = zipfile.ZipFile(io.BytesIO(lambda_package.data)).namelist()
    archive = zipfile.ZipFile(io.BytesIO(lambda_package.data))
    assert archive.read("lambda_function.py") == (ROOT / "lambda_function.py").read_bytes()
    for required in ("modelport/__init__.py", "modelport/gateway/app.py", "modelport/gateway/aws_lambda.py",
                     "modelport/gateway/settings.py", "fastapi/__init__.py", "starlette/__init__.py",
                     "mangum/__init__.py", "pydantic/__init__.py", "pydantic_settings/__init__.py",
                     "pydantic_core/__init__.py", "orjson/__init__.pyi", "httpx/__init__.py", "anyio/__init__.py"):
        assert required in names, required
    compiled = [n for n in names if n.endswith(".so")]
    assert sorted(c.split("/")[0] for c in compiled) == ["orjson", "pydantic_core"]
    assert all(re.search(r"\.cpython-312-x86_64-linux-gnu\.so$", c) for c in compiled), compiled
    assert not [n for n in names if "cpython-311" in n or n.endswith(".pyc") or "__pycache__" in n]
    assert not [n for n in names if n.split("/")[0] in ("boto3", "botocore", "torch", "numpy", "sklearn")]
    assert any(n.startswith("pydantic_core-") and n.endswith(".dist-info/METADATA") for n in names)
    assert set(lambda_package.from_wheels) == {"orjson", "pydantic-core"}
    assert len(lambda_package.data) < 50 * 1024 * 1024  # Lambda's direct-upload limit


def test_lambda_zip_is_deterministic_and_follows_the_architecture(tmp_path, lambda_package):
    cache = tmp_path / "wheels"
    x86 = build_lambda_zip("x86_64", cache)
    assert x86.data == build_lambda_zip("x86_64", cache).data
    assert x86.code_sha256 == lambda_package.code_sha256
    arm = build_lambda_zip("arm64", cache)
    compiled = [n for n in zipfile.ZipFile(io.BytesIO(arm.data)).namelist() if n.endswith(".so")]
    assert compiled and all(c.endswith(".cpython-312-aarch64-linux-gnu.so") for c in compiled), compiled


RUN_HANDLER = r'''
import json, sys
zipdir, runtime = sys.argv[1], sys.argv[2]
sys.path[:0] = [zipdir, runtime]
import lambda_function, modelport, fastapi, pydantic_core
assert all(m.__file__.startswith(zipdir) for m in (lambda_function, modelport, fastapi, pydantic_core)), "not from the zip"

class Context:
    aws_request_id = "req-1"
    function_name = "mp-gateway"
    def get_remaining_time_in_millis(self):
        return 29000

def event(method, path, headers):
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": headers,
            "requestContext": {"http": {"method": method, "path": path, "sourceIp": "203.0.113.5", "userAgent": "t",
                                        "protocol": "HTTP/1.1"}, "requestId": "r1", "routeKey": "$default",
                               "stage": "$default", "timeEpoch": 0, "domainName": "x.execute-api.us-east-1.amazonaws.com",
                               "apiId": "x", "accountId": "123456789012"},
            "isBase64Encoded": False}

origin = "http://mp-site.s3-website-us-east-1.amazonaws.com"
health = lambda_function.lambda_handler(event("GET", "/health", {"origin": origin}), Context())
missing = lambda_function.lambda_handler(event("GET", "/nowhere", {}), Context())
print(json.dumps({"health": health, "missing": missing}))
'''


def test_the_zip_alone_answers_api_gateway_events(tmp_path, lambda_package):
    """The same package built for this machine's Python runs the handler with nothing but the zip on the
    path (plus what the Lambda runtime provides: boto3 and its dependencies) — so nothing is missing."""
    import json
    import subprocess
    import sys
    from importlib import metadata

    from modelport.aws.lambda_zip import RUNTIME_PROVIDED, _installed_files

    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    package = build_lambda_zip("x86_64", tmp_path / "wheels", python=here)
    assert sorted(package.distributions) == sorted(lambda_package.distributions)  # same closure as for 3.12
    zipdir, runtime = tmp_path / "zip", tmp_path / "runtime"
    zipfile.ZipFile(io.BytesIO(package.data)).extractall(zipdir)
    for name in RUNTIME_PROVIDED:
        for path, data in _installed_files(metadata.distribution(name)).items():
            (runtime / path).parent.mkdir(parents=True, exist_ok=True)
            (runtime / path).write_bytes(data)
    env = {"PATH": "/usr/bin:/bin", "MODELPORT_MODE": "aws", "AWS_LAMBDA_FUNCTION_NAME": "mp-gateway",
           "AWS_REGION": "us-east-1", "ALLOWED_ORIGINS": "http://mp-site.s3-website-us-east-1.amazonaws.com",
           "MODELPORT_ROUTES": '{"mnist-sklearn":"mp-mnist-sklearn"}', "CHAT_PROVIDER": "bedrock",
           "BEDROCK_MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0"}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", RUN_HANDLER, str(zipdir), str(runtime)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    health = answers["health"]
    assert health["statusCode"] == 200, health
    body = json.loads(health["body"])
    assert body["mode"] == "aws"
    headers = {k.lower(): v for k, v in health["headers"].items()}
    assert headers["access-control-allow-origin"] == "http://mp-site.s3-website-us-east-1.amazonaws.com"
    assert answers["missing"]["statusCode"] == 404 and "error" in json.loads(answers["missing"]["body"])


def test_a_new_role_is_retried_until_usable_other_errors_are_not():
    """IAM is eventually consistent: Lambda refuses a just-created role for a few seconds (Stubber)."""
    import boto3
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    from modelport.aws.iam import retry_while_role_propagates

    lam = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    params = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": b"z"}}
    waits = []
    with Stubber(lam) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException",
                              "The role defined for the function cannot be assumed by Lambda.")
        stub.add_response("create_function", {"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"},
                          expected_params=params)
        arn = retry_while_role_propagates(lambda: lam.create_function(**params)["FunctionArn"], lambda: waits.append(1))
        assert arn.endswith(":function:f") and waits == [1]
        stub.add_client_error("create_function", "InvalidParameterValueException", "Unzipped size must be smaller")
        with pytest.raises(ClientError, match="Unzipped size"):
            retry_while_role_propagates(lambda: lam.create_function(**params), lambda: waits.append(2))
        assert waits == [1]
