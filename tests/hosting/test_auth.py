"""Hosting's gate and the control API's guards, against real hosting (in-process servers and
`modelport hosting` processes): the token (SigV4 access key id, Bearer, presigned credential), foreign
Host and browser Origin refused, wrong tokens rate-limited, non-loopback binds refused without
--allow-remote and a token, ModelDataUrl only under the allowed roots, Environment keys that load
code refused, and caps on instances and workers."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from tests.helpers.hosting import auth_headers, clients, deploy, make_archive, start_hosting
from modelport.cli.main import app
from modelport.hosting.auth import FAILURE_BURST, Gate, Refusal
from modelport.hosting.settings import HostingSettings
from modelport.token import token_file
from tests.helpers.processes import free_port, stop, wait_until_up
from tests.helpers.waiting import eventually

ROLE = "arn:aws:iam::123456789012:role/test"


@pytest.fixture(scope="module")
def hosting_options():
    """Hosting whose model roots are only its MODELPORT_HOME (no extra roots), with tight caps."""
    return {"model_roots": "", "max_instances_per_variant": 2, "max_instances": 3, "max_model_workers": 2}


@pytest.fixture(scope="module")
def inside(hosting, archive):
    """A copy of ``archive`` under hosting's MODELPORT_HOME (an allowed root)."""
    copy = hosting.home / "artifacts" / "model.tar.gz"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(archive.read_bytes())
    return copy


def sm_client(url: str, key: str):
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key="any", config=Config(retries={"max_attempts": 1}))


def rt_client(url: str, key: str):
    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key="any", config=Config(retries={"max_attempts": 1}))


def control(url: str, operation: str, body: dict | None = None, **headers: str) -> httpx.Response:
    return httpx.post(url + "/", json=body or {}, headers={"X-Amz-Target": f"SageMaker.{operation}",
                                                          "Content-Type": "application/x-amz-json-1.1", **headers})


