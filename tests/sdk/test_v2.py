"""The SageMaker Python SDK v2 (2.257, unmodified, in its own venv) against a real hosting process:
Model.deploy -> predict with the SDK's JSON/CSV/NumPy codecs -> update_endpoint -> delete_endpoint,
SKLearnModel (sourcedir.tar.gz on S3), PyTorchModel (repack), a TorchScript-only PyTorch image,
upload_data/download_data, a 20 MB archive through multipart upload with hosting killed (-9) and
restarted in the middle, and an unknown operation. Nothing may leave the machine (tripwire proxy)."""

from __future__ import annotations

from tests.helpers.sdk import ACCOUNT, client_environment, run_script

BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"


def environment(hosting_process, tripwire, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return client_environment(hosting_process.url, hosting_process.home, tripwire, scratch)


def test_sdk_v2_deploy_flows(sdk_archives, hosting_process, tripwire, tmp_path):
    results = run_script("v2", "v2_flows.py", ["flows", str(sdk_archives)], environment(hosting_process, tripwire, tmp_path))

    assert results["default_bucket"]["bucket"] == BUCKET
    s3 = results["s3"]
    assert s3["uri"] == f"s3://{BUCKET}/v2/scaler/scaler.tar.gz"
    assert s3["listed"] == ["v2/scaler/scaler.tar.gz"] and s3["downloaded"] == ["scaler.tar.gz"] and s3["same"]

    predicted = results["model_predict"]
    assert predicted["status"] == "InService"
    assert predicted["answers"]["json"] == [[2.0, 4.0], [6.0, 8.0]]
    assert predicted["answers"]["csv"] == [["2.0", "4.0"], ["6.0", "8.0"]]  # the SDK's CSVDeserializer yields str
    assert predicted["answers"]["numpy"] == [[2.0, 4.0], [6.0, 8.0]]

    update = results["update_endpoint"]
    assert (update["before"], update["after"], update["status"]) == ([[2.0]], [[3.0]], "InService")
    assert update["config"] != predicted["endpoint"]  # the SDK made a new endpoint config for the new model
    assert results["delete_endpoint"] == {"endpoints": [], "model_gone": True}

    sklearn = results["sklearn_model"]
    assert sklearn["answer"] == [[5.5, 10.5]]  # entry.py from sourcedir.tar.gz: x * 5 + 0.5
    assert sklearn["submit_directory"].startswith(f"s3://{BUCKET}/") and sklearn["submit_directory"].endswith(
        "/sourcedir.tar.gz")
    assert sklearn["role"] == f"arn:aws:iam::{ACCOUNT}:role/modelport-local"  # a role name, expanded through IAM

    pytorch = results["pytorch_model"]
    assert pytorch["answer"] == [[5.5, 10.5]]
    assert pytorch["image"].endswith("/pytorch-inference:2.1-cpu-py310")
    assert pytorch["model_data"].startswith(f"s3://{BUCKET}/") and pytorch["model_data"] != pytorch["repacked_from"]

    assert results["torchscript"]["answer"] == [[3.5]]  # Linear(1*1 + 1*2 + 0.5): the PyTorch image's defaults

    unknown = results["unknown_operation"]
    assert unknown["raised"] and unknown["code"] == "UnknownOperationException" and unknown["status"] == 400
    assert "ListModelPackages" in unknown["message"]


def test_sdk_v2_multipart_archive_survives_hosting_kill(sdk_archives, hosting_process, tripwire, tmp_path):
    server = hosting_process
    env = environment(hosting_process, tripwire, tmp_path)
    before = run_script("v2", "v2_flows.py", ["persist-before", str(sdk_archives)], env)["persist_before"]
    assert before["size"] == (sdk_archives / "big.tar.gz").stat().st_size > 20_000_000
    assert before["etag"].endswith('-3"')  # three 8 MB parts: S3's multipart ETag
    assert before["answer"] == [[2.0, 4.0]]

    server.kill()
    server.start()

    after = run_script("v2", "v2_flows.py", ["persist-after", str(sdk_archives)], env)["persist_after"]
    assert after["answer"] == [[2.0, 4.0]]
    assert after["listed"] == ["persist/big.tar.gz"] and after["same"]
