"""Asynchronous requests survive kill -9 of hosting: every request acknowledged before the kill is answered after
the restart, exactly once (one output each, no failure), the one in flight run again."""

from __future__ import annotations

import json
import tempfile

import pytest

from tests.helpers.async_inference import (BUCKET, async_endpoint, endpoint_metric, put_input, read_object,
                                           wait_object)
from tests.helpers.hosting import clients, make_archive
from tests.helpers.transform import s3_client
from tests.helpers.waiting import eventually


@pytest.fixture
def hosting_process_env() -> dict[str, str]:
    return {"MODELPORT_MODEL_ROOTS": tempfile.gettempdir()}


def test_queued_requests_are_answered_once_after_kill_9(hosting_process, tmp_path):
    sm, rt = clients(hosting_process.url)
    s3 = s3_client(hosting_process.url)
    s3.create_bucket(Bucket=BUCKET)
    archive = make_archive(tmp_path / "model")
    async_endpoint(sm, "durable", f"file://{archive}", per_instance=1)
    answers = []
    for i in range(6):
        location = put_input(s3, f"in/{i}.json", {"x": i, "sleep": 0.3})
        answers.append(rt.invoke_endpoint_async(EndpointName="durable", InputLocation=location,
                                                ContentType="application/json", InferenceId=f"req-{i}"))
    wait_object(s3, answers[0]["OutputLocation"])
    answered_before = sum(read_object(s3, a["OutputLocation"]) is not None for a in answers)
    hosting_process.kill()  # one in flight, the others queued
    assert answered_before < 5
    hosting_process.start()
    for i, answer in enumerate(answers):
        assert json.loads(wait_object(s3, answer["OutputLocation"], timeout=60))["y"] == i * 2.0
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="durable/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"durable/out/req-{i}.out" for i in range(6)]  # no failure, no extra
    assert "requests interrupted by the last stop are queued again" in hosting_process.log()  # the one in flight
    eventually(lambda: endpoint_metric(hosting_process.url, "ApproximateBacklogSize", "durable") == 0.0, 10)
