"""Endpoints over time: blue/green updates under load, failed updates rolling back, scaling and
weights, instances killed with SIGKILL under load, repeated crashes, and restart-restore."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from tests.helpers.hosting import Load, clients, deploy, instances, start_hosting, wait_in_service
from tests.helpers.waiting import eventually


@pytest.fixture(scope="module")
def hosting_options():
    return {"invocation_timeout": 1.5}


def add_version(sm, name: str, archive, tag: str, **env) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive),
                                                      "Environment": {"TAG": tag, **env}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}])


def test_blue_green_update_under_load_has_zero_failures(hosting, sm, rt, archive):
    server = hosting
    deploy(sm, "bg", str(archive), env={"TAG": "v1"})
    old_pids = {i["pid"] for i in instances(server.url, "bg")}
    add_version(sm, "bg-v2", archive, "v2")
    with Load(rt, "bg") as load:
        load.wait_for(20)
        sm.update_endpoint(EndpointName="bg", EndpointConfigName="bg-v2")
        updating = sm.describe_endpoint(EndpointName="bg")
        assert updating["EndpointStatus"] == "Updating"
        assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "bg-v2"
        described = wait_in_service(sm, "bg")
        load.wait_for(50)
    assert load.failures == []
    assert "v1" in load.tags and load.tags[-1] == "v2"
    assert described["EndpointConfigName"] == "bg-v2"
    assert "PendingDeploymentSummary" not in described
    assert not old_pids & {i["pid"] for i in instances(server.url, "bg")}
    for pid in old_pids:  # the old fleet was stopped after draining
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"

    # a new fleet that fails /ping leaves the old one serving, InService with FailureReason
    add_version(sm, "bg-bad", archive, "bad", FAIL_LOAD="1")
    with Load(rt, "bg") as load:
        sm.update_endpoint(EndpointName="bg", EndpointConfigName="bg-bad")
        described = wait_in_service(sm, "bg")
        load.wait_for(20)
    assert load.failures == []
    assert set(load.tags) == {"v2"}
    assert described["EndpointConfigName"] == "bg-v2"
    assert "UpdateEndpoint to bg-bad failed and was rolled back" in described["FailureReason"]
    assert "model_fn failed on purpose" in described["FailureReason"]


def test_weights_and_capacities_update(hosting, sm, rt, archive):
    server = hosting
    deploy(sm, "wc", str(archive), variants=[
        {"name": "A", "weight": 1.0, "count": 1, "env": {"TAG": "a"}},
        {"name": "B", "weight": 1.0, "count": 1, "env": {"TAG": "b"}},
    ])
    sm.update_endpoint_weights_and_capacities(EndpointName="wc", DesiredWeightsAndCapacities=[
        {"VariantName": "A", "DesiredWeight": 0.0}, {"VariantName": "B", "DesiredInstanceCount": 2}])
    described = wait_in_service(sm, "wc")
    variants = {v["VariantName"]: v for v in described["ProductionVariants"]}
    assert variants["A"]["CurrentWeight"] == 0.0
    assert (variants["B"]["CurrentInstanceCount"], variants["B"]["DesiredInstanceCount"]) == (2, 2)
    answered = {rt.invoke_endpoint(EndpointName="wc", Body=b"{}", ContentType="application/json")
                ["InvokedProductionVariant"] for _ in range(20)}
    assert answered == {"B"}
    with pytest.raises(sm.exceptions.ClientError) as excinfo:
        sm.update_endpoint_weights_and_capacities(EndpointName="wc", DesiredWeightsAndCapacities=[
            {"VariantName": "Z", "DesiredWeight": 1.0}])
    assert "not present" in excinfo.value.response["Error"]["Message"]
    # an update that retains variant properties keeps the weights and counts set since
    sm.create_endpoint_config(EndpointConfigName="wc-v2", ProductionVariants=[
        {"VariantName": v, "ModelName": f"wc-{v.lower()}", "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}
        for v in ("A", "B")])
    sm.update_endpoint(EndpointName="wc", EndpointConfigName="wc-v2", RetainAllVariantProperties=True)
    variants = {v["VariantName"]: v for v in wait_in_service(sm, "wc")["ProductionVariants"]}
    assert (variants["A"]["CurrentWeight"], variants["B"]["CurrentInstanceCount"]) == (0.0, 2)
    sm.delete_endpoint(EndpointName="wc")


def wait_restarted(url: str, name: str, restarts: int, timeout: float = 30) -> list[dict]:
    """The instances of ``name`` once they were restarted ``restarts`` times in all and are all ready."""
    def recovered() -> list[dict] | None:
        listed = instances(url, name)
        return listed if sum(i["restarts"] for i in listed) >= restarts and all(i["ready"] for i in listed) else None

    return eventually(recovered, timeout, message=lambda: f"{name} did not recover: {instances(url, name)}")


def test_instance_killed_under_load_is_restarted(hosting, sm, rt, archive):
    server = hosting
    deploy(sm, "k9", str(archive), count=2)
    victim = instances(server.url, "k9")[0]
    with Load(rt, "k9") as load:
        load.wait_for(20)
        os.kill(victim["pid"], signal.SIGKILL)
        listed = wait_restarted(server.url, "k9", 1)
        load.wait_for(50)
    # a request the dead instance was answering is lost (it is never resent: it may have run); at most
    # one per load thread, each a ModelError saying so. Requests that found it closed went elsewhere.
    assert len(load.failures) <= 3, load.failures
    assert all("ModelError" in f and "died while answering" in f for f in load.failures), load.failures
    assert victim["pid"] not in {i["pid"] for i in listed}
    described = sm.describe_endpoint(EndpointName="k9")
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    log = open(victim["log"]).read()
    assert "exited with code" in log and "restarted on port" in log


def reported(sm, name: str, failure: bool) -> dict | None:
    """DescribeEndpoint of ``name`` if it carries a FailureReason (``failure``) or carries none (not ``failure``)."""
    described = sm.describe_endpoint(EndpointName=name)
    return described if ("FailureReason" in described) == failure else None


def test_repeated_crashes_are_reported_and_restarted_forever(hosting, sm, rt, archive):
    server = hosting
    deploy(sm, "crashy", str(archive))
    for crash in range(1, 5):  # more crashes within a minute than any give-up limit would allow
        os.kill(instances(server.url, "crashy")[0]["pid"], signal.SIGKILL)
        described = eventually(lambda: reported(sm, "crashy", True), 30, 0.02, message="the crash was never reported")
        assert described["EndpointStatus"] == "InService"
        assert "exited with code -9" in described["FailureReason"]
        assert "modelport logs crashy" in described["FailureReason"]
        assert described["ProductionVariants"][0]["VariantStatus"][0]["StatusMessage"] == described["FailureReason"]
        wait_restarted(server.url, "crashy", crash)
    described = eventually(lambda: reported(sm, "crashy", False), 10, 0.02, message="the report was never cleared")
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert "VariantStatus" not in described["ProductionVariants"][0]
    body = json.loads(rt.invoke_endpoint(EndpointName="crashy", Body=b'{"x": 2}', ContentType="application/json")["Body"].read())
    assert body["y"] == 4.0
    sm.delete_endpoint(EndpointName="crashy")


def test_a_ping_answered_just_before_a_crash_does_not_mark_the_instance_ready(hosting, sm, archive):
    # the health check's ping comes back 200 from a process that dies before the answer is looked at: taken
    # as "ready again", it routed to the dead instance during the back-off and cleared the crash report
    # (seen once in CI as test_repeated_crashes_... missing the report). Made certain here: the ping kills
    # the instance after its answer and returns only once the supervisor has seen the exit.
    server = hosting
    deploy(sm, "stale", str(archive))
    instance = server.http_app.handle.__self__.hosting.live["stale"].fleets[0].instances[0]
    answered_then_killed = []
    real_ping = instance._ping

    async def ping_then_crash(timeout):
        answer = await real_ping(timeout)
        if answer[0] == 200 and not answered_then_killed:
            answered_then_killed.append(instance.process.pid)
            os.kill(instance.process.pid, signal.SIGKILL)
            while instance.ready:  # until the supervisor has seen the exit
                await asyncio.sleep(0.005)
        return answer

    instance._ping = ping_then_crash
    eventually(lambda: answered_then_killed, 15, message="the health check never pinged")
    listed = wait_restarted(server.url, "stale", 1)
    log = open(listed[0]["log"]).read()
    crash = log.index("exited with code -9")
    between = log[crash: log.index("restarted on port", crash)]
    assert "passes /ping again" not in between, between
    sm.delete_endpoint(EndpointName="stale")


def test_restart_restores_in_service_endpoints(tmp_path, archive):
    home = tmp_path / "home"
    first = start_hosting(home)
    try:
        sm, rt = clients(first.url)
        deploy(sm, "keep", str(archive), env={"TAG": "kept"}, count=2)
        pids = [i["pid"] for i in instances(first.url, "keep")]
    finally:
        first.stop()
    for pid in pids:  # stopping hosting stops its instances
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    second = start_hosting(home)
    try:
        sm, rt = clients(second.url)
        assert sm.describe_endpoint(EndpointName="keep")["EndpointStatus"] in ("SystemUpdating", "InService")
        described = wait_in_service(sm, "keep")
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
        body = json.loads(rt.invoke_endpoint(EndpointName="keep", Body=b'{"x": 4}',
                                             ContentType="application/json")["Body"].read())
        assert (body["tag"], body["y"]) == ("kept", 8.0)
        assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["keep-alltraffic"]
        assert sm.describe_endpoint_config(EndpointConfigName="keep")["ProductionVariants"][0]["InitialInstanceCount"] == 2
    finally:
        second.stop()


def test_model_data_from_s3(hosting, sm, rt, archive, monkeypatch):
    from tests.helpers.hosting import MotoS3
    from modelport import store

    s3 = MotoS3(monkeypatch)
    try:
        s3.client.create_bucket(Bucket="artifacts")
        store.upload(archive, "s3://artifacts/tiny/model.tar.gz")
        server = hosting
        with pytest.raises(sm.exceptions.ClientError) as excinfo:
            sm.create_model(ModelName="s3-missing", PrimaryContainer={
                "Image": "i", "ModelDataUrl": "s3://artifacts/nothing/model.tar.gz"})
        assert excinfo.value.response["Error"]["Message"] == \
            "Could not find model data at s3://artifacts/nothing/model.tar.gz."
        deploy(sm, "from-s3", "s3://artifacts/tiny/model.tar.gz", env={"TAG": "s3"})
        body = json.loads(rt.invoke_endpoint(EndpointName="from-s3", Body=b'{"x": 1}',
                                             ContentType="application/json")["Body"].read())
        assert body["tag"] == "s3"
        sm.delete_endpoint(EndpointName="from-s3")
    finally:
        s3.stop()


def test_invocation_timeout_is_a_model_error(hosting, sm, rt, archive):
    server = hosting  # this server allows 1.5 s per invocation (hosting_options)
    deploy(sm, "slow", str(archive))
    with pytest.raises(rt.exceptions.ModelError) as excinfo:
        rt.invoke_endpoint(EndpointName="slow", Body=b'{"sleep": 2.0}', ContentType="application/json")
    assert excinfo.value.response["OriginalStatusCode"] == 0
    assert "timed out" in excinfo.value.response["OriginalMessage"]
    assert excinfo.value.response["Error"]["Message"].startswith("Received server error (0) from primary")
    time.sleep(0.6)  # the instance finishes the slow request, then serves again
    body = json.loads(rt.invoke_endpoint(EndpointName="slow", Body=b'{"x": 1}', ContentType="application/json")["Body"].read())
    assert body["y"] == 2.0
    sm.delete_endpoint(EndpointName="slow")


def test_canary_update_shifts_traffic_in_steps(hosting, sm, rt, archive):
    server = hosting
    deploy(sm, "canary", str(archive), env={"TAG": "v1"})
    add_version(sm, "canary-v2", archive, "v2")
    policy = {"BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 3,
                                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 50}},
        "TerminationWaitInSeconds": 0}}
    with Load(rt, "canary", threads=2) as load:
        sm.update_endpoint(EndpointName="canary", EndpointConfigName="canary-v2", DeploymentConfig=policy)
        # the canary step: both versions answer
        eventually(lambda: "v2" in load.tags, 30, 0.01, message="the canary never got traffic")
        during = len(load.tags)
        load.wait_for(20)  # well within the 3 s canary step
        assert set(load.tags[during:]) == {"v1", "v2"}
        assert sm.describe_endpoint(EndpointName="canary")["EndpointStatus"] == "Updating"
        described = wait_in_service(sm, "canary")
        load.wait_for(20)
    assert load.failures == []
    assert load.tags[-1] == "v2"
    assert described["LastDeploymentConfig"] == policy
    with pytest.raises(sm.exceptions.ClientError) as excinfo:
        sm.update_endpoint(EndpointName="canary", EndpointConfigName="canary-v2", DeploymentConfig={
            "BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 1}}})
    assert "CanarySize is required" in excinfo.value.response["Error"]["Message"]
    sm.delete_endpoint(EndpointName="canary")


def test_hung_instance_fails_ping_and_is_replaced(tmp_path, archive):
    server = start_hosting(tmp_path / "home", health_interval=0.3)
    try:
        sm, rt = clients(server.url, retries=5)
        deploy(sm, "hung", str(archive))
        victim = instances(server.url, "hung")[0]
        os.killpg(victim["pid"], signal.SIGSTOP)  # the whole instance freezes: no crash, no answers
        listed = wait_restarted(server.url, "hung", 1)
        assert listed[0]["pid"] != victim["pid"]
        body = json.loads(rt.invoke_endpoint(EndpointName="hung", Body=b'{"x": 3}',
                                             ContentType="application/json")["Body"].read())
        assert body["y"] == 6.0
        assert "failed /ping 3 times" in open(victim["log"]).read()
    finally:
        server.stop()
