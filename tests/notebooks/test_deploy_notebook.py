"""notebooks/deploy_boto3.ipynb runs headless (nbclient) against a real `modelport hosting` process with the
bundled models trained in fast mode: upload, create model, deploy, invoke each, clean up."""

from __future__ import annotations

import json
import secrets

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.helpers.notebooks import (NOTEBOOK_HOME, NOTEBOOKS, local_target_env, printed, run_notebook, sagemaker_client,
                                     summary_line)

NOTEBOOK = NOTEBOOKS / "deploy_boto3.ipynb"
MODELS = ("mnist-sklearn", "mnist-pytorch", "sentiment")


@pytest.fixture
def hosting_process_env():
    """The notebook and `hosting_process` share an explicit token; the notebook's store is a model root."""
    return {"MODELPORT_HOSTING_TOKEN": secrets.token_urlsafe(24), "MODELPORT_MODEL_ROOTS": str(NOTEBOOK_HOME / "artifacts")}


def test_deploy_notebook_against_modelport_hosting(tmp_path, trained_models, hosting_process):
    outputs = run_notebook(NOTEBOOK, tmp_path, local_target_env(hosting_process, trained_models, "nbtest"))
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = printed(outputs)
    summary = summary_line(outputs, "DEPLOY-SUMMARY")
    assert summary["target"] == "local"
    assert summary["endpoints"] == {name: "InService" for name in MODELS}
    for name in ("mnist-sklearn", "mnist-pytorch"):
        result = summary["results"][name]
        assert result["content_type"] == "application/json"
        assert result["truth"] == list(range(10)) and len(result["predicted"]) == 10
        assert result["correct"] >= 5, result  # fast-mode models (seeded): far above chance (1 in 10)
    sentiment = summary["results"]["sentiment"]
    assert len(sentiment["predicted"]) == 3
    assert set(sentiment["predicted"]) <= {"negative", "neutral", "positive"}
    assert sentiment["predicted"][:2] == ["positive", "negative"]  # the clearly positive / negative sentences
    assert all(abs(sum(p.values()) - 1) < 1e-3 for p in sentiment["probabilities"])
    # the images the models were given, and the clean-up at the end, against the real hosting
    assert "sagemaker-scikit-learn" in text and "pytorch-inference" in text
    assert (NOTEBOOK_HOME / "artifacts" / "nbtest").as_uri() in text  # copied into the store, as to S3
    assert text.count("deleted nbtest-") == 3
    sm = sagemaker_client(hosting_process)
    assert sm.list_endpoints()["Endpoints"] == []
    assert [m for m in sm.list_models()["Models"] if m["ModelName"].startswith("nbtest-")] == []


def test_deploy_notebook_says_which_archives_are_missing(tmp_path, hosting_process):
    hosting, token = hosting_process.url, hosting_process.token
    with pytest.raises(CellExecutionError) as failed:
        run_notebook(NOTEBOOK, tmp_path, {"MODELPORT_HOSTING_URL": hosting, "MODELPORT_NOTEBOOK_TARGET": "local",
                                "MODELPORT_HOSTING_TOKEN": token,
                                "MODELPORT_NOTEBOOK_ARCHIVES": str(tmp_path / "nothing-here")}, timeout=120)
    assert "archives missing" in str(failed.value) and "modelport up --fast" in str(failed.value)


SDK_NOTEBOOK = NOTEBOOK.parent / "deploy.ipynb"


def test_sdk_deploy_notebook_in_the_sdk_kernel(tmp_path, trained_models, hosting_process):
    """notebooks/deploy.ipynb in a kernel of the SDK v2 venv, with the variables `modelport env` prints:
    S3 upload, sagemaker.Model per archive, deploy(), predict(), clean-up; nothing leaves the machine."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    from tests.helpers.sdk import Tripwire, client_environment, sdk_python

    hosting, token = hosting_process.url, hosting_process.token
    kernels = tmp_path / "kernels"
    (kernels / "modelport-sdk-v2").mkdir(parents=True)
    (kernels / "modelport-sdk-v2" / "kernel.json").write_text(json.dumps({
        "argv": [str(sdk_python("v2")), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "SageMaker SDK v2", "language": "python"}))
    manager = KernelManager(kernel_name="modelport-sdk-v2",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    tripwire = Tripwire()
    (tmp_path / "scratch").mkdir()
    home = hosting_process.home  # hosting's MODELPORT_HOME (its token and SDK config)
    env = client_environment(hosting, home, tripwire, tmp_path / "scratch") | {"AWS_ACCESS_KEY_ID": token,
        "MODELPORT_HOME": str(NOTEBOOK_HOME),  # the MNIST cache
        "MODELPORT_NOTEBOOK_ARCHIVES": str(trained_models), "MODELPORT_NOTEBOOK_PREFIX": "sdknb"}
    document = nbformat.read(SDK_NOTEBOOK, as_version=4)
    try:
        NotebookClient(document, km=manager, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    finally:
        tripwire.close()
    assert tripwire.attempts == [], f"the notebook tried to leave the machine: {tripwire.attempts}"
    outputs = [o for cell in document.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = printed(outputs)
    summary = summary_line(outputs, "DEPLOY-SUMMARY")
    assert summary["local"] is True and summary["bucket"] == "sagemaker-us-east-1-123456789012"
    assert summary["model_data"]["sentiment"] == "s3://sagemaker-us-east-1-123456789012/sdknb/sentiment/model.tar.gz"
    assert summary["endpoints"] == {name: "InService" for name in MODELS}
    for name in ("mnist-sklearn", "mnist-pytorch"):
        result = summary["results"][name]
        assert result["truth"] == list(range(10)) and len(result["predicted"]) == 10
        assert result["correct"] >= 5, result  # fast-mode models: far above chance (1 in 10)
    assert summary["results"]["sentiment"]["predicted"][:2] == ["positive", "negative"]
    assert "sagemaker-scikit-learn" in text and "pytorch-inference" in text
    assert text.count("deleted sdknb-") == 3
    sm = sagemaker_client(hosting_process)
    for name in MODELS:
        sm.get_waiter("endpoint_deleted").wait(EndpointName=f"sdknb-{name}", WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    assert [e for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"].startswith("sdknb-")] == []
