"""Hosting under faults, with real processes: a long prediction is not mistaken for a hung instance
while a hung one is still replaced; 100 poison requests each get a JSON error and kill exactly one
worker; hosting killed with SIGKILL 20 times under load comes back every time with its registry
intact and no orphan process; blue/green updates to a broken and to a 5xx-returning archive cost the
old fleet nothing (the second is rolled back by AutoRollbackConfiguration); a full disk at deploy
time is a clean error and leaves nothing stuck in Creating."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.helpers.hosting import HostingProcess, Load, clients, instances, start_hosting, wait_in_service, wait_status
from modelport.archive import pack_archive
from tests.helpers.waiting import eventually

FAULTY = '''
import ctypes, json, os, signal, time

def model_fn(model_dir):
    return {"tag": os.environ.get("TAG", "v1"), "mode": os.environ.get("MODE", "")}

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    if model["mode"] == "5xx":
        raise RuntimeError("model " + model["tag"] + " fails every request")
    how = data.get("die")
    if how == "exit":
        os._exit(7)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segv":
        ctypes.string_at(0)
    if data.get("hang"):  # stands in for native code that never returns to Python
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
        time.sleep(3600)
    if data.get("sleep"):
        time.sleep(data["sleep"])
    if data.get("chatter"):
        print("c" * data["chatter"], flush=True)
    return {"tag": model["tag"], "pid": os.getpid(), "y": data.get("x", 0) * 2}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
JSON = "application/json"


def faulty_archive(root: Path, extra: dict[str, bytes] | None = None) -> Path:
    """The fault model packed into ``root/model.tar.gz`` (``extra``: more artifact files)."""
    src = root / "faulty-src"
    (src / "code").mkdir(parents=True, exist_ok=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(FAULTY))
    for name, data in (extra or {}).items():
        (src / name).write_bytes(data)
    return pack_archive(src, root / "model.tar.gz")


def create_endpoint(sm, name: str, model_data: str, count: int = 1, wait: bool = True, **env: str) -> dict | None:
    """Model, config and endpoint ``name`` (one variant, ``count`` instances of one worker)."""
    sm.create_model(ModelName=name, PrimaryContainer={"Image": "modelport", "ModelDataUrl": model_data,
                                                      "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", **env}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": count}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_in_service(sm, name) if wait else None


def invoke(rt, name: str, body: dict) -> dict:
    response = rt.invoke_endpoint(EndpointName=name, Body=json.dumps(body).encode(), ContentType=JSON)
    return json.loads(response["Body"].read())


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Path:
    """The FAULTY model (it sleeps, hangs, chatters or dies on request) packed in a temporary folder."""
    return faulty_archive(tmp_path_factory.mktemp("faulty"))


# --- health ---------------------------------------------------------------------------------------

def test_long_prediction_is_not_killed_and_a_hung_model_is_replaced(tmp_path, faulty):
    # pings every 0.5 s: the old rule killed a busy instance after ~3 s of missed pings
    server = start_hosting(tmp_path / "home", health_interval=0.5, invocation_timeout=30)
    try:
        sm, rt = clients(server.url)
        create_endpoint(sm, "long", str(faulty))
        [before] = instances(server.url, "long")
        started = time.monotonic()
        answer = invoke(rt, "long", {"sleep": 20, "x": 1})
        assert time.monotonic() - started >= 20 and answer["y"] == 2
        [after] = instances(server.url, "long")
        assert (after["pid"], after["restarts"]) == (before["pid"], 0)  # the same instance answered
        sm.delete_endpoint(EndpointName="long")
    finally:
        server.stop()

    # a model stuck where no timeout reaches: hosting gives up on the request at 2 s, the runtime
    # replaces the worker at its stuck limit (3 s + 5 s), and hosting does not kill the instance first
    server = start_hosting(tmp_path / "home2", health_interval=0.5, invocation_timeout=2)
    try:
        sm, rt = clients(server.url)
        create_endpoint(sm, "hung", str(faulty))
        [before] = instances(server.url, "hung")
        worker_before = invoke(rt, "hung", {"x": 1})["pid"]
        with pytest.raises(rt.exceptions.ModelError) as excinfo:
            invoke(rt, "hung", {"hang": True})
        assert excinfo.value.response["OriginalStatusCode"] == 0
        worker_after = eventually(lambda: invoke(rt, "hung", {"x": 2})["pid"], 30, 0.2,
                                  ignore=(rt.exceptions.ServiceUnavailable, rt.exceptions.ModelError),
                                  message="the hung worker was never replaced")
        assert worker_after != worker_before
        [after] = instances(server.url, "hung")
        assert (after["pid"], after["restarts"]) == (before["pid"], 0)
        assert "has been in one request" in Path(after["log"]).read_text()
    finally:
        server.stop()


def test_instance_logs_rotate_by_size(tmp_path, monkeypatch, faulty):
    monkeypatch.setenv("MODELPORT_LOG_MAX_MB", "0.05")
    monkeypatch.setenv("MODELPORT_LOG_BACKUPS", "2")
    server = start_hosting(tmp_path / "home")
    try:
        sm, rt = clients(server.url)
        create_endpoint(sm, "chatty", str(faulty))
        for _ in range(25):  # 500 kB of output from a 50 kB x 3 budget
            assert invoke(rt, "chatty", {"chatter": 20000, "x": 1})["y"] == 2
        [instance] = instances(server.url, "chatty")
    finally:
        server.stop()
    current = Path(instance["log"])
    files = sorted(p.name for p in current.parent.iterdir())
    assert files == [current.name, current.name + ".1", current.name + ".2"]
    assert all((current.parent / f).stat().st_size <= 52429 + 65536 for f in files)
    assert "c" * 20000 in current.read_text()  # the newest output is in the current file


# --- a port taken between free_port() and the instance's bind ---------------------------------------


def test_an_instance_whose_port_another_program_took_starts_on_another_port(tmp_path, monkeypatch, faulty):
    """free_port() closes the port it found, so another program can bind it before the instance does: the
    instance exits with PORT_IN_USE_EXIT and hosting starts it again on a new port (here, twice)."""
    from modelport.hosting import fleet

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    handed_out = []

    def racing_free_port() -> int:  # the first two ports it finds are taken by the time the instance binds
        handed_out.append(taken if len(handed_out) < 2 else fleet_free_port())
        return handed_out[-1]

    fleet_free_port = fleet.free_port
    monkeypatch.setattr(fleet, "free_port", racing_free_port)
    server = start_hosting(tmp_path / "home")
    try:
        sm, rt = clients(server.url)
        create_endpoint(sm, "squatted", str(faulty))
        assert invoke(rt, "squatted", {"x": 20})["y"] == 40
        [instance] = instances(server.url, "squatted")
    finally:
        server.stop()
        squatter.close()
    assert handed_out[:2] == [taken, taken] and instance["port"] != taken
    log = Path(instance["log"]).read_text()
    assert log.count(f"port {taken} was taken before it could listen there") == 2, log[-2000:]


# --- poison requests ------------------------------------------------------------------------------

def test_poison_soak_each_request_gets_a_json_error_and_kills_one_worker(tmp_path, faulty):
    server = start_hosting(tmp_path / "home", health_interval=0.5)
    try:
        sm, rt = clients(server.url)
        create_endpoint(sm, "poison", str(faulty), count=2)
        before = {i["index"]: i["pid"] for i in instances(server.url, "poison")}
        errors = []
        started = time.monotonic()

        def poisoned(body: bytes) -> dict:
            call = time.monotonic()
            try:
                rt.invoke_endpoint(EndpointName="poison", Body=body, ContentType=JSON)
            except rt.exceptions.ModelError as exc:
                assert time.monotonic() - call < 10  # never a hang
                return exc.response
            raise AssertionError("a poison request was answered 200")

        for n in range(100):
            body = json.dumps({"die": ("exit", "kill", "segv")[n % 3]}).encode()
            # ServiceUnavailable: both instances reloading, so it was never sent; send it again
            errors.append(eventually(lambda: poisoned(body), 30, 0.02, ignore=(rt.exceptions.ServiceUnavailable,),
                                     message="no instance came back"))
        elapsed = time.monotonic() - started
        assert all(e["OriginalStatusCode"] == 500 for e in errors)
        assert all("worker died while answering" in e["OriginalMessage"] for e in errors)
        assert all(".log" in e["OriginalMessage"] for e in errors)  # where to look
        assert all(e["ResponseMetadata"]["HTTPHeaders"]["content-type"] == JSON for e in errors)

        answer = eventually(lambda: invoke(rt, "poison", {"x": 5}), 30, ignore=(rt.exceptions.ServiceUnavailable,),
                            message="no valid answer within 30 s")
        assert answer["y"] == 10
        listed = instances(server.url, "poison")
        # the instances themselves never crashed: only the worker each poison request reached
        assert {i["index"]: i["pid"] for i in listed} == before
        assert all(i["restarts"] == 0 for i in listed)
        def deaths() -> int:  # as the logs say so far: each instance's output reaches its log through a pipe
            return sum(Path(i["log"]).read_text().count("while answering a request; restarting it") for i in listed)

        eventually(lambda: deaths() >= 100, 30, message=lambda: f"{deaths()} worker deaths logged for 100 poison requests")
        time.sleep(0.5)  # a death beyond the 100th would be logged by now
        assert deaths() == 100  # none was resent
        print(f"100 poison requests in {elapsed:.1f} s")
    finally:
        server.stop()


# --- hosting killed with SIGKILL -------------------------------------------------------------------

def processes_under(home: Path) -> list[int]:
    """Live processes whose command line names ``home`` (instances and their workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(home).encode() in cmdline and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_hosting_killed_20_times_under_load_comes_back_every_time(tmp_path, monkeypatch, faulty):
    home = tmp_path / "home"
    (home / "artifacts").mkdir(parents=True)
    model_data = shutil.copy(faulty, home / "artifacts" / "model.tar.gz")
    monkeypatch.setenv("MODELPORT_HOME", str(home))
    hosting = HostingProcess(home, tmp_path / "hosting.log", env={"MODELPORT_HOSTING_HEALTH_INTERVAL": "0.5"})
    monkeypatch.setenv("MODELPORT_HOSTING_URL", hosting.url)
    names = ("kill-a", "kill-b")
    hosting.start()
    sm, rt = clients(hosting.url)
    for name in names:
        create_endpoint(sm, name, str(model_data), TAG=name)

    answered = {"count": 0}
    stop = threading.Event()

    def load() -> None:
        _, runtime = clients(hosting.url)
        while not stop.is_set():
            for name in names:
                try:
                    assert invoke(runtime, name, {"x": 1})["tag"] == name
                    answered["count"] += 1
                except (ClientError, OSError, Exception):  # noqa: BLE001 - hosting is down between kills
                    time.sleep(0.01)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        for round_ in range(20):
            if round_ % 5 == 4:
                time.sleep(0.3)  # now and then, kill it in the middle of restoring its endpoints
            else:
                before = answered["count"]
                eventually(lambda: answered["count"] >= before + 5, 10, 0.01, message="no traffic was served")
            hosting.kill()
            restarted = time.monotonic()
            hosting.start()
            for name in names:
                wait_status(sm, name, ("InService",), timeout=max(0.1, 10 - (time.monotonic() - restarted)))
            assert time.monotonic() - restarted <= 10.5
    finally:
        stop.set()
        thread.join(30)
        hosting.stop()
    eventually(lambda: not processes_under(home), 20, 0.1, message=lambda: f"orphans: {processes_under(home)}")
    assert processes_under(home) == []  # no orphan instance or worker
    with sqlite3.connect(home / "hosting" / "registry.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(db.execute("SELECT name, status FROM endpoints").fetchall())
    assert set(rows) == set(names)  # a clean stop keeps them registered (they come back on the next start)


# --- blue/green to bad archives -------------------------------------------------------------------

def add_version(sm, name: str, model_data: str, **env: str) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": "modelport", "ModelDataUrl": model_data,
                                                      "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", **env}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}])


