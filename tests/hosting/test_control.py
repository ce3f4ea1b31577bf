"""The control plane through boto3's real ``sagemaker`` client: CRUD, statuses, SageMaker's errors, waiters."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.helpers.hosting import auth_headers, start_hosting, wait_in_service

ARN = "arn:aws:sagemaker:us-east-1:123456789012"


def raw_call(url: str, operation: str, params: dict) -> tuple[int, dict]:
    """A JSON 1.1 call without botocore's client-side checks."""
    request = urllib.request.Request(url + "/", data=json.dumps(params).encode(), method="POST", headers={
        "X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1", **auth_headers(url)})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def test_model_create_describe_list_delete(sm, archive):
    env = {"SCALE": "3", "TAG": "m"}
    arn = sm.create_model(ModelName="ctl-model", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                          PrimaryContainer={"Image": "img:1", "ModelDataUrl": f"file://{archive}",
                                            "Environment": env})["ModelArn"]
    assert arn == f"{ARN}:model/ctl-model"
    described = sm.describe_model(ModelName="ctl-model")
    assert described["ModelName"] == "ctl-model"
    assert described["ModelArn"] == arn
    assert described["PrimaryContainer"]["Environment"] == env
    assert described["PrimaryContainer"]["ModelDataUrl"] == f"file://{archive}"
    assert described["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/r"
    assert described["CreationTime"].year >= 2024
    names = [m["ModelName"] for m in sm.list_models(NameContains="ctl-mod")["Models"]]
    assert names == ["ctl-model"]
    sm.delete_model(ModelName="ctl-model")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model(ModelName="ctl-model")
    assert error_of(excinfo) == ("ValidationException", f'Could not find model "{ARN}:model/ctl-model".')


def test_model_errors(sm, archive):
    container = {"Image": "img", "ModelDataUrl": str(archive)}
    sm.create_model(ModelName="ctl-dup", PrimaryContainer=container)
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="ctl-dup", PrimaryContainer=container)
    assert error_of(excinfo) == ("ValidationException", f'Cannot create already existing model "{ARN}:model/ctl-dup".')
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="bad_name!", PrimaryContainer=container)
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert "Value 'bad_name!' at 'modelName' failed to satisfy constraint" in message
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="ctl-env", PrimaryContainer={**container, "Environment": {"1BAD": "x"}})
    assert "Map keys must satisfy constraint" in error_of(excinfo)[1]
    missing = archive.parent / "nothing.tar.gz"  # inside the allowed model roots
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="ctl-missing", PrimaryContainer={"Image": "i", "ModelDataUrl": str(missing)})
    assert error_of(excinfo) == ("ValidationException", f"Could not find model data at {missing}.")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="ctl-nocontainer")
    assert "PrimaryContainer or Containers" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        sm.delete_model(ModelName="ctl-never")
    assert error_of(excinfo) == ("ValidationException", f'Could not find model "{ARN}:model/ctl-never".')


def test_endpoint_config_crud_and_errors(hosting, sm, archive):
    sm.create_model(ModelName="cfg-model", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)})
    variants = [{"VariantName": "A", "ModelName": "cfg-model", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]
    arn = sm.create_endpoint_config(EndpointConfigName="cfg-1", ProductionVariants=variants)["EndpointConfigArn"]
    assert arn == f"{ARN}:endpoint-config/cfg-1"
    described = sm.describe_endpoint_config(EndpointConfigName="cfg-1")
    assert described["ProductionVariants"][0]["InitialVariantWeight"] == 1.0  # SageMaker's default is filled in
    assert described["ProductionVariants"][0]["ModelName"] == "cfg-model"
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="cfg-1", ProductionVariants=variants)
    assert error_of(excinfo)[1] == f'Cannot create already existing endpoint configuration "{ARN}:endpoint-config/cfg-1".'
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="cfg-2", ProductionVariants=[{**variants[0], "ModelName": "nope"}])
    assert error_of(excinfo) == ("ValidationException", f'Could not find model "{ARN}:model/nope".')
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(EndpointConfigName="cfg-3", ProductionVariants=variants + variants)
    assert "appears more than once" in error_of(excinfo)[1]
    # botocore refuses these before sending; the service must refuse them too (raw clients, other SDKs)
    status, body = raw_call(hosting.url, "CreateEndpointConfig", {
        "EndpointConfigName": "cfg-4", "ProductionVariants": [{**variants[0], "InitialInstanceCount": 0}]})
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "initialInstanceCount" in body["message"]
    status, body = raw_call(hosting.url, "CreateEndpointConfig", {
        "EndpointConfigName": "cfg-5", "ProductionVariants": [{**variants[0], "InitialVariantWeight": -1}]})
    assert "initialVariantWeight" in body["message"]
    status, body = raw_call(hosting.url, "CreateEndpointConfig", {"EndpointConfigName": "cfg-6"})
    assert body == {"__type": "ValidationException", "message": "1 validation error detected: Value null at "
                    "'productionVariants' failed to satisfy constraint: Member must not be null"}
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs(NameContains="cfg-")["EndpointConfigs"]] == ["cfg-1"]
    sm.delete_endpoint_config(EndpointConfigName="cfg-1")
    with pytest.raises(ClientError) as excinfo:
        sm.describe_endpoint_config(EndpointConfigName="cfg-1")
    assert error_of(excinfo) == ("ValidationException", f'Could not find endpoint configuration "{ARN}:endpoint-config/cfg-1".')


