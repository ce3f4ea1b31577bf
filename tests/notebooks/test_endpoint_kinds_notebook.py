"""notebooks/endpoint_kinds.ipynb runs headless against a real `modelport hosting` process with the bundled
scikit-learn models trained in fast mode: a multi-model endpoint (a target added while it runs), a serverless
endpoint woken by concurrent requests, and a variant autoscaled 1 → 3 → 1 under load with no failed request."""

from __future__ import annotations

import secrets

import pytest

from tests.helpers.notebooks import NOTEBOOKS, local_target_env, printed, run_notebook, sagemaker_client, summary_line

NOTEBOOK = NOTEBOOKS / "endpoint_kinds.ipynb"


@pytest.fixture
def hosting_process_env():
    """A token shared with the notebook; the scaler evaluates every second (AWS: a minute)."""
    return {"MODELPORT_HOSTING_TOKEN": secrets.token_urlsafe(24), "MODELPORT_HOSTING_AUTOSCALING_INTERVAL": "1"}


def test_endpoint_kinds_notebook_against_modelport_hosting(tmp_path, trained_models, hosting_process):
    outputs = run_notebook(NOTEBOOK, tmp_path, local_target_env(hosting_process, trained_models, "kindstest"))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    summary = summary_line(outputs, "KINDS-SUMMARY")
    assert summary["target"] == "local"

    mme = summary["mme"]
    digits_first, digits_again = mme["results"]["digits.tar.gz"]
    assert digits_first == digits_again >= 5  # fast-mode model, seeded: far above chance; same answer warm
    assert mme["results"]["sentiment.tar.gz"] == [["positive", "negative"]]
    assert mme["results"]["digits-v2.tar.gz"] == [digits_first]  # added under the prefix while running
    assert mme["missing_target"] == "ValidationError"

    serverless = summary["serverless"]
    assert len(serverless["cold"]) == 4 and len(set(serverless["cold"])) == 1 and serverless["cold"][0] >= 5
    assert serverless["warm"] == serverless["cold"][0]

    scaled = summary["autoscaling"]
    assert scaled["failures"] == [] and scaled["requests"] > 0
    assert len(scaled["answers"]) == 1  # every instance gave the same answer to the same digits
    counts = [int(description.rstrip(".").rsplit(" ", 1)[1]) for description, _ in scaled["activities"]]
    assert 3 in counts and counts[-1] == 1, scaled["activities"]  # out to 3 (maybe via 2), back in to 1
    assert {status for _, status in scaled["activities"]} == {"Successful"}

    text = printed(outputs)
    assert "deleted kindstest-mme, kindstest-serverless, kindstest-scaled" in text
    assert sagemaker_client(hosting_process).list_endpoints()["Endpoints"] == []