def refused(response: httpx.Response, status: int, code: str) -> str:
    """Assert SageMaker's error shape (body ``__type`` + ``message``, ``x-amzn-ErrorType``); return the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["__type"] == code and response.headers["x-amzn-errortype"] == code
    assert "Traceback" not in response.text
    return body["message"]


# --- the token ----------------------------------------------------------------------------------------------


def test_token_file_is_private_and_printed_by_the_cli(hosting):
    server = hosting
    path = token_file(server.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == server.token and len(server.token) >= 40
    result = CliRunner().invoke(app, ["hosting", "token"], env={"MODELPORT_HOME": str(server.home),
                                                                "MODELPORT_HOSTING_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == server.token


def test_boto3_with_a_wrong_or_no_token_gets_unrecognized_client_exception(hosting):
    server = hosting
    for client in (sm_client(server.url, "not-the-token"), sm_client(server.url, server.token[:-1])):
        with pytest.raises(ClientError) as excinfo:
            client.list_endpoints()
        error = excinfo.value.response
        assert error["Error"]["Code"] == "UnrecognizedClientException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "modelport hosting token" in error["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        rt_client(server.url, "not-the-token").invoke_endpoint(EndpointName="any", Body=b"{}",
                                                               ContentType="application/json")
    assert excinfo.value.response["Error"]["Code"] == "UnrecognizedClientException"
    # the right token as the access key id (SigV4 Credential=, signature unchecked) passes on both APIs
    assert sm_client(server.url, server.token).list_endpoints()["Endpoints"] == []
    with pytest.raises(rt_client(server.url, server.token).exceptions.ValidationError):
        rt_client(server.url, server.token).invoke_endpoint(EndpointName="nothing-here", Body=b"{}")


def test_raw_requests_need_the_token_on_every_route(hosting):
    server = hosting
    url = server.url
    for response in (control(url, "ListEndpoints"),
                     httpx.post(f"{url}/endpoints/x/invocations", content=b"{}"),
                     httpx.post(f"{url}/endpoints/x/invocations-response-stream", content=b"{}"),
                     httpx.get(f"{url}/_modelport/endpoints/x/instances"),
                     httpx.get(f"{url}/no/such/route"),
                     httpx.get(f"{url}/_modelport/endpoints/x/instances", headers={"Authorization": "Basic abc"})):
        assert "Missing hosting token" in refused(response, 403, "UnrecognizedClientException")
    wrong = httpx.post(f"{url}/endpoints/x/invocations", content=b"{}", headers={"Authorization": "Bearer nope"})
    assert "is invalid" in refused(wrong, 403, "UnrecognizedClientException")
    # Bearer, SigV4 and a presigned URL's X-Amz-Credential are all accepted
    bearer = control(url, "ListEndpoints", **auth_headers(url))
    assert bearer.status_code == 200 and bearer.json()["Endpoints"] == []
    sigv4 = f"AWS4-HMAC-SHA256 Credential={server.token}/20260101/us-east-1/sagemaker/aws4_request, " \
            f"SignedHeaders=host, Signature=00"
    assert control(url, "ListModels", Authorization=sigv4).status_code == 200
    presigned = httpx.get(f"{url}/_modelport/endpoints/x/instances",
                          params={"X-Amz-Credential": f"{server.token}/20260101/us-east-1/sagemaker/aws4_request"})
    assert presigned.status_code == 404 and presigned.json()["__type"] == "ValidationException"  # past the gate


def test_ping_stays_open_and_says_only_ok(hosting):
    server = hosting
    response = httpx.get(f"{server.url}/ping")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert httpx.post(f"{server.url}/ping").status_code == 403  # only GET /ping is open


def test_foreign_host_and_browser_origin_are_refused_even_with_the_token(hosting):
    server = hosting
    url, auth = server.url, auth_headers(server.url)
    port = url.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", f"192.168.1.5:{port}",
                 f"localhost:{port}x", f"[::2]:{port}"):
        for response in (control(url, "ListEndpoints", Host=host, **auth),
                         httpx.post(f"{url}/endpoints/x/invocations", content=b"{}", headers={"Host": host, **auth}),
                         httpx.get(f"{url}/ping", headers={"Host": host})):
            assert "DNS rebinding" in refused(response, 403, "AccessDeniedException"), host
    # (bucket.localhost is loopback too, but names an S3 bucket: tests/hosting/test_s3.py)
    for host in (f"localhost:{port}", "localhost", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert control(url, "ListEndpoints", Host=host, **auth).status_code == 200, host
    for header in ({"Origin": "http://127.0.0.1:8000"}, {"Origin": "null"}, {"Sec-Fetch-Site": "same-origin"}):
        for response in (control(url, "ListEndpoints", **header, **auth),
                         httpx.post(f"{url}/endpoints/x/invocations", content=b"{}", headers={**header, **auth}),
                         httpx.get(f"{url}/ping", headers=header)):
            assert "web browsers" in refused(response, 403, "AccessDeniedException")


def test_boto3_sees_the_refusals_as_client_errors(hosting):
    server = hosting
    sm = sm_client(server.url, server.token)

    def add_origin(request, **_):
        request.headers["Origin"] = "http://attacker.example"

    sm.meta.events.register("before-send.sagemaker.ListEndpoints", add_origin)
    with pytest.raises(ClientError) as excinfo:
        sm.list_endpoints()
    assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_tokens_are_rate_limited_and_the_limit_passes(tmp_path):
    server = start_hosting(tmp_path / "home")
    try:
        url, auth = server.url, auth_headers(server.url)
        with httpx.Client() as client:
            statuses = [client.post(f"{url}/endpoints/x/invocations", content=b"{}",
                                    headers={"Authorization": "Bearer wrong-guess-%d" % i}).status_code
                        for i in range(FAILURE_BURST + 20)]
            assert statuses[:FAILURE_BURST] == [403] * FAILURE_BURST
            assert statuses.count(429) >= 15  # the budget refills at a few per second only
            # while the address is throttled, even the right token is not compared
            throttled = client.post(f"{url}/", headers={"X-Amz-Target": "SageMaker.ListEndpoints", **auth}, content=b"{}")
            assert refused(throttled, 429, "ThrottlingException") and throttled.headers["retry-after"] == "1"
            eventually(lambda: client.post(f"{url}/", headers={"X-Amz-Target": "SageMaker.ListEndpoints", **auth},
                                           content=b"{}").status_code == 200, 5, 0.1, message="the budget never refilled")
            assert client.get(f"{url}/ping").status_code == 200  # the liveness probe is never throttled
    finally:
        server.stop()


def test_the_gate_limits_each_client_address_on_its_own():
    gate = Gate("t" * 32)
    headers = {"host": "127.0.0.1:1", "authorization": "Bearer wrong"}
    for _ in range(FAILURE_BURST):
        assert gate.check("POST", "/", headers, "", "10.0.0.1").kind == "token"
    assert gate.check("POST", "/", headers, "", "10.0.0.1").kind == "throttled"
    assert gate.check("POST", "/", {**headers, "authorization": "Bearer " + "t" * 32}, "", "10.0.0.1").kind == "throttled"
    assert gate.check("POST", "/", {**headers, "authorization": "Bearer " + "t" * 32}, "", "10.0.0.2") is None
    assert gate.check("POST", "/", headers, "", "10.0.0.2").kind == "token"


def test_the_server_gives_the_gate_each_clients_own_address(tmp_path):
    """Through the real server: a client at 127.0.0.2 that exhausts its wrong-token budget does not
    throttle a client at 127.0.0.1 (both loopback; the address is the socket's peer)."""
    server = start_hosting(tmp_path / "home")
    try:
        url, auth = server.url, auth_headers(server.url)
        wrong = {"X-Amz-Target": "SageMaker.ListEndpoints", "Authorization": "Bearer wrong-guess"}
        # the budget refills by one attempt every 0.2 s, so on a busy machine one attempt among the throttled
        # ones may pass (403 again): the checks look for throttling, not for an unbroken run of 429s
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as guesser:
            statuses = [guesser.post(f"{url}/", headers=wrong, content=b"{}") for _ in range(FAILURE_BURST + 5)]
            assert [r.status_code for r in statuses[:FAILURE_BURST]] == [403] * FAILURE_BURST
            throttled = [r for r in statuses[FAILURE_BURST:] if r.status_code == 429]
            assert len(throttled) >= 3 and "127.0.0.2" in refused(throttled[-1], 429, "ThrottlingException")
            # X-Forwarded-For names no other address for the gate: the guesser stays throttled (a fresh
            # address would have a whole budget: three 403s)
            spoofed = [guesser.post(f"{url}/", headers={**wrong, "X-Forwarded-For": "10.9.8.7"}, content=b"{}")
                       for _ in range(3)]
        throttled = [r for r in spoofed if r.status_code == 429]
        assert throttled and "127.0.0.2" in refused(throttled[-1], 429, "ThrottlingException")
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1")) as other:
            refused(other.post(f"{url}/", headers=wrong, content=b"{}"), 403, "UnrecognizedClientException")
            assert other.post(f"{url}/", headers={"X-Amz-Target": "SageMaker.ListEndpoints", **auth},
                              content=b"{}").status_code == 200
    finally:
        server.stop()


def test_refusals_render_in_s3_and_query_xml_for_the_other_aws_apis():
    for refusal, s3_code, query_code in ((Refusal("token", "bad <token> & co"), "InvalidAccessKeyId", "InvalidClientTokenId"),
                                         (Refusal("forbidden", "no"), "AccessDenied", "AccessDenied")):
        status, headers, body = refusal.s3()
        document = ET.fromstring(body)
        assert status == 403 and dict(headers)["Content-Type"] == "application/xml"
        assert (document.tag, document.findtext("Code"), document.findtext("Message")) == ("Error", s3_code, refusal.message)
        status, _, body = refusal.query_xml()
        assert status == 403 and ET.fromstring(body).findtext("Error/Code") == query_code
    assert Refusal("throttled", "slow down").s3()[0] == 503


# --- binding ------------------------------------------------------------------------------------------------


def _hosting_process(tmp_path, *args: str, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_HOSTING")}
    environ.update(MODELPORT_HOME=str(tmp_path / "home"), **env)
    return subprocess.Popen([sys.executable, "-m", "modelport", "hosting", *args], env=environ,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_non_loopback_bind_is_refused_without_allow_remote_and_a_token(tmp_path):
    port = str(free_port())
    for args, env in ((("--host", "0.0.0.0"), {}),
                      (("--host", "0.0.0.0", "--allow-remote"), {}),
                      (("--host", "0.0.0.0"), {"MODELPORT_HOSTING_TOKEN": secrets.token_urlsafe(24)})):
        process = _hosting_process(tmp_path, *args, "--port", port, **env)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 1, output
        assert "refusing to listen on 0.0.0.0" in output and "--allow-remote" in output
        assert "MODELPORT_HOSTING_TOKEN" in output and "Traceback" not in output
    weak = _hosting_process(tmp_path, "--port", port, MODELPORT_HOSTING_TOKEN="short")
    output, _ = weak.communicate(timeout=60)
    assert weak.returncode == 1 and "16 to 256 characters" in output


def test_allow_remote_with_a_token_listens_everywhere_and_accepts_any_host(tmp_path):
    port, token = free_port(), secrets.token_urlsafe(24)
    process = _hosting_process(tmp_path, "--host", "0.0.0.0", "--allow-remote", "--port", str(port),
                               MODELPORT_HOSTING_TOKEN=token)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/ping", process, process.stdout.read, timeout=60)
        answer = control(url, "ListEndpoints", Host=f"hosting.example:{port}", Authorization=f"Bearer {token}")
        assert answer.status_code == 200
        refused(control(url, "ListEndpoints", Host=f"hosting.example:{port}"), 403, "UnrecognizedClientException")
        refused(control(url, "ListEndpoints", Origin="http://x.example", Authorization=f"Bearer {token}"),
                403, "AccessDeniedException")
        assert not token_file(tmp_path / "home").exists()  # the explicit token, not a generated one
    finally:
        stop(process, grace=30)


def test_up_keeps_hosting_on_loopback_and_its_token_out_of_the_instances_environment(tmp_path, monkeypatch):
    from modelport.stack.up import Stack, UpOptions
    from modelport.token import TOKEN_ENV

    monkeypatch.delenv(TOKEN_ENV, raising=False)
    stack = Stack(UpOptions(host="0.0.0.0", port=free_port(), hosting_port=free_port(), home=tmp_path / "home"))
    assert stack.hosting_url.startswith("http://127.0.0.1:")
    stack.token = "t" * 32
    env = stack._services_env([])
    # hosting and the gateway share the process whose environment endpoint instances inherit: the gateway
    # reads the token from the token file, as hosting does, so the environment does not carry it
    assert TOKEN_ENV not in env and stack.token not in env.values()
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == stack.hosting_url


# --- ModelDataUrl roots and Environment keys -------------------------------------------------------------------


def _create_model_error(sm, name: str, **container) -> tuple[str, str]:
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "modelport", **container})
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_model_data_outside_the_roots_is_refused_without_saying_whether_it_exists(hosting, archive, inside, tmp_path):
    server = hosting
    sm, _ = clients(server.url)
    missing = archive.parent / "no-such-model.tar.gz"
    code, existing_message = _create_model_error(sm, "outside-1", ModelDataUrl=str(archive))
    code2, missing_message = _create_model_error(sm, "outside-2", ModelDataUrl=f"file://{missing}")
    assert code == code2 == "ValidationException"
    assert existing_message.replace(str(archive), "X") == missing_message.replace(f"file://{missing}", "X")
    assert str(server.home.resolve()) in existing_message and "MODELPORT_MODEL_ROOTS" in existing_message
    assert "exist" not in existing_message.lower() and "could not find" not in existing_message.lower()
    # climbing out with .. or through a link inside the home is outside too
    escape = server.home / "artifacts" / ".." / ".." / archive.name
    assert "outside the folders" in _create_model_error(sm, "outside-3", ModelDataUrl=str(escape))[1]
    link = server.home / "artifacts" / "link.tar.gz"
    link.symlink_to(archive)
    assert "outside the folders" in _create_model_error(sm, "outside-4", ModelDataUrl=str(link))[1]
    # inside MODELPORT_HOME: accepted, and a missing file there is reported as missing
    assert sm.create_model(ModelName="inside", ExecutionRoleArn=ROLE,
                           PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{inside}"})["ModelArn"]
    absent = server.home / "artifacts" / "absent.tar.gz"
    assert _create_model_error(sm, "inside-2", ModelDataUrl=str(absent))[1] == f"Could not find model data at {absent}."


def test_model_roots_setting_adds_folders(tmp_path):
    models = tmp_path / "my-models"
    archive = make_archive(models)
    server = start_hosting(tmp_path / "home", model_roots=f"/nonexistent-root:{models}")
    try:
        sm, _ = clients(server.url)
        assert sm.create_model(ModelName="rooted", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)})
        other = make_archive(tmp_path / "elsewhere")
        assert "outside the folders" in _create_model_error(sm, "unrooted", ModelDataUrl=str(other))[1]
    finally:
        server.stop()


