"""Multi-model endpoints through unmodified boto3: a MultiModel container over an S3 prefix in hosting's S3,
targets loaded on first use and unloaded least-recently-used past the budget (every answer right), an archive
added under the prefix while running, SageMaker's errors for a missing, broken or absent target, the same target
routed to the same instance, CreateModel's checks, and the model store kept within its disk budget."""

from __future__ import annotations

import json
import os
import signal
import textwrap

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from modelport.archive import pack_archive
from tests.helpers.hosting import (INFERENCE, auth_headers, clients, make_archive, start_hosting, token_for,
                                   wait_in_service)
from tests.helpers.waiting import eventually

ROLE = "arn:aws:iam::123456789012:role/local"


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """Archives of the tiny model that multiply x by 2, 3, 4 and 5, and one whose model_fn fails."""
    out = {}
    for scale in (2, 3, 4, 5):
        out[scale] = make_archive(tmp_path_factory.mktemp(f"scale{scale}"), scale=scale)
    broken = tmp_path_factory.mktemp("broken")
    (broken / "src" / "code").mkdir(parents=True)
    (broken / "src" / "code" / "inference.py").write_text(textwrap.dedent('''
        def model_fn(model_dir):
            raise RuntimeError("this target cannot load")
    '''))
    out["broken"] = pack_archive(broken / "src", broken / "model.tar.gz")
    return out


def s3_client(url: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=token_for(url),
                        aws_secret_access_key="modelport", config=Config(retries={"max_attempts": 1}))


def create_mme(sm, name: str, prefix: str, count: int = 1, env: dict | None = None, cache: str = "Enabled") -> dict:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "modelport", "Mode": "MultiModel", "ModelDataUrl": prefix,
                                      "Environment": env or {}, "MultiModelConfig": {"ModelCacheSetting": cache}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": count}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_in_service(sm, name)


def invoke(rt, name: str, target: str | None, x: float = 1.0) -> dict:
    extra = {"TargetModel": target} if target is not None else {}
    response = rt.invoke_endpoint(EndpointName=name, Body=json.dumps({"x": x}), ContentType="application/json", **extra)
    return json.loads(response["Body"].read())


def loaded_models(url: str, name: str) -> list[dict]:
    """DescribeEndpoint's LoadedModels (a modelport extension boto3 does not parse), read as raw JSON."""
    response = httpx.post(url, json={"EndpointName": name}, headers={
        "X-Amz-Target": "SageMaker.DescribeEndpoint", "Content-Type": "application/x-amz-json-1.1", **auth_headers(url)})
    return response.json()["ProductionVariants"][0]["LoadedModels"]


def metric(url: str, sample: str) -> float:
    text = httpx.get(f"{url}/metrics", headers=auth_headers(url)).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(sample))