def test_blue_green_to_a_broken_and_to_a_5xx_archive_costs_the_old_fleet_nothing(tmp_path, faulty):
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(os.urandom(4096))  # not a gzip file at all
    server = start_hosting(tmp_path / "home", rollback_error_rate=0.5, rollback_min_requests=10)
    try:
        sm, rt = clients(server.url)
        create_endpoint(sm, "bg", str(faulty), TAG="v1")
        add_version(sm, "bg-broken", str(broken), TAG="broken")
        add_version(sm, "bg-5xx", str(faulty), TAG="v2", MODE="5xx")
        alarmed = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE",
                                                                             "WaitIntervalInSeconds": 0},
                                             "TerminationWaitInSeconds": 60},
                   "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "bg-5xx-rate"}]}}
        # (botocore itself refuses an empty list or a missing name; these it lets through)
        for bad in ({"Alarms": [{"AlarmName": "  "}]}, {"Alarms": [{"AlarmName": "x" * 256}]},
                    {"Alarms": [{"AlarmName": f"a{i}"} for i in range(11)]}):
            with pytest.raises(sm.exceptions.ClientError) as excinfo:
                sm.update_endpoint(EndpointName="bg", EndpointConfigName="bg-5xx",
                                   DeploymentConfig={**alarmed, "AutoRollbackConfiguration": bad})
            assert excinfo.value.response["Error"]["Code"] == "ValidationException"

        with Load(rt, "bg") as load:
            sm.update_endpoint(EndpointName="bg", EndpointConfigName="bg-broken")
            described = wait_in_service(sm, "bg")
            assert "UpdateEndpoint to bg-broken failed and was rolled back" in described["FailureReason"]

            sm.update_endpoint(EndpointName="bg", EndpointConfigName="bg-5xx", DeploymentConfig=alarmed)
            started = time.monotonic()
            seen = {wait_status(sm, "bg", ("RollingBack", "InService"), timeout=60)["EndpointStatus"]}
            described = wait_in_service(sm, "bg")
            rolled_back_after = time.monotonic() - started
            during = len(load.tags)
            time.sleep(1.0)
            assert set(load.tags[during:]) == {"v1"}  # all traffic is back on the old fleet
        assert rolled_back_after < 40  # long before the 60 s bake would have ended
        assert described["EndpointConfigName"] == "bg"
        reason = described["FailureReason"]
        assert "UpdateEndpoint to bg-5xx failed and was rolled back" in reason
        assert "bg-5xx-rate" in reason and "server errors" in reason
        assert described["LastDeploymentConfig"]["AutoRollbackConfiguration"] == alarmed["AutoRollbackConfiguration"]
        assert seen <= {"RollingBack", "InService"}
        # the old fleet failed nothing: every failure came from the new, 5xx-returning model
        assert load.failures and all("model v2 fails every request" in f for f in load.failures), load.failures[:3]
        assert set(load.tags) == {"v1"}
    finally:
        server.stop()


