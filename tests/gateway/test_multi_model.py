"""The gateway in front of a multi-model endpoint on real hosting: ``POST /invoke/{endpoint}?target=NAME`` and a
model-table entry mapping a public name to endpoint + target, through both Runtime clients (boto3, http)."""

from __future__ import annotations

import json

import httpx
import pytest

from modelport.gateway.app import create_app
from tests.helpers.hosting import clients, make_archive, start_hosting, wait_in_service
from tests.helpers.live_gateway import LiveGateway, hosting_gateway_settings


@pytest.fixture(scope="module", params=["boto3", "http"])
def mme_gateway(request, tmp_path_factory):
    """Hosting with a multi-model endpoint over a file:// prefix holding two.tar.gz and three.tar.gz, and a gateway
    whose model table maps ``double`` to its two.tar.gz."""
    root = tmp_path_factory.mktemp("gateway-mme")
    prefix = root / "prefix"
    prefix.mkdir()
    for scale, name in ((2, "two"), (3, "three")):
        (prefix / f"{name}.tar.gz").write_bytes(make_archive(root / name, scale=scale).read_bytes())
    hosting = start_hosting(root / "home")
    try:
        sm, _ = clients(hosting.url)
        sm.create_model(ModelName="mme-gw", ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                        PrimaryContainer={"Image": "modelport", "Mode": "MultiModel", "ModelDataUrl": f"file://{prefix}/"})
        sm.create_endpoint_config(EndpointConfigName="mme-gw", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "mme-gw", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="mme-gw", EndpointConfigName="mme-gw")
        wait_in_service(sm, "mme-gw")
        routes = json.dumps({"double": {"endpoint": "mme-gw", "target": "two.tar.gz", "kind": "custom"}})
        with LiveGateway(create_app(hosting_gateway_settings(hosting, request.param, routes=routes))) as url:
            with httpx.Client(base_url=url, timeout=30) as client:
                yield client
    finally:
        hosting.stop()


def test_invoke_with_a_target_and_a_model_table_entry_for_one(mme_gateway):
    json_headers = {"content-type": "application/json"}
    three = mme_gateway.post("/invoke/mme-gw", params={"target": "three.tar.gz"}, content=b'{"x": 2}',
                             headers=json_headers)
    assert three.status_code == 200, three.text
    assert three.json()["y"] == 6.0
    by_header = mme_gateway.post("/invoke/mme-gw", content=b'{"x": 2}',
                                 headers={**json_headers, "x-amzn-sagemaker-target-model": "two.tar.gz"})
    assert by_header.json()["y"] == 4.0

    predicted = mme_gateway.post("/predict/double", json={"x": 5})
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["y"] == 10.0 and predicted.json()["endpoint"] == "mme-gw"
    listed = {m["name"]: m for m in mme_gateway.get("/models").json()["models"]}
    assert listed["double"]["target"] == "two.tar.gz"


def test_missing_absent_and_bad_targets_are_refused(mme_gateway):
    json_headers = {"content-type": "application/json"}
    missing = mme_gateway.post("/invoke/mme-gw", params={"target": "four.tar.gz"}, content=b'{"x": 1}',
                               headers=json_headers)
    assert missing.status_code == 400, missing.text
    assert "Failed to download model data" in missing.text
    absent = mme_gateway.post("/invoke/mme-gw", content=b'{"x": 1}', headers=json_headers)
    assert absent.status_code == 400 and "missing a target model header" in absent.text
    too_long = mme_gateway.post("/invoke/mme-gw", params={"target": "x" * 1025}, content=b'{"x": 1}',
                                headers=json_headers)
    assert too_long.status_code == 400 and too_long.json()["error"]["field"] == "target"
