"""Data capture with unmodified boto3 against real hosting: SageMaker's file layout and record format (JSON, CSV
and base64 halves, inferenceId), DescribeEndpoint's summary, hosting's S3 as the destination with a sampling
percentage, validation, nothing lost on a clean stop, and capture restored after a restart (the queue's bounds are
tested in capture/test_writer.py)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from botocore.exceptions import ClientError

from modelport.hosting.capture.reader import read
from tests.helpers.capture import create_model, endpoint_config, make_capture_archive, records
from tests.helpers.hosting import clients, start_hosting, wait_in_service
from tests.helpers.transform import s3_client
from tests.helpers.waiting import eventually

_LAYOUT = re.compile(r"(?P<endpoint>[^/]+)/(?P<variant>[^/]+)/\d{4}/\d{2}/\d{2}/\d{2}/"
                     r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl")
_TYPES = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}


@pytest.fixture(scope="module")
def hosting_options() -> dict:
    return {"capture_flush_seconds": 0.1}


@pytest.fixture(scope="module")
def model(sm, tmp_path_factory) -> str:
    create_model(sm, "capturing", make_capture_archive(tmp_path_factory.mktemp("capture-model")))
    return "capturing"


def deploy(sm, name: str, model: str, destination: str, **options) -> dict:
    endpoint_config(sm, name, model, destination, **options)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_in_service(sm, name)


def test_records_in_sagemakers_layout_and_format(sm, rt, model, tmp_path):
    described = deploy(sm, "cap-format", model, f"file://{tmp_path}/capture", CaptureContentTypeHeader=_TYPES)
    assert described["DataCaptureConfig"] == {"EnableCapture": True, "CaptureStatus": "Started",
                                              "CurrentSamplingPercentage": 100,
                                              "DestinationS3Uri": f"file://{tmp_path}/capture"}
    answer = rt.invoke_endpoint(EndpointName="cap-format", Body=b'{"x": [1, 3, 2]}', ContentType="application/json",
                                InferenceId="req-1")
    json_out = answer["Body"].read()
    rt.invoke_endpoint(EndpointName="cap-format", Body=b"1,2,3\n", ContentType="text/csv; charset=utf-8")
    binary = bytes(range(256))
    rt.invoke_endpoint(EndpointName="cap-format", Body=binary, ContentType="application/x-npy")
    found = eventually(lambda: (r := records(tmp_path / "capture")) and len(r) == 3 and r, 10,
                       message="three capture records")
    for record in found:
        match = _LAYOUT.fullmatch(str(record["_file"].relative_to(tmp_path / "capture")))
        assert match and match["endpoint"] == "cap-format" and match["variant"] == "AllTraffic"
        assert record["eventVersion"] == "0"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", record["eventMetadata"]["inferenceTime"])
        assert set(record["captureData"]) == {"endpointInput", "endpointOutput"}
        assert record["captureData"]["endpointInput"]["mode"] == "INPUT"
        assert record["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    by_type = {r["captureData"]["endpointInput"]["observedContentType"]: r for r in found}
    as_json = by_type["application/json"]
    assert as_json["eventMetadata"]["inferenceId"] == "req-1"
    assert as_json["captureData"]["endpointInput"] == {"observedContentType": "application/json", "mode": "INPUT",
                                                       "data": '{"x": [1, 3, 2]}', "encoding": "JSON"}
    assert as_json["captureData"]["endpointOutput"]["data"].encode() == json_out
    assert as_json["captureData"]["endpointOutput"]["encoding"] == "JSON"
    as_csv = by_type["text/csv; charset=utf-8"]  # parameters are ignored when matching CsvContentTypes
    assert "inferenceId" not in as_csv["eventMetadata"]
    assert as_csv["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert as_csv["captureData"]["endpointInput"]["data"] == "1,2,3\n"
    as_npy = by_type["application/x-npy"]["captureData"]
    assert as_npy["endpointInput"]["encoding"] == "BASE64" and as_npy["endpointOutput"]["encoding"] == "BASE64"
    assert base64.b64decode(as_npy["endpointInput"]["data"]) == binary
    assert base64.b64decode(as_npy["endpointOutput"]["data"]) == binary
    assert len({r["eventMetadata"]["eventId"] for r in found}) == 3


def test_input_only_and_no_content_type_header_is_all_base64(sm, rt, model, tmp_path):
    sm.create_endpoint_config(
        EndpointConfigName="cap-input",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
        DataCaptureConfig={"InitialSamplingPercentage": 100, "DestinationS3Uri": f"file://{tmp_path}/c",
                           "CaptureOptions": [{"CaptureMode": "Input"}]})
    sm.create_endpoint(EndpointName="cap-input", EndpointConfigName="cap-input")
    described = wait_in_service(sm, "cap-input")
    assert described["DataCaptureConfig"]["EnableCapture"] is True  # SageMaker's default
    rt.invoke_endpoint(EndpointName="cap-input", Body=b'{"x": [1]}', ContentType="application/json")
    found = eventually(lambda: records(tmp_path / "c"), 10, message="a capture record")
    assert list(found[0]["captureData"]) == ["endpointInput"]
    assert found[0]["captureData"]["endpointInput"]["encoding"] == "BASE64"  # no CaptureContentTypeHeader
    assert base64.b64decode(found[0]["captureData"]["endpointInput"]["data"]) == b'{"x": [1]}'


def test_hosting_s3_destination_and_sampling_percentage(hosting, sm, rt, model):
    s3 = s3_client(hosting.url)
    s3.create_bucket(Bucket="capture")
    deploy(sm, "cap-sampled", model, "s3://capture/data", percentage=30, CaptureContentTypeHeader=_TYPES)
    sent = 400
    for i in range(sent):
        rt.invoke_endpoint(EndpointName="cap-sampled", Body=b"%d\n" % i, ContentType="text/csv")

    def captured() -> list[str]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="capture", Prefix="data/").get("Contents", [])]
        lines = [line for key in keys for line in s3.get_object(Bucket="capture", Key=key)["Body"].read().splitlines()]
        assert keys and all(_LAYOUT.fullmatch(key[len("data/"):]) for key in keys), keys
        return lines

    seen: list[int] = []

    def settled() -> list[bytes] | None:  # the same count twice, 3 flush intervals apart: all written
        lines = captured()
        seen.append(len(lines))
        return lines if len(seen) > 1 and seen[-2] == seen[-1] > 0 else None

    lines = eventually(settled, 10, 0.3, message=lambda: f"capture objects ({seen})")
    count = len(lines)
    assert 70 <= count <= 170, f"{count} of {sent} captured at 30 % (expected ~120)"  # > 5 standard deviations
    datas = {json.loads(line)["captureData"]["endpointInput"]["data"] for line in lines}
    assert len(datas) == count and datas <= {f"{i}\n" for i in range(sent)}
    read_back = list(read("s3://capture/data/", s3))  # what `modelport replay s3://…` and the shadow report read
    assert len(read_back) == count and {(r.endpoint, r.variant) for r in read_back} == {("cap-sampled", "AllTraffic")}


def test_bad_capture_configs_are_refused_with_what_is_accepted(sm, model, tmp_path):
    def refused(**capture) -> str:
        config = {"InitialSamplingPercentage": 50, "DestinationS3Uri": f"file://{tmp_path}/c",
                  "CaptureOptions": [{"CaptureMode": "InputAndOutput"}], **capture}
        with pytest.raises(ClientError) as caught:
            sm.create_endpoint_config(
                EndpointConfigName="cap-bad",
                ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
                                     "InstanceType": "ml.m5.large"}],
                DataCaptureConfig=config)
        assert caught.value.response["Error"]["Code"] == "ValidationException"
        return caught.value.response["Error"]["Message"]

    assert "MODELPORT_MODEL_ROOTS" in refused(DestinationS3Uri="file:///etc/capture")
    assert "bucket no-such-bucket does not exist" in refused(DestinationS3Uri="s3://no-such-bucket/c")
    assert "initialSamplingPercentage" in refused(InitialSamplingPercentage=101)
    assert "captureMode" in refused(CaptureOptions=[{"CaptureMode": "Everything"}])


def test_a_clean_stop_writes_what_is_queued_and_a_restart_restores_capture(archive_for_stop, tmp_path):
    server = start_hosting(tmp_path / "home", capture_flush_seconds=3600)
    try:
        sm, rt = clients(server.url)
        create_model(sm, "m", archive_for_stop)
        deploy(sm, "cap-stop", "m", f"file://{tmp_path}/c", CaptureContentTypeHeader=_TYPES)
        for i in range(3):
            assert rt.invoke_endpoint(EndpointName="cap-stop", Body=b"%d" % i, ContentType="text/csv")["Body"].read() \
                == b"%d" % i
        assert records(tmp_path / "c") == []  # nothing written before the (hour-long) flush interval
    finally:
        server.stop()
    found = records(tmp_path / "c")
    assert sorted(r["captureData"]["endpointInput"]["data"] for r in found) == ["0", "1", "2"]
    server = start_hosting(tmp_path / "home", capture_flush_seconds=3600)  # the endpoint is restored, capturing
    try:
        sm, rt = clients(server.url)
        wait_in_service(sm, "cap-stop")
        rt.invoke_endpoint(EndpointName="cap-stop", Body=b"after restart", ContentType="text/csv")
    finally:
        server.stop()
    assert "after restart" in [r["captureData"]["endpointInput"]["data"] for r in records(tmp_path / "c")]


@pytest.fixture(scope="module")
def archive_for_stop(tmp_path_factory):
    return make_capture_archive(tmp_path_factory.mktemp("capture-stop-model"))
