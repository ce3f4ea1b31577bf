"""Shared pieces for the batch transform tests: a small CSV / JSON Lines model, its expected answers
computed in a plain loop, and the boto3 waiter polling fast."""

from __future__ import annotations

import textwrap
from pathlib import Path

from modelport.archive import pack_archive

# CSV rows of numbers → one CSV line per row: "sum*scale,count"; JSON Lines {"x": n} → {"y": x*scale,
# "batch": records in that request}.
# A CSV value that is not a number, or a JSON record with "fail", is refused (400); "sleep" waits.
INFERENCE = '''
import json, os, time
from sagemaker_inference import errors

def model_fn(model_dir):
    with open(os.path.join(model_dir, "scale.txt")) as f:
        return float(f.read())

def input_fn(body, content_type):
    text = body if isinstance(body, str) else body.decode()
    lines = [line for line in text.splitlines() if line.strip()]
    if content_type == "text/csv":
        rows = []
        for line in lines:
            try:
                rows.append([float(v) for v in line.split(",")])
            except ValueError:
                raise errors.GenericInferenceToolkitError(400, "not a number in row " + repr(line))
        return "csv", rows
    if content_type in ("application/json", "application/jsonlines"):
        return "json", [json.loads(line) for line in lines]
    raise errors.GenericInferenceToolkitError(415, "send text/csv or application/jsonlines")

def predict_fn(data, scale):
    kind, rows = data
    if kind == "csv":
        return kind, [[sum(row) * scale, len(row)] for row in rows]
    out = []
    for record in rows:
        if record.get("fail"):
            raise errors.GenericInferenceToolkitError(400, "record refused: " + json.dumps(record))
        time.sleep(record.get("sleep", 0))
        out.append({"y": record["x"] * scale, "batch": len(rows)})
    return kind, out

def output_fn(prediction, accept):
    kind, rows = prediction
    if kind == "csv":
        return "".join("%r,%d\\n" % (total, count) for total, count in rows), "text/csv"
    return "".join(json.dumps(r) + "\\n" for r in rows), "application/jsonlines"
'''

SCALE = 2.0


def make_transform_archive(root: Path) -> Path:
    """Pack the model into ``root/model.tar.gz``."""
    src = root / "src"
    (src / "code").mkdir(parents=True, exist_ok=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
    (src / "scale.txt").write_text(str(SCALE))
    return pack_archive(src, root / "model.tar.gz")


def expected_csv(row: list[float]) -> str:
    """The model's answer to one CSV row, computed in a plain loop."""
    return "%r,%d" % (sum(row) * SCALE, len(row))


def wait_done(sm, name: str, timeout: float = 60) -> dict:
    """boto3's transform_job_completed_or_stopped waiter, polling fast; the final DescribeTransformJob
    (the waiter raises WaiterError when the job Failed)."""
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": int(timeout / 0.2)})
    return sm.describe_transform_job(TransformJobName=name)


def described_when_done(sm, name: str, timeout: float = 60) -> dict:
    """Wait until the job ends in any status (Failed too); its DescribeTransformJob."""
    from tests.helpers.waiting import eventually

    def ended():
        described = sm.describe_transform_job(TransformJobName=name)
        return described if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped") else None

    return eventually(ended, timeout, 0.1, message=f"transform job {name} did not end")


def s3_client(url: str):
    """A boto3 ``s3`` client for the hosting at ``url`` (its token as the access key id)."""
    import boto3
    from botocore.config import Config

    from tests.helpers.hosting import token_for

    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=token_for(url),
                        aws_secret_access_key="modelport", config=Config(retries={"max_attempts": 1}))


def job_request(name: str, model: str, input_uri: str, output_uri: str, **extra) -> dict:
    """CreateTransformJob parameters; ``extra`` adds or replaces top-level members, and ``input`` /
    ``output`` (dicts) add members to TransformInput / TransformOutput."""
    tin = {"DataSource": {"S3DataSource": {"S3DataType": extra.pop("data_type", "S3Prefix"), "S3Uri": input_uri}},
           **extra.pop("input", {})}
    tout = {"S3OutputPath": output_uri, **extra.pop("output", {})}
    return {"TransformJobName": name, "ModelName": model, "TransformInput": tin, "TransformOutput": tout,
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}, **extra}
