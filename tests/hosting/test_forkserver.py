"""Instances forked from hosting's warm template (issue 16, "Instances that start in well under a second"): each
has its own environment, random seeds, session and process group, and is adopted by hosting; an environment
that native libraries read at import is started as a new process instead; killing the template leaves the
instances serving, and hosting starts a new template that later instances fork from. A multi-model instance forks
its targets' runtimes from itself: each in its own session and group, with the model's Environment, stopped with
its group when unloaded and when the instance dies."""

from __future__ import annotations

import json
import os
import signal
import textwrap
from pathlib import Path

import pytest

from modelport.archive import pack_archive
from tests.helpers.hosting import auth_headers, clients, deploy, instances, start_hosting
from tests.helpers.waiting import eventually

# Answers what the instance's worker sees: its environment, the random draws model_fn made, its process ids.
INFERENCE = '''
import json, os, random
import numpy as np

def model_fn(model_dir):
    return {"who": os.environ.get("WHO"), "numpy": int(np.random.randint(2**31)), "random": random.random()}

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, model):
    return {**model, "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0)}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    """The model above, packed."""
    src = tmp_path_factory.mktemp("probe") / "src"
    (src / "code").mkdir(parents=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
    return pack_archive(src, src.parent / "model.tar.gz")


def answer(rt, endpoint: str, variant: str | None = None) -> dict:
    """One invocation's JSON answer (to ``variant`` when given)."""
    extra = {"TargetVariant": variant} if variant else {}
    return json.loads(rt.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json",
                                         **extra)["Body"].read())


def templates(url: str, endpoint: str) -> dict[str, dict]:
    """The instance templates hosting reports, by family."""
    import httpx

    data = httpx.get(f"{url}/_modelport/endpoints/{endpoint}/instances", headers=auth_headers(url)).json()
    return {t["family"]: t for t in data["Templates"]}


def comm(pid: int) -> str:
    """A process's name (``ps -o comm``)."""
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_forked_instances_have_their_own_environment_seeds_session_and_group(hosting, sm, rt, probe):
    deploy(sm, "own", str(probe), variants=[{"name": "A", "count": 1, "env": {"WHO": "a"}},
                                            {"name": "B", "count": 1, "env": {"WHO": "b"}}])
    listed = instances(hosting.url, "own")
    assert [i["origin"] for i in listed] == ["forked from the sklearn template"] * 2
    template = templates(hosting.url, "own")["sklearn"]
    assert template["ready"] and template["pid"] not in {i["pid"] for i in listed}
    seen = {variant: answer(rt, "own", variant) for variant in ("A", "B")}
    assert {v: s["who"] for v, s in seen.items()} == {"A": "a", "B": "b"}  # each its model's Environment
    assert seen["A"]["numpy"] != seen["B"]["numpy"]  # reseeded after fork: not the template's numpy state
    assert seen["A"]["random"] != seen["B"]["random"]
    for instance, variant in zip(listed, ("A", "B")):
        worker = seen[variant]
        pid = instance["pid"]
        assert os.getpgid(pid) == pid and os.getsid(pid) == pid  # its own session and process group
        assert worker["ppid"] == pid and worker["pgid"] == pid and worker["sid"] == pid  # its forked worker
        assert [comm(pid), comm(worker["pid"]), comm(template["pid"])] == ["mp-instance", "mp-worker", "mp-template"]
        assert int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()  # adopted
        inherited = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        assert not [target for target in inherited if "template-sklearn.log" in target]  # the template's fds closed
    assert seen["A"]["pgid"] != seen["B"]["pgid"]


def test_an_environment_read_at_import_time_starts_a_new_process(hosting, sm, rt, probe):
    deploy(sm, "spawned", str(probe), env={"WHO": "s", "OMP_PROC_BIND": "false"})
    [instance] = instances(hosting.url, "spawned")
    assert instance["origin"] == "spawned"
    assert answer(rt, "spawned")["who"] == "s"
    log = Path(instance["log"]).read_text()
    assert "not forking" in log and "its environment sets OMP_PROC_BIND" in log


def test_killing_the_template_leaves_instances_serving_and_it_is_restarted(hosting, sm, rt, probe):
    deploy(sm, "survivor", str(probe), env={"WHO": "x"})
    [before] = instances(hosting.url, "survivor")
    old = templates(hosting.url, "survivor")["sklearn"]["pid"]
    os.kill(old, signal.SIGKILL)

    def restarted() -> dict:
        template = templates(hosting.url, "survivor")["sklearn"]
        assert template["ready"] and template["pid"] not in (None, old)
        return template

    new = eventually(restarted, 30, 0.05, message="the template was not restarted")
    assert not Path(f"/proc/{old}").exists()  # reaped: no zombie template
    [after] = instances(hosting.url, "survivor")
    assert (after["pid"], after["restarts"], after["ready"]) == (before["pid"], 0, True)
    assert answer(rt, "survivor")["who"] == "x"
    sm.update_endpoint_weights_and_capacities(EndpointName="survivor", DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 2}])
    eventually(lambda: sm.describe_endpoint(EndpointName="survivor")["EndpointStatus"] == "InService", 30, 0.05)
    added = instances(hosting.url, "survivor")[1]
    assert added["origin"] == "forked from the sklearn template" and added["ready"]
    assert int(Path(f"/proc/{added['pid']}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
    assert new["pid"] == templates(hosting.url, "survivor")["sklearn"]["pid"]


def test_the_fork_server_can_be_turned_off(tmp_path, monkeypatch, probe):
    monkeypatch.setenv("MODELPORT_HOSTING_FORKSERVER", "0")
    server = start_hosting(tmp_path / "home")
    try:
        sm, rt = clients(server.url)
        deploy(sm, "plain", str(probe), env={"WHO": "p"})
        [instance] = instances(server.url, "plain")
        assert instance["origin"] == "spawned" and templates(server.url, "plain") == {}
        assert answer(rt, "plain")["who"] == "p"
    finally:
        server.stop()


def test_multi_model_targets_are_forked_from_their_instance_in_their_own_group(hosting, sm, rt, probe, tmp_path):
    from tests.hosting.test_multi_model import create_mme, invoke

    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for target in ("p1.tar.gz", "p2.tar.gz"):
        (prefix / target).write_bytes(probe.read_bytes())
    create_mme(sm, "mme-forked", f"file://{prefix}/", env={"WHO": "target", "MODELPORT_MME_MAX_MODELS": "1"})
    [instance] = instances(hosting.url, "mme-forked")
    first = invoke(rt, "mme-forked", "p1.tar.gz")
    runtime = first["ppid"]  # the target's runtime (its supervisor), which forked the worker that answered
    assert parent_of(runtime) == instance["pid"]
    assert first["who"] == "target"  # the model's Environment
    assert first["pgid"] == runtime and first["sid"] == runtime  # its own session and process group
    assert os.getpgid(instance["pid"]) != runtime
    # forked from the warm instance, not started as `python -m modelport.runtime`: the same command line
    assert Path(f"/proc/{runtime}/cmdline").read_bytes() == Path(f"/proc/{instance['pid']}/cmdline").read_bytes()
    assert not sockets(runtime) & sockets(instance["pid"])  # the instance's sockets closed in the target
    assert comm(runtime) == "mp-target"  # what `ps -o comm` and top call it

    second = invoke(rt, "mme-forked", "p2.tar.gz")  # a budget of one target: p1 is unloaded
    assert second["numpy"] != first["numpy"] and second["pgid"] not in (runtime, instance["pid"])
    eventually(lambda: not group_members(runtime), 10, 0.05,
               message="an unloaded target's runtime or worker was still running")
    os.kill(instance["pid"], signal.SIGKILL)  # the instance dies: its parent-death signal stops the target
    eventually(lambda: not group_members(second["pgid"]), 10, 0.05,
               message="a target's runtime outlived its instance")


def parent_of(pid: int) -> int:
    """The parent process id of ``pid``."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def sockets(pid: int) -> set[str]:
    """The sockets (``socket:[inode]``) process ``pid`` holds open."""
    return {link for fd in Path(f"/proc/{pid}/fd").iterdir() if (link := os.readlink(fd)).startswith("socket:")}


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else None
        except OSError:
            continue
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
