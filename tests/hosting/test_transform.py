"""Batch transform on hosting with unmodified boto3: CreateTransformJob over hosting's S3 and local
folders, outputs compared with a plain loop over the same records, failures, stop, waiter, listing and
validation."""

from __future__ import annotations

import gzip
import json
import random

import httpx
import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.helpers.hosting import auth_headers
from tests.helpers.transform import (SCALE, described_when_done, expected_csv, job_request, make_transform_archive,
                                     s3_client, wait_done)
from tests.helpers.waiting import eventually

ROLE = "arn:aws:iam::123456789012:role/local"
MODEL = "scaler"


@pytest.fixture(scope="module")
def model(sm, tmp_path_factory) -> str:
    archive = make_transform_archive(tmp_path_factory.mktemp("transform-model"))
    sm.create_model(ModelName=MODEL, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{archive}"})
    return MODEL


@pytest.fixture(scope="module")
def s3(hosting):
    client = s3_client(hosting.url)
    client.create_bucket(Bucket="data")
    return client


def put(s3, key: str, body: bytes | str) -> None:
    s3.put_object(Bucket="data", Key=key, Body=body.encode() if isinstance(body, str) else body)


def get(s3, key: str) -> str:
    return s3.get_object(Bucket="data", Key=key)["Body"].read().decode()


def keys(s3, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix=prefix).get("Contents", []))