def test_endpoint_lifecycle_with_waiters(hosting, sm, rt, archive):
    server = hosting
    sm.create_model(ModelName="life", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)})
    sm.create_endpoint_config(EndpointConfigName="life", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "life", "InitialInstanceCount": 1, "InstanceType": "ml.t2.medium"}])
    assert sm.create_endpoint(EndpointName="life", EndpointConfigName="life")["EndpointArn"] == f"{ARN}:endpoint/life"
    assert sm.describe_endpoint(EndpointName="life")["EndpointStatus"] in ("Creating", "InService")
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint(EndpointName="life", EndpointConfigName="life")
    assert error_of(excinfo)[1] == f'Cannot create already existing endpoint "{ARN}:endpoint/life".'
    described = wait_in_service(sm, "life")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "life"
    variant = described["ProductionVariants"][0]
    assert (variant["VariantName"], variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]) == ("AllTraffic", 1, 1)
    assert variant["CurrentWeight"] == 1.0
    assert "FailureReason" not in described
    listed = sm.list_endpoints(StatusEquals="InService", NameContains="life")["Endpoints"]
    assert [(e["EndpointName"], e["EndpointStatus"]) for e in listed] == [("life", "InService")]
    body = json.loads(rt.invoke_endpoint(EndpointName="life", Body=b'{"x": 1}', ContentType="application/json")["Body"].read())
    assert body["y"] == 2.0
    sm.delete_endpoint(EndpointName="life")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="life", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    with pytest.raises(ClientError) as excinfo:
        sm.describe_endpoint(EndpointName="life")
    assert error_of(excinfo) == ("ValidationException", f'Could not find endpoint "{ARN}:endpoint/life".')
    with pytest.raises(ClientError) as excinfo:
        sm.delete_endpoint(EndpointName="life")
    assert error_of(excinfo)[0] == "ValidationException"


def test_failed_create_reports_why_and_waiter_fails(sm, archive):
    sm.create_model(ModelName="broken", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive),
                                                          "Environment": {"FAIL_LOAD": "1"}})
    sm.create_endpoint_config(EndpointConfigName="broken", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "broken", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName="broken", EndpointConfigName="broken")
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="broken", WaiterConfig={"Delay": 0.1, "MaxAttempts": 600})
    described = sm.describe_endpoint(EndpointName="broken")
    assert described["EndpointStatus"] == "Failed"
    assert "did not pass the ping health check" in described["FailureReason"]
    assert "model_fn failed on purpose" in described["FailureReason"]  # the instance's log tail says why
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="broken", EndpointConfigName="broken")
    assert error_of(excinfo)[1] == f'Cannot update in-progress endpoint "{ARN}:endpoint/broken".'
    sm.delete_endpoint(EndpointName="broken")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="broken", WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})


def test_create_endpoint_with_unknown_config(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint(EndpointName="orphan", EndpointConfigName="no-such-config")
    assert error_of(excinfo) == ("ValidationException", f'Could not find endpoint configuration "{ARN}:endpoint-config/no-such-config".')
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="orphan", EndpointConfigName="no-such-config")
    assert error_of(excinfo) == ("ValidationException", f'Could not find endpoint "{ARN}:endpoint/orphan".')


def test_list_pagination_and_sorting(sm, archive):
    for i in range(5):
        sm.create_model(ModelName=f"page-{i}", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)})
    first = sm.list_models(NameContains="page-", MaxResults=2, SortBy="Name", SortOrder="Ascending")
    assert [m["ModelName"] for m in first["Models"]] == ["page-0", "page-1"]
    second = sm.list_models(NameContains="page-", MaxResults=2, SortBy="Name", SortOrder="Ascending",
                            NextToken=first["NextToken"])
    assert [m["ModelName"] for m in second["Models"]] == ["page-2", "page-3"]
    paginator = sm.get_paginator("list_models")
    names = [m["ModelName"] for page in paginator.paginate(NameContains="page-", SortBy="CreationTime",
                                                           SortOrder="Descending", PaginationConfig={"PageSize": 2})
             for m in page["Models"]]
    assert names == [f"page-{i}" for i in reversed(range(5))]
    with pytest.raises(ClientError) as excinfo:
        sm.list_models(SortBy="Size")
    assert error_of(excinfo)[0] == "ValidationException"


def test_unknown_operation_is_a_json_error(hosting):
    server = hosting
    status, body = raw_call(server.url, "CreateTrainingJob", {})
    assert status == 400
    assert body["__type"] == "UnknownOperationException"
    assert "CreateEndpoint" in body["message"]  # lists what is supported


def test_tags_on_create_add_list_delete(sm, archive):
    arn = sm.create_model(ModelName="tagged", PrimaryContainer={"Image": "i", "ModelDataUrl": str(archive)},
                          Tags=[{"Key": "team", "Value": "ml"}])["ModelArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}, {"Key": "team", "Value": "ai"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}, {"Key": "team", "Value": "ai"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["stage"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ai"}]
    assert "Tags" not in sm.describe_model(ModelName="tagged")
    sm.delete_model(ModelName="tagged")
    with pytest.raises(ClientError) as excinfo:
        sm.list_tags(ResourceArn=arn)
    assert error_of(excinfo)[0] == "ValidationException"


def test_a_second_hosting_on_the_same_home_is_refused(hosting):
    from modelport.hosting.server import HomeInUse

    server = hosting
    with pytest.raises(HomeInUse, match="another modelport hosting already runs"):
        start_hosting(server.home)
