"""`modelport replay` as a real process: traffic captured by hosting replayed against the same archive (full
agreement), a deliberately different archive (the disagreement it should report, as a table and --out JSON) and
a hosting endpoint; bad choices of candidate or variant as clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.capture import create_model, endpoint_config, make_capture_archive, records
from tests.helpers.hosting import clients, wait_in_service
from tests.helpers.waiting import eventually

_TYPES = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}
JSON_REQUESTS, CSV_REQUESTS = 8, 2


@pytest.fixture(scope="module")
def hosting_options() -> dict:
    return {"capture_flush_seconds": 0.1}


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("replay-models")
    return {"same": make_capture_archive(root / "same"), "flipped": make_capture_archive(root / "flipped", scale=-1.0)}


@pytest.fixture(scope="module")
def capture(hosting, archives, tmp_path_factory):
    """Endpoint ``live`` of the ``same`` archive after 8 JSON (classifier) and 2 CSV (echo) requests: its capture folder."""
    folder = tmp_path_factory.mktemp("replay-capture")
    sm, rt = clients(hosting.url)
    create_model(sm, "live", archives["same"])
    endpoint_config(sm, "live", "live", f"file://{folder}", CaptureContentTypeHeader=_TYPES)
    sm.create_endpoint(EndpointName="live", EndpointConfigName="live")
    wait_in_service(sm, "live")
    for i in range(JSON_REQUESTS):
        rt.invoke_endpoint(EndpointName="live", Body=json.dumps({"x": [i, 2 * i + 1, 0.5]}), ContentType="application/json")
    for i in range(CSV_REQUESTS):
        rt.invoke_endpoint(EndpointName="live", Body=f"{i},{i + 1}\n", ContentType="text/csv")
    eventually(lambda: len(records(folder)) == JSON_REQUESTS + CSV_REQUESTS, 10, message="the capture records")
    return folder


def modelport(hosting, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELPORT_HOSTING_URL": hosting.url, "MODELPORT_HOSTING_TOKEN": hosting.token,
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "modelport", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_replay_against_the_same_archive_agrees_fully(hosting, capture, archives, tmp_path):
    done = modelport(hosting, "replay", f"file://{capture}", "--archive", str(archives["same"]),
                     "--out", str(tmp_path / "same.json"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "same.json").read_text())
    assert (report["requests"], report["compared"], report["agreed"], report["agreement"], report["errors"]) == \
        (10, 10, 10, 1.0, 0)
    assert report["p50_ms"] > 0 and report["p99_ms"] >= report["p50_ms"]
    assert "100.0%" in done.stdout and "10/10" in done.stdout


def test_replay_against_a_different_archive_reports_the_disagreement(hosting, capture, archives, tmp_path):
    done = modelport(hosting, "replay", str(capture / "live" / "AllTraffic"), "--archive", str(archives["flipped"]),
                     "--out", str(tmp_path / "flipped.json"), "-c", "2")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "flipped.json").read_text())
    # the flipped model's argmax differs on every classifier request; the CSV echoes still agree
    assert (report["compared"], report["agreed"], report["errors"]) == (10, CSV_REQUESTS, 0)
    assert len(report["disagreements"]) == 5 and '"x"' in report["disagreements"][0]["input"]
    assert report["candidate"] == str(archives["flipped"])
    assert "20.0%" in done.stdout and "2/10" in done.stdout and "differs" in done.stdout


def test_replay_against_an_endpoint(hosting, capture):
    done = modelport(hosting, "replay", str(capture), "--endpoint", "live")
    assert done.returncode == 0, done.stderr
    assert "100.0%" in done.stdout and "10/10" in done.stdout


def test_bad_candidates_and_captures_are_clear_errors(hosting, capture, archives, tmp_path):
    both = modelport(hosting, "replay", str(capture), "--archive", str(archives["same"]), "--endpoint", "live")
    assert both.returncode == 1 and "exactly one candidate" in both.stderr
    missing = modelport(hosting, "replay", str(tmp_path / "nothing"), "--endpoint", "live")
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr
    (tmp_path / "broken.jsonl").write_text("not json\n")
    broken = modelport(hosting, "replay", str(tmp_path / "broken.jsonl"), "--endpoint", "live")
    assert broken.returncode == 1 and "line 1 is not a capture record" in broken.stderr
    wrong = modelport(hosting, "replay", str(capture), "--endpoint", "live", "--variant", "Shadow-01")
    assert wrong.returncode == 1 and "no capture records of variant Shadow-01" in wrong.stderr