def test_targets_load_on_first_use_and_unload_least_recently_used(hosting, sm, rt, archives):
    s3 = s3_client(hosting.url)
    s3.create_bucket(Bucket="models")
    for scale, target in ((2, "a.tar.gz"), (3, "b.tar.gz"), (4, "c.tar.gz")):
        s3.upload_file(str(archives[scale]), "models", f"mme/{target}")
    s3.upload_file(str(archives["broken"]), "models", "mme/broken.tar.gz")
    create_mme(sm, "mme", "s3://models/mme/", env={"MODELPORT_MME_MAX_MODELS": "2"})

    pids = {}
    for target, y in (("a.tar.gz", 2.0), ("b.tar.gz", 3.0), ("c.tar.gz", 4.0)):
        answer = invoke(rt, "mme", target, x=1)
        assert answer["y"] == y
        pids[target] = answer["pid"]
    assert len(set(pids.values())) == 3  # each target's user code in its own process
    assert [m["TargetModel"] for m in loaded_models(hosting.url, "mme")] == ["b.tar.gz", "c.tar.gz"]  # a evicted

    assert invoke(rt, "mme", "c.tar.gz", x=2)["y"] == 8.0  # a hit: c is now the most recently used
    assert invoke(rt, "mme", "a.tar.gz", x=2)["y"] == 4.0  # loaded again, b (least recently used) goes
    assert [m["TargetModel"] for m in loaded_models(hosting.url, "mme")] == ["c.tar.gz", "a.tar.gz"]

    s3.upload_file(str(archives[5]), "models", "mme/d.tar.gz")  # written while the endpoint runs
    assert invoke(rt, "mme", "d.tar.gz", x=2)["y"] == 10.0
    assert invoke(rt, "mme", "b.tar.gz", x=1)["y"] == 3.0

    with pytest.raises(ClientError) as missing:
        invoke(rt, "mme", "nothing.tar.gz")
    assert missing.value.response["Error"]["Code"] == "ValidationError"
    assert "Failed to download model data(bucket: models, key: mme/nothing.tar.gz)" in str(missing.value)
    with pytest.raises(ClientError) as broken:
        invoke(rt, "mme", "broken.tar.gz")
    assert broken.value.response["Error"]["Code"] == "ModelError"
    assert broken.value.response["OriginalStatusCode"] == 500
    assert "broken.tar.gz could not be loaded" in broken.value.response["OriginalMessage"]
    assert invoke(rt, "mme", "b.tar.gz", x=3)["y"] == 9.0  # other targets unaffected
    with pytest.raises(ClientError) as absent:
        invoke(rt, "mme", None)
    assert absent.value.response["Error"]["Code"] == "ValidationError"
    assert "is missing a target model header" in str(absent.value)
    with pytest.raises(ClientError) as climbing:
        invoke(rt, "mme", "../other/a.tar.gz")
    assert climbing.value.response["Error"]["Code"] == "ValidationError"

    # hits: c's second call and b's after the broken target; every call with a valid target name is a sample
    assert metric(hosting.url, 'ModelCacheHit_sum{endpoint="mme"') == 2.0
    assert metric(hosting.url, 'ModelCacheHit_count{endpoint="mme"') == 10.0
    # unloaded: a (for c), b (for a), c (for d), a (for b), d (for the broken target: room is made before a load)
    assert metric(hosting.url, 'ModelUnloadingTime_count{endpoint="mme"') == 5
    assert metric(hosting.url, 'ModelLoadingTime_count{endpoint="mme"') == 6  # successful loads
    assert metric(hosting.url, 'ModelLoadingWaitTime_count{endpoint="mme"') == 6
    assert metric(hosting.url, 'LoadedModelCount{endpoint="mme"') == 1  # b
    assert [m["TargetModel"] for m in loaded_models(hosting.url, "mme")] == ["b.tar.gz"]


