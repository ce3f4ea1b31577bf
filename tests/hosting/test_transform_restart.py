"""A transform job never stays InProgress across a restart of hosting: killed (kill -9) or stopped
cleanly mid-job, the job ends Failed with the reason, and no partial output is left."""

from __future__ import annotations

import json
import tempfile

import httpx
import pytest
from botocore.exceptions import WaiterError

from tests.helpers.hosting import auth_headers, clients
from tests.helpers.transform import job_request, make_transform_archive, wait_done
from tests.helpers.waiting import eventually


@pytest.fixture
def hosting_process_env() -> dict[str, str]:
    return {"MODELPORT_MODEL_ROOTS": tempfile.gettempdir()}


def start_slow_job(sm, url: str, name: str, folder) -> None:
    (folder / "in").mkdir(parents=True)
    (folder / "in" / "s.jsonl").write_text("".join(json.dumps({"x": i, "sleep": 0.2}) + "\n" for i in range(200)))
    sm.create_transform_job(**job_request(
        name, "scaler", f"file://{folder}/in", f"file://{folder}/out",
        input={"ContentType": "application/jsonlines", "SplitType": "Line"},
        output={"Accept": "application/jsonlines", "AssembleWith": "Line"},
        BatchStrategy="SingleRecord", MaxConcurrentTransforms=1))
    progress = f"{url}/_modelport/transform-jobs/{name}"
    eventually(lambda: httpx.get(progress, headers=auth_headers(url)).json().get("RecordsDone", 0) >= 2, 60,
               message=f"job {name} made no progress")


@pytest.mark.parametrize("how", ["kill -9", "clean stop"])
def test_a_job_interrupted_by_a_restart_ends_failed(hosting_process, tmp_path, how):
    sm, _ = clients(hosting_process.url)
    archive = make_transform_archive(tmp_path / "model")
    sm.create_model(ModelName="scaler", ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": f"file://{archive}"})
    start_slow_job(sm, hosting_process.url, "interrupted", tmp_path / "job")
    if how == "kill -9":
        hosting_process.kill()
    else:
        assert hosting_process.stop() == 0
    hosting_process.start()
    described = sm.describe_transform_job(TransformJobName="interrupted")
    assert described["TransformJobStatus"] == "Failed"
    assert "modelport hosting stopped while it ran" in described["FailureReason"]
    assert described["TransformEndTime"] >= described["TransformStartTime"]
    with pytest.raises(WaiterError):
        wait_done(sm, "interrupted")
    assert sm.list_transform_jobs(StatusEquals="InProgress")["TransformJobSummaries"] == []
    out = tmp_path / "job" / "out"
    assert not out.exists() or list(out.iterdir()) == []  # the unfinished object's output was never put in place
