"""notebooks/traffic_paths.ipynb runs headless against a real `modelport hosting` process with the bundled MNIST
models trained in fast mode: an async request answered and a failing one in the failure path, a batch transform
over two CSV files, a captured endpoint with a shadow variant and its report, and a replay of the capture."""

from __future__ import annotations

import secrets

import pytest

from tests.helpers.notebooks import NOTEBOOKS, local_target_env, printed, run_notebook, sagemaker_client, summary_line

NOTEBOOK = NOTEBOOKS / "traffic_paths.ipynb"


@pytest.fixture
def hosting_process_env():
    """A token shared with the notebook; capture files written every half second."""
    return {"MODELPORT_HOSTING_TOKEN": secrets.token_urlsafe(24), "MODELPORT_HOSTING_CAPTURE_FLUSH_SECONDS": "0.5"}


def test_traffic_paths_notebook_against_modelport_hosting(tmp_path, trained_models, hosting_process):
    outputs = run_notebook(NOTEBOOK, tmp_path, local_target_env(hosting_process, trained_models, "pathstest"))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    summary = summary_line(outputs, "PATHS-SUMMARY")
    assert summary["target"] == "local"

    answered = summary["async"]
    assert answered["correct"] >= 5  # 10 digits, fast-mode model (seeded): far above chance
    assert not answered["good_failed"]
    assert "instances" in answered["failure"] or "pixel" in answered["failure"].lower()  # says what was wrong

    transform = summary["transform"]
    assert transform["outputs"] == ["part-0.csv.out", "part-1.csv.out"]
    assert transform["scored"] == 40 and transform["correct"] >= 20

    capture = summary["capture"]
    assert capture["production"] == 30 and 0 < capture["shadow"] <= 30
    record = capture["record"]
    assert record["eventVersion"] == "0"
    assert set(record["captureData"]) == {"endpointInput", "endpointOutput"}
    assert record["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert record["captureData"]["endpointInput"]["observedContentType"] == "application/json"
    assert record["captureData"]["endpointInput"]["mode"] == "INPUT"
    assert set(record["eventMetadata"]) >= {"eventId", "inferenceTime"}

    report = summary["shadow_report"]  # the CNN and the linear model disagree on some digits, not all
    assert report["endpoint"] == "pathstest-shadowed" and report["compared"] == capture["shadow"]
    assert 0 < report["agreed"] <= report["compared"]
    assert report["variants"]["Shadow-01"]["error_rate_5xx"] == 0.0

    replay = summary["replay"]
    assert replay["requests"] == 30 and replay["errors"] == 0
    assert 0 < replay["agreed"] <= 30  # the same CNN as the shadow, replayed: agreement as in the report
    assert replay["agreed"] == report["agreed"] or capture["shadow"] < 30

    assert "deleted pathstest-async, pathstest-shadowed" in printed(outputs)
    assert sagemaker_client(hosting_process).list_endpoints()["Endpoints"] == []