def test_a_target_goes_to_the_instance_that_has_it_loaded(hosting, sm, rt, archives, tmp_path):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for scale in (2, 3, 4):
        (prefix / f"m{scale}.tar.gz").write_bytes(archives[scale].read_bytes())
    create_mme(sm, "mme-two", f"file://{prefix}/", count=2)
    answers = {f"m{scale}.tar.gz": {(invoke(rt, "mme-two", f"m{scale}.tar.gz", x=1)["y"],
                                     invoke(rt, "mme-two", f"m{scale}.tar.gz", x=1)["pid"]) for _ in range(3)}
               for scale in (2, 3, 4)}
    assert {t: {y for y, _ in a} for t, a in answers.items()} == {"m2.tar.gz": {2.0}, "m3.tar.gz": {3.0},
                                                                   "m4.tar.gz": {4.0}}
    assert all(len(a) == 1 for a in answers.values())  # every call of a target answered by one process
    placed = loaded_models(hosting.url, "mme-two")
    assert sorted(m["TargetModel"] for m in placed) == ["m2.tar.gz", "m3.tar.gz", "m4.tar.gz"]  # each loaded once

    # m2's runtime dies (its supervisor, the parent of the worker that answered): that request fails, the next reloads
    (worker,) = {pid for _, pid in answers["m2.tar.gz"]}
    os.kill(parent_of(worker), signal.SIGKILL)

    def still_answers() -> bool:  # raises the ClientError once the instance's server has noticed
        invoke(rt, "mme-two", "m2.tar.gz")
        return False

    with pytest.raises(ClientError) as lost:
        eventually(still_answers, 10, message="m2 kept answering after its runtime was killed")
    assert lost.value.response["Error"]["Code"] == "ModelError" and lost.value.response["OriginalStatusCode"] == 404
    again = invoke(rt, "mme-two", "m2.tar.gz", x=1)
    assert again["y"] == 2.0 and again["pid"] != worker


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_memory_budget_and_disabled_cache_unload_targets(hosting, sm, rt, archives, tmp_path):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    for scale in (2, 3):
        (prefix / f"m{scale}.tar.gz").write_bytes(archives[scale].read_bytes())
    # 1 MB: any loaded target is over it, so each load unloads every other (never the one just loaded)
    create_mme(sm, "mme-tight", f"file://{prefix}/", env={"MODELPORT_MME_MAX_MEMORY_MB": "1"})
    assert invoke(rt, "mme-tight", "m2.tar.gz", x=1)["y"] == 2.0
    assert invoke(rt, "mme-tight", "m3.tar.gz", x=1)["y"] == 3.0
    assert [m["TargetModel"] for m in loaded_models(hosting.url, "mme-tight")] == ["m3.tar.gz"]

    create_mme(sm, "mme-nocache", f"file://{prefix}", cache="Disabled")
    assert invoke(rt, "mme-nocache", "m2.tar.gz", x=2)["y"] == 4.0
    eventually(lambda: loaded_models(hosting.url, "mme-nocache") == [], 10,
               message="a target of a cache-disabled endpoint stayed loaded after its invocation")


def test_create_model_checks_multi_model_containers_and_single_model_endpoints_refuse_target_model(
        hosting, sm, rt, archives):
    def refused(**container) -> str:
        with pytest.raises(ClientError) as excinfo:
            sm.create_model(ModelName="bad-mme", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "modelport",
                                                                                          **container})
        assert excinfo.value.response["Error"]["Code"] == "ValidationException"
        return excinfo.value.response["Error"]["Message"]

    assert "enum value set: [SingleModel, MultiModel]" in refused(Mode="Many", ModelDataUrl=str(archives[2]))
    assert "must be a prefix" in refused(Mode="MultiModel", ModelDataUrl=str(archives[2]))
    assert "needs ModelDataUrl" in refused(Mode="MultiModel")
    assert "MODELPORT_MME_MAX_MODELS" in refused(Mode="MultiModel", ModelDataUrl=f"file://{archives[2].parent}/",
                                                 Environment={"MODELPORT_MME_MAX_MODELS": "0"})
    assert "modelCacheSetting" in refused(Mode="MultiModel", ModelDataUrl="s3://models/mme/",
                                          MultiModelConfig={"ModelCacheSetting": "Sometimes"})

    sm.create_model(ModelName="mme-model", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "modelport", "Mode": "MultiModel", "ModelDataUrl": f"file://{archives[2].parent}/"})
    with pytest.raises(ClientError) as serverless:
        sm.create_endpoint_config(EndpointConfigName="mme-serverless", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "mme-model",
             "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2}}])
    assert "do not support multi-model models" in serverless.value.response["Error"]["Message"]

    sm.create_model(ModelName="single", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(archives[2])})
    sm.create_endpoint_config(EndpointConfigName="single", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "single", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="single", EndpointConfigName="single")
    wait_in_service(sm, "single")
    with pytest.raises(ClientError) as excinfo:
        invoke(rt, "single", "a.tar.gz")
    error = excinfo.value.response
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"]["Message"] == ("Endpoint single is not a multi-model endpoint and does not support target "
                                         "model header.")
    assert invoke(rt, "single", None)["y"] == 2.0


