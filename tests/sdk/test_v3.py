"""The SageMaker Python SDK v3 (3.27, unmodified, in its own venv) against a real hosting process:
ModelBuilder.build() (IAM role checks answered by hosting) -> deploy -> invoke with the SDK's JSON, CSV
and NumPy codecs; ModelBuilder repacking source code; a blue/green update; an unknown operation.
Nothing may leave the machine (tripwire proxy)."""

from __future__ import annotations

from tests.helpers.sdk import ACCOUNT, client_environment, run_script

BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"


def test_sdk_v3_model_builder_flows(sdk_archives, hosting_process, tripwire, tmp_path):
    (tmp_path / "scratch").mkdir()
    results = run_script("v3", "v3_flows.py", [str(sdk_archives)],
                         client_environment(hosting_process.url, hosting_process.home, tripwire, tmp_path / "scratch"))

    assert results["s3"] == {"bucket": BUCKET, "uri": f"s3://{BUCKET}/v3/scaler/scaler.tar.gz", "same": True}
    answers = results["model_builder"]["answers"]
    assert answers["json"] == [[2.0, 4.0], [6.0, 8.0]]
    assert answers["csv"] == [["2.0", "4.0"], ["6.0", "8.0"]]
    assert answers["numpy"] == [[2.0, 4.0], [6.0, 8.0]]

    update = results["update"]
    assert update["answer"] == [[5.5, 10.5]]  # the repacked entry.py: x * 5 + 0.5
    assert update["config"] == update["expected_config"]
    assert update["model_data"].startswith(f"s3://{BUCKET}/") and update["model_data"] != update["repacked_from"]

    unknown = results["unknown_operation"]
    assert unknown["raised"] and unknown["code"] == "UnknownOperationException"
    assert "ListModelPackages" in unknown["message"]