def test_submit_directory_must_be_under_the_roots_too(hosting, inside, tmp_path):
    server = hosting
    sm, _ = clients(server.url)
    code, message = _create_model_error(sm, "submit-out", ModelDataUrl=str(inside),
                                        Environment={"SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path)})
    assert code == "ValidationException" and "SAGEMAKER_SUBMIT_DIRECTORY" in message and "outside" in message
    for value in ("/opt/ml/model/code", str(server.home / "code"), "s3://bucket/sourcedir.tar.gz"):
        name = f"submit-ok-{abs(hash(value)) % 10000}"
        sm.create_model(ModelName=name, PrimaryContainer={"Image": "i", "ModelDataUrl": str(inside),
                                                          "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": value}})


@pytest.mark.parametrize("key", ["LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE",
                                 "MODELPORT_INSTALL_REQUIREMENTS", "MODELPORT_HOME", "PATH", "HOME", "BASH_ENV",
                                 "ENV", "NODE_OPTIONS", "PERL5OPT", "PIP_INDEX_URL", "GIT_SSH_COMMAND", "ld_preload"])
def test_environment_keys_that_load_code_are_refused(hosting, inside, key):
    server = hosting
    sm, _ = clients(server.url)
    code, message = _create_model_error(sm, "env-bad", ModelDataUrl=str(inside), Environment={"TAG": "ok", key: "x"})
    assert code == "ValidationException" and f"may not set {key}" in message and "LD_*" in message


def test_a_model_may_set_its_batching(hosting, inside):
    sm, _ = clients(hosting.url)
    batching = {"MODELPORT_MAX_BATCH_SIZE": "32", "MODELPORT_MAX_BATCH_DELAY_MS": "2.5"}
    sm.create_model(ModelName="batching-ok", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(inside), "Environment": batching})
    assert sm.describe_model(ModelName="batching-ok")["PrimaryContainer"]["Environment"] == batching