def padded_archive(root, scale: float, pad_kb: int):
    """The tiny model multiplying by ``scale`` with ``pad_kb`` KB of incompressible weights beside it."""
    src = root / "src"
    (src / "code").mkdir(parents=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
    (src / "weights.json").write_text('{"scale": %s}' % scale)
    (src / "padding.bin").write_bytes(os.urandom(pad_kb * 1024))
    return pack_archive(src, root / "model.tar.gz")


def test_the_model_store_keeps_unloaded_targets_within_its_disk_budget(tmp_path):
    # 1 MB of disk for targets of ~600 KB each, one loaded at a time: an unloaded target stays on disk only
    # while the store has room for it
    server = start_hosting(tmp_path / "home", mme_max_disk_mb=1)
    try:
        sm, rt = clients(server.url)
        s3 = s3_client(server.url)
        s3.create_bucket(Bucket="models")
        for scale, target in ((2, "a.tar.gz"), (3, "b.tar.gz")):
            archive = padded_archive(tmp_path / target, scale, pad_kb=600)
            s3.upload_file(str(archive), "models", f"mme/{target}")
        create_mme(sm, "mme-disk", "s3://models/mme/", env={"MODELPORT_MME_MAX_MODELS": "1"})
        assert invoke(rt, "mme-disk", "a.tar.gz", x=1)["y"] == 2.0
        (store,) = (tmp_path / "home").glob("hosting/artifacts/mme/*/models")  # made by the first fetch

        def unpacked() -> list[str]:
            return sorted(p.name for p in store.iterdir() if not p.name.startswith("."))

        first = unpacked()
        assert len(first) == 1
        assert invoke(rt, "mme-disk", "a.tar.gz", x=2)["y"] == 4.0  # a hit: nothing fetched again
        assert unpacked() == first
        assert invoke(rt, "mme-disk", "b.tar.gz", x=1)["y"] == 3.0  # a unloaded, then deleted to make room
        second = unpacked()
        assert len(second) == 1 and second != first
        assert invoke(rt, "mme-disk", "a.tar.gz", x=3)["y"] == 6.0  # fetched again; b goes
        assert unpacked() == first
        assert not list(store.parent.glob("archives/*/*"))  # each download is deleted once unpacked
        assert not (store / ".keys").exists() or not list((store / ".keys").iterdir())  # nor remembered

        prefix = tmp_path / "prefix"
        prefix.mkdir()
        (prefix / "m.tar.gz").write_bytes((tmp_path / "a.tar.gz" / "model.tar.gz").read_bytes())
        create_mme(sm, "mme-nocache", f"file://{prefix}", cache="Disabled")
        for x in (1, 2):
            assert invoke(rt, "mme-nocache", "m.tar.gz", x=x)["y"] == 2.0 * x
            (nocache,) = (p for p in (tmp_path / "home").glob("hosting/artifacts/mme/*/models") if p != store)
            eventually(lambda: not any(p for p in nocache.iterdir() if not p.name.startswith(".trash-")
                                       and p.name != ".keys"), 10,
                       message="a cache-disabled endpoint's target stayed on disk after its invocation")
    finally:
        server.stop()


def test_a_model_store_goes_with_the_last_endpoint_serving_its_prefix(hosting, sm, rt, archives, tmp_path):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    (prefix / "m.tar.gz").write_bytes(archives[2].read_bytes())
    stores = hosting.home / "hosting" / "artifacts" / "mme"
    before = set(stores.iterdir()) if stores.exists() else set()
    for name in ("mme-first", "mme-second"):  # two endpoints on one prefix share one store
        create_mme(sm, name, f"file://{prefix}/")
        assert invoke(rt, name, "m.tar.gz", x=1)["y"] == 2.0
    (store,) = set(stores.iterdir()) - before
    assert list((store / "models").iterdir())  # the unpacked target

    sm.delete_endpoint(EndpointName="mme-first")
    eventually(lambda: "mme-first" not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]], 30,
               message="the endpoint was never deleted")
    assert store.is_dir()  # still served by the second endpoint
    assert invoke(rt, "mme-second", "m.tar.gz", x=3)["y"] == 6.0

    sm.delete_endpoint(EndpointName="mme-second")
    eventually(lambda: not store.exists(), 30, message="the store outlived the last endpoint serving its prefix")
    assert not [p for p in stores.iterdir() if p.name.startswith(".trash-")]
