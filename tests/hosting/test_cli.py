"""The `modelport hosting` process and the client commands (deploy, endpoints, describe, invoke, logs,
delete), plus the Python SDK (`Model(...).deploy(...)` → `Predictor`)."""

from __future__ import annotations

import json
import os
import signal

import pytest
from typer.testing import CliRunner

from tests.helpers.hosting import HostingProcess, clients, instances, make_archive
from modelport.cli.main import app
from modelport.sdk import Model, Predictor
from tests.helpers.waiting import eventually


def run(env: dict, *args: str):
    result = CliRunner().invoke(app, list(args), env={"MODELPORT_HOSTING_URL": env["url"], "MODELPORT_HOME": env["home"]})
    return result


def test_cli_deploy_invoke_describe_logs_delete(hosting_process, tmp_path):
    url, home = hosting_process.url, hosting_process.home
    names = {"url": url, "home": str(home)}
    archive = make_archive(tmp_path)
    result = run(names, "deploy", str(archive), "--endpoint", "cli-ep", "--instances", "2", "--env", "TAG=cli")
    assert result.exit_code == 0, result.output
    assert "endpoint cli-ep is InService" in result.stdout

    result = run(names, "endpoints")
    assert result.exit_code == 0 and "cli-ep" in result.stdout and "InService" in result.stdout
    assert "2/2" in result.stdout  # instances ready / desired

    result = run(names, "describe", "cli-ep", "--json")
    described = json.loads(result.stdout)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    # the archive was registered as a copy under MODELPORT_HOME/artifacts, like an upload to S3
    sm, _ = clients(url)
    config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    data_url = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
    assert data_url.startswith(f"file://{(home / 'artifacts').resolve()}")
    assert open(data_url[7:], "rb").read() == archive.read_bytes()

    (tmp_path / "request.json").write_text('{"x": 5}')
    result = run(names, "invoke", "cli-ep", "--body", f"@{tmp_path / 'request.json'}", "--content-type", "application/json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["y"], answer["tag"]) == (10.0, "cli")

    result = run(names, "invoke", "cli-ep", "--body", "not json", "--content-type", "text/plain")
    assert result.exit_code == 1
    assert "ModelError" in result.output and "415" in result.output

    result = run(names, "logs", "cli-ep", "--lines", "5")
    assert result.exit_code == 0
    assert "AllTraffic-0" in result.stdout and "AllTraffic-1" in result.stdout

    # deploying again updates the endpoint blue/green (here from an uploaded copy of the archive)
    uploaded = home / "store" / "v2" / "model.tar.gz"  # under MODELPORT_HOME: an allowed root
    result = run(names, "deploy", str(archive), "--endpoint", "cli-ep", "--env", "TAG=cli2", "--upload", f"file://{uploaded}")
    assert uploaded.read_bytes() == archive.read_bytes()
    assert result.exit_code == 0, result.output
    result = run(names, "invoke", "cli-ep", "--body", '{"x": 1}')
    assert json.loads(result.stdout)["tag"] == "cli2"

    result = run(names, "delete", "cli-ep")
    assert result.exit_code == 0, result.output
    result = run(names, "describe", "cli-ep")
    assert result.exit_code == 1 and "Could not find endpoint" in result.output


def test_cli_reports_unknown_endpoint_and_missing_archive(hosting_process, tmp_path):
    names = {"url": hosting_process.url, "home": str(hosting_process.home)}
    result = run(names, "invoke", "ghost", "--body", "{}")
    assert result.exit_code == 1 and "Endpoint ghost of account" in result.output
    result = run(names, "deploy", str(tmp_path / "none.tar.gz"), "--endpoint", "x")
    assert result.exit_code == 1 and "no such archive" in result.output


def test_sdk_model_deploy_predict_delete(hosting_process, tmp_path, monkeypatch):
    url = hosting_process.url
    monkeypatch.setenv("MODELPORT_HOME", str(hosting_process.home))  # the SDK's store and token are hosting's
    archive = make_archive(tmp_path, scale=10)
    predictor = Model(model_data=str(archive), name="sdk-model", env={"TAG": "sdk"}, hosting_url=url).deploy(
        endpoint_name="sdk-ep", initial_instance_count=1, instance_type="ml.m5.large")
    assert isinstance(predictor, Predictor)
    assert predictor.predict({"x": 3}) == {"y": 30.0, "tag": "sdk", "pid": predictor.predict({"x": 3})["pid"], "attrs": None}
    assert predictor.predict(b'{"x": 1}', custom_attributes="a=1")["attrs"] == "a=1"
    # redeploying to the same endpoint is a blue/green update
    Model(model_data=str(archive), name="sdk-model", env={"TAG": "sdk2"}, hosting_url=url).deploy(endpoint_name="sdk-ep")
    assert predictor.predict({"x": 1})["tag"] == "sdk2"

    class SumSerializer:  # the SageMaker SDK's serializer duck type
        CONTENT_TYPE = "application/json"

        def serialize(self, data):
            return json.dumps({"x": sum(data)})

    class TagDeserializer:
        ACCEPT = ("application/json", "text/csv")

        def deserialize(self, stream, content_type):
            return content_type, json.loads(stream.read())["tag"]

    custom = Predictor("sdk-ep", serializer=SumSerializer(), deserializer=TagDeserializer(), hosting_url=url)
    assert custom.accept == "application/json, text/csv"
    assert custom.predict([1, 2]) == ("application/json", "sdk2")
    predictor.delete_endpoint()
    with pytest.raises(predictor.runtime_client.exceptions.ValidationError):
        predictor.predict({"x": 1})


def test_sigterm_stops_hosting_and_its_instances(hosting_process, tmp_path, monkeypatch):
    url, process = hosting_process.url, hosting_process.process
    monkeypatch.setenv("MODELPORT_HOME", str(hosting_process.home))
    archive = make_archive(tmp_path)
    Model(model_data=str(archive), hosting_url=url).deploy(endpoint_name="last")
    pids = [i["pid"] for i in instances(url, "last")]
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_hosting_killed_with_sigkill_takes_its_instances_and_restores_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    archive = make_archive(tmp_path)
    first = HostingProcess(tmp_path / "home", tmp_path / "hosting.log").start()
    url = first.url
    try:
        Model(model_data=str(archive), env={"TAG": "crash"}, hosting_url=url).deploy(endpoint_name="survivor")
        pids = [i["pid"] for i in instances(url, "survivor")]
        first.kill()
        # the instances die with hosting (no orphans)
        eventually(lambda: not any(os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"
                                   for pid in pids), 10, message=f"instances {pids} outlived hosting")
    finally:
        first.kill()
    second = HostingProcess(tmp_path / "home", tmp_path / "hosting.log", port=first.port).start()
    try:
        predictor = Predictor("survivor", hosting_url=url)
        from modelport.hosting.client import wait_for_endpoint

        wait_for_endpoint(predictor.sagemaker_client, "survivor", timeout=60)
        assert predictor.predict({"x": 2})["tag"] == "crash"
    finally:
        second.stop()