@pytest.mark.parametrize("key, value, accepted", [
    ("MODELPORT_MAX_BATCH_SIZE", "0", "from 1 to 1024"), ("MODELPORT_MAX_BATCH_SIZE", "1025", "from 1 to 1024"),
    ("MODELPORT_MAX_BATCH_SIZE", "2.5", "whole number"), ("MODELPORT_MAX_BATCH_SIZE", "many", "whole number"),
    ("MODELPORT_MAX_BATCH_DELAY_MS", "-1", "from 0 to 1000"), ("MODELPORT_MAX_BATCH_DELAY_MS", "5000", "from 0 to 1000"),
    ("MODELPORT_MAX_BATCH_DELAY_MS", "soon", "milliseconds"),
])
def test_batching_values_out_of_bounds_are_refused(hosting, inside, key, value, accepted):
    sm, _ = clients(hosting.url)
    code, message = _create_model_error(sm, "batching-bad", ModelDataUrl=str(inside), Environment={key: value})
    assert code == "ValidationException" and f"{key}={value!r}" in message and accepted in message


def test_program_must_name_a_module_in_code(hosting, inside):
    server = hosting
    sm, _ = clients(server.url)
    for program in ("../../../tmp/evil.py", "/tmp/evil", "code/inference.py"):
        code, message = _create_model_error(sm, "prog-bad", ModelDataUrl=str(inside),
                                            Environment={"SAGEMAKER_PROGRAM": program})
        assert code == "ValidationException" and "SAGEMAKER_PROGRAM" in message
    sm.create_model(ModelName="prog-ok", PrimaryContainer={"Image": "i", "ModelDataUrl": str(inside), "Environment": {
        "SAGEMAKER_PROGRAM": "inference.py", "LOG_LEVEL": "debug", "SAGEMAKER_MODEL_SERVER_WORKERS": "2"}})