# --- a full disk ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB tmpfs (needs root, as `make test` runs here)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (not root?): {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; returns the filler file."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 1048576)
        except OSError:
            pass
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_full_disk_at_deploy_time_is_a_clean_error_and_nothing_stays_creating(small_disk, faulty):
    home = small_disk / "home"
    (home / "artifacts").mkdir(parents=True)
    model_data = str(shutil.copy(faulty, home / "artifacts" / "model.tar.gz"))
    server = start_hosting(home)
    try:
        sm, rt = clients(server.url)
        filler = fill(small_disk)
        # the registry cannot take the new model: a 500 InternalFailure that says why, nothing stored
        with pytest.raises(ClientError) as excinfo:
            sm.create_model(ModelName="full", PrimaryContainer={"Image": "modelport", "ModelDataUrl": model_data})
        error = excinfo.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert error["Error"]["Code"] == "InternalFailure" and "disk is full" in error["Error"]["Message"]
        assert httpx.get(server.url + "/ping").status_code == 200
        assert sm.list_models()["Models"] == []

        # with room for the registry, the endpoint is accepted; then the disk fills before its
        # instance can unpack the model or its outcome can be written
        filler.unlink()
        create_endpoint(sm, "full", model_data, wait=False)
        fill(small_disk)
        described = wait_status(sm, "full", ("InService", "Failed"), timeout=60)
        assert described["EndpointStatus"] == "Failed"
        assert "exited with code" in described["FailureReason"]
        with sqlite3.connect(home / "hosting" / "registry.db") as db:  # the disk said no: kept in memory
            stored = db.execute("SELECT status FROM endpoints WHERE name = 'full'").fetchone()[0]
        assert stored == "Creating"
        assert httpx.get(server.url + "/ping").status_code == 200
        assert [e["EndpointStatus"] for e in sm.list_endpoints()["Endpoints"]] == ["Failed"]

        (small_disk / "filler").unlink()  # space again: the outcome reaches the database

        def stored_status() -> str:
            with sqlite3.connect(home / "hosting" / "registry.db") as db:
                return db.execute("SELECT status FROM endpoints WHERE name = 'full'").fetchone()[0]

        eventually(lambda: stored_status() == "Failed", 10, 0.1, message="the kept outcome was never written")
    finally:
        server.stop()