def test_csv_folder_multirecord_with_filter_and_join_matches_a_plain_loop(sm, s3, model):
    rng = random.Random(7)
    files = {"in/csv/a.csv": 15_000, "in/csv/sub/b.csv": 10, "in/csv/c.csv": 1}  # a.csv: ~1.5 MB, 2+ requests
    rows_of = {}
    for key, count in files.items():
        rows = [[rng.uniform(-100, 100) for _ in range(5)] for _ in range(count)]
        rows_of[key] = rows
        put(s3, key, "".join(f"id{i}," + ",".join(repr(v) for v in row) + "\n" for i, row in enumerate(rows)))
    sm.create_transform_job(**job_request(
        "csv-join", model, "s3://data/in/csv/", "s3://data/out/csv/",
        input={"ContentType": "text/csv", "SplitType": "Line"},
        output={"Accept": "text/csv", "AssembleWith": "Line"},
        BatchStrategy="MultiRecord", MaxPayloadInMB=1, MaxConcurrentTransforms=2,
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-2]"}))
    described = wait_done(sm, "csv-join")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformStartTime"] <= described["TransformEndTime"]
    assert described["DataProcessing"]["OutputFilter"] == "$[0,-2]"
    assert keys(s3, "out/csv/") == ["out/csv/a.csv.out", "out/csv/c.csv.out", "out/csv/sub/b.csv.out"]
    for key, rows in rows_of.items():
        # the plain loop: the model's answer for each row without its id, joined with the id
        expected = "".join(f"id{i},{expected_csv(row).split(',')[0]}\n" for i, row in enumerate(rows))
        assert get(s3, "out/csv/" + key.removeprefix("in/csv/") + ".out") == expected


def test_single_record_gzip_json_lines(sm, s3, model):
    records = [{"x": i} for i in range(20)]
    lines = [json.dumps(r) for r in records]
    lines.insert(5, "")  # a blank line is no record
    put(s3, "in/json/records.jsonl.gz", gzip.compress(("\n".join(lines) + "\n").encode()))
    sm.create_transform_job(**job_request(
        "json-single", model, "s3://data/in/json/", "s3://data/out/json",
        input={"ContentType": "application/jsonlines", "SplitType": "Line", "CompressionType": "Gzip"},
        output={"Accept": "application/jsonlines", "AssembleWith": "Line"}, BatchStrategy="SingleRecord"))
    assert wait_done(sm, "json-single")["TransformJobStatus"] == "Completed"
    answers = [json.loads(line) for line in get(s3, "out/json/records.jsonl.gz.out").splitlines()]
    assert answers == [{"y": r["x"] * SCALE, "batch": 1} for r in records]


def test_multirecord_packs_records_into_few_requests(sm, s3, model):
    put(s3, "in/multi/m.jsonl", "".join(json.dumps({"x": i}) + "\n" for i in range(50)))
    sm.create_transform_job(**job_request(
        "json-multi", model, "s3://data/in/multi/m.jsonl", "s3://data/out/multi/",
        input={"ContentType": "application/jsonlines", "SplitType": "Line"},
        output={"Accept": "application/jsonlines", "AssembleWith": "Line"}))  # BatchStrategy from the container
    assert wait_done(sm, "json-multi")["TransformJobStatus"] == "Completed"
    answers = [json.loads(line) for line in get(s3, "out/multi/m.jsonl.out").splitlines()]
    assert [a["y"] for a in answers] == [i * SCALE for i in range(50)]
    assert {a["batch"] for a in answers} == {50}  # one request: MultiRecord, all fit in 6 MB


def test_manifest_of_local_files_without_split(sm, s3, model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "one.csv").write_text("1,2\n3,4\n5,6\n")
    (data / "two.csv").write_text("10,20,30\n")
    (data / "ignored.csv").write_text("not,listed\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps([{"prefix": f"file://{data}/"}, "one.csv", "two.csv"]))
    sm.create_transform_job(**job_request(
        "manifest", model, f"file://{manifest}", "s3://data/out/manifest/", data_type="ManifestFile",
        input={"ContentType": "text/csv"}, output={"Accept": "text/csv"}))
    assert wait_done(sm, "manifest")["TransformJobStatus"] == "Completed"
    assert keys(s3, "out/manifest/") == ["out/manifest/one.csv.out", "out/manifest/two.csv.out"]
    assert get(s3, "out/manifest/one.csv.out") == "".join(expected_csv(r) + "\n" for r in ([1, 2], [3, 4], [5, 6]))
    assert get(s3, "out/manifest/two.csv.out") == expected_csv([10, 20, 30]) + "\n"


def test_local_folder_in_and_out(sm, model, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.csv").write_text("1,1\n2,2\n")
    sm.create_transform_job(**job_request(
        "local-files", model, f"file://{tmp_path}/in", f"file://{tmp_path}/out",
        input={"ContentType": "text/csv", "SplitType": "Line"}, output={"Accept": "text/csv", "AssembleWith": "Line"}))
    assert wait_done(sm, "local-files")["TransformJobStatus"] == "Completed"
    assert (tmp_path / "out" / "x.csv.out").read_text() == expected_csv([1, 1]) + "\n" + expected_csv([2, 2]) + "\n"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".part")]


def test_a_bad_record_fails_the_job_naming_object_and_line(sm, s3, model):
    put(s3, "in/bad/a-good.csv", "1,2\n")
    put(s3, "in/bad/bad.csv", "1,2\n3,4\n5,x\n7,8\n")
    sm.create_transform_job(**job_request(
        "bad-record", model, "s3://data/in/bad/", "s3://data/out/bad/",
        input={"ContentType": "text/csv", "SplitType": "Line"}, output={"Accept": "text/csv", "AssembleWith": "Line"},
        BatchStrategy="MultiRecord", MaxConcurrentTransforms=1))
    with pytest.raises(WaiterError):  # the waiter's failure state: Failed
        wait_done(sm, "bad-record")
    described = sm.describe_transform_job(TransformJobName="bad-record")
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "s3://data/in/bad/bad.csv line 3" in reason and "not a number" in reason and "400" in reason, reason
    assert keys(s3, "out/bad/") == ["out/bad/a-good.csv.out"]  # an object that failed leaves no output


def test_stop_transform_job(sm, s3, model, hosting):
    put(s3, "in/slow/s.jsonl", "".join(json.dumps({"x": i, "sleep": 0.2}) + "\n" for i in range(100)))
    sm.create_transform_job(**job_request(
        "slow", model, "s3://data/in/slow/", "s3://data/out/slow/",
        input={"ContentType": "application/jsonlines", "SplitType": "Line"},
        output={"Accept": "application/jsonlines", "AssembleWith": "Line"},
        BatchStrategy="SingleRecord", MaxConcurrentTransforms=1))
    progress = f"{hosting.url}/_modelport/transform-jobs/slow"
    eventually(lambda: httpx.get(progress, headers=auth_headers(hosting.url)).json().get("RecordsDone", 0) >= 2, 30,
               message="the slow job made no progress")
    sm.stop_transform_job(TransformJobName="slow")
    assert sm.describe_transform_job(TransformJobName="slow")["TransformJobStatus"] in ("Stopping", "Stopped")
    described = wait_done(sm, "slow")  # the waiter's success states: Completed or Stopped
    assert described["TransformJobStatus"] == "Stopped"
    assert keys(s3, "out/slow/") == []
    with pytest.raises(ClientError) as again:
        sm.stop_transform_job(TransformJobName="slow")
    assert again.value.response["Error"]["Code"] == "ValidationException"


def test_list_transform_jobs_filters_sorts_and_pages(sm, s3, model):
    put(s3, "in/list/ok.csv", "1\n")
    put(s3, "in/list/bad.csv", "x\n")
    for name, prefix in (("listjob-b", "in/list/ok.csv"), ("listjob-a", "in/list/ok.csv"), ("listjob-c", "in/list/bad.csv")):
        sm.create_transform_job(**job_request(name, model, f"s3://data/{prefix}", f"s3://data/out/{name}/",
                                              input={"ContentType": "text/csv", "SplitType": "Line"}))
    for name in ("listjob-a", "listjob-b", "listjob-c"):
        described_when_done(sm, name)
    first = sm.list_transform_jobs(NameContains="listjob", StatusEquals="Completed", SortBy="Name",
                                   SortOrder="Ascending", MaxResults=1)
    assert [j["TransformJobName"] for j in first["TransformJobSummaries"]] == ["listjob-a"]
    second = sm.list_transform_jobs(NameContains="listjob", StatusEquals="Completed", SortBy="Name",
                                    SortOrder="Ascending", MaxResults=1, NextToken=first["NextToken"])
    assert [j["TransformJobName"] for j in second["TransformJobSummaries"]] == ["listjob-b"]
    assert "NextToken" not in second
    failed = sm.list_transform_jobs(NameContains="LISTJOB", StatusEquals="Failed")["TransformJobSummaries"]
    assert [(j["TransformJobName"], "line 1" in j["FailureReason"]) for j in failed] == [("listjob-c", True)]
    every = [j["TransformJobName"] for page in sm.get_paginator("list_transform_jobs").paginate(
        NameContains="listjob", SortBy="Name", SortOrder="Descending", PaginationConfig={"PageSize": 2})
        for j in page["TransformJobSummaries"]]
    assert every == ["listjob-c", "listjob-b", "listjob-a"]


BASE = {"input": {"ContentType": "text/csv", "SplitType": "Line"}, "output": {"Accept": "text/csv", "AssembleWith": "Line"}}


@pytest.mark.parametrize("change, phrase", [
    ({"ModelName": "no-such-model"}, "Could not find model"),
    ({"input": {"SplitType": "RecordIO"}}, "RecordIO and TFRecord are not implemented"),
    ({"data_type": "AugmentedManifestFile"}, "S3DataType AugmentedManifestFile is not supported"),
    ({"MaxPayloadInMB": 101}, "less than or equal to 100"),
    ({"MaxPayloadInMB": 20, "MaxConcurrentTransforms": 6}, "MaxConcurrentTransforms × MaxPayloadInMB"),
    ({"BatchStrategy": "Everything"}, "enum value set"),
    ({"DataProcessing": {"InputFilter": "$..deep"}}, "cannot read the JSONPath"),
    ({"DataProcessing": {"JoinSource": "Input"}, "output": {"Accept": "text/csv", "AssembleWith": "None"}},
     "SplitType Line and AssembleWith Line"),
    ({"DataProcessing": {"JoinSource": "Input"}, "output": {"Accept": "application/json", "AssembleWith": "Line"}},
     "the same type"),
    ({"Environment": {"LD_PRELOAD": "/tmp/x.so"}}, "may not set LD_PRELOAD"),
    ({"TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 10_000}}, "MAX_INSTANCES_PER_VARIANT"),
    ({"output_uri": "file:///etc/modelport-out"}, "outside the folders"),
    ({"input_uri": "s3://no-such-bucket/in/"}, "bucket no-such-bucket does not exist"),
    ({"TransformJobName": "bad_name!"}, "regular expression"),
])
def test_validation_errors(sm, s3, model, change, phrase):
    change = dict(change)
    params = job_request(change.pop("TransformJobName", "invalid"), model,
                         change.pop("input_uri", "s3://data/in/csv/"), change.pop("output_uri", "s3://data/out/x/"),
                         data_type=change.pop("data_type", "S3Prefix"),
                         input={**BASE["input"], **change.pop("input", {})},
                         output={**BASE["output"], **change.pop("output", {})}, **change)
    with pytest.raises(ClientError) as refused:
        sm.create_transform_job(**params)
    error = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ValidationException" and phrase in error["Message"], error


def test_unknown_and_duplicate_jobs(sm, s3, model):
    with pytest.raises(ClientError) as unknown:
        sm.describe_transform_job(TransformJobName="never-created")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    put(s3, "in/dup/d.csv", "1\n")
    params = job_request("dup", model, "s3://data/in/dup/", "s3://data/out/dup/", **BASE,
                         Tags=[{"Key": "team", "Value": "digits"}])
    arn = sm.create_transform_job(**params)["TransformJobArn"]
    assert arn.endswith(":transform-job/dup")
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "digits"}]
    with pytest.raises(ClientError) as again:
        sm.create_transform_job(**params)
    assert "already exists" in again.value.response["Error"]["Message"]
    assert wait_done(sm, "dup")["TransformJobStatus"] == "Completed"


@pytest.mark.parametrize("name, body, extra, phrase", [
    ("not-gzip", b"1,2\n", {"CompressionType": "Gzip"}, "in/damaged/not-gzip/d.csv: the object cannot be read as gzip"),
    ("long-line", b"1,2\n" + b"3," * 600_000 + b"4\n", {}, "in/damaged/long-line/d.csv: line 2 is larger than MaxPayloadInMB (1 MB)"),
])
def test_unreadable_input_fails_the_job_naming_the_object(sm, s3, model, name, body, extra, phrase):
    put(s3, f"in/damaged/{name}/d.csv", body)
    sm.create_transform_job(**job_request(
        f"damaged-{name}", model, f"s3://data/in/damaged/{name}/", f"s3://data/out/damaged/{name}/",
        input={"ContentType": "text/csv", "SplitType": "Line", **extra}, MaxPayloadInMB=1))
    described = described_when_done(sm, f"damaged-{name}")
    assert described["TransformJobStatus"] == "Failed" and phrase in described["FailureReason"], described
    assert keys(s3, f"out/damaged/{name}/") == []