# --- caps ---------------------------------------------------------------------------------------------------------


def test_caps_on_workers_and_instances(hosting, inside):
    server = hosting
    sm, _ = clients(server.url)
    for workers in ("3", "0", "-1", "two", "1e3", "٣"):
        code, message = _create_model_error(sm, "workers", ModelDataUrl=str(inside),
                                            Environment={"SAGEMAKER_MODEL_SERVER_WORKERS": workers})
        assert code == "ValidationException" and "from 1 to 2" in message, workers
    sm.create_model(ModelName="capped", PrimaryContainer={"Image": "i", "ModelDataUrl": str(inside)})

    def variant(name: str, count: int) -> dict:
        return {"VariantName": name, "ModelName": "capped", "InitialInstanceCount": count, "InstanceType": "ml.m5.large"}

    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="too-many", ProductionVariants=[variant("A", 3)])
    assert "at most 2 per variant" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="too-many", ProductionVariants=[variant("A", 2), variant("B", 2)])
    assert "would run 4 instances" in excinfo.value.response["Error"]["Message"]
    sm.create_endpoint_config(EndpointConfigName="capped", ProductionVariants=[variant("A", 1)])
    sm.create_endpoint(EndpointName="capped", EndpointConfigName="capped")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="capped", WaiterConfig={"Delay": 0.1, "MaxAttempts": 600})
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint_weights_and_capacities(EndpointName="capped", DesiredWeightsAndCapacities=[
            {"VariantName": "A", "DesiredInstanceCount": 3}])
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert "at most 2 per variant" in excinfo.value.response["Error"]["Message"]
    assert sm.describe_endpoint(EndpointName="capped")["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName="capped")


def test_default_caps_follow_the_cpu_count(monkeypatch):
    for name in ("MAX_INSTANCES_PER_VARIANT", "MAX_INSTANCES", "MAX_MODEL_WORKERS"):
        monkeypatch.delenv(f"MODELPORT_HOSTING_{name}", raising=False)
    cpus = len(os.sched_getaffinity(0))
    settings = HostingSettings()
    assert (settings.max_instances_per_variant, settings.max_instances, settings.max_model_workers) == (
        max(2, 2 * cpus), max(4, 4 * cpus), max(2, 2 * cpus))
    monkeypatch.setenv("MODELPORT_HOSTING_MAX_INSTANCES", "7")
    assert HostingSettings().max_instances == 7


def test_an_endpoint_deployed_by_the_helpers_still_serves(hosting, inside):
    """The guards leave the ordinary path alone: an archive under the roots deploys and answers."""
    server = hosting
    sm, rt = clients(server.url)
    deploy(sm, "auth-ok", str(inside), env={"TAG": "guarded"})
    answer = rt.invoke_endpoint(EndpointName="auth-ok", Body=b'{"x": 2}', ContentType="application/json")
    assert b'"guarded"' in answer["Body"].read()
    sm.delete_endpoint(EndpointName="auth-ok")
