"""Running notebooks in tests: ``run_notebook`` (nbclient, the kernel inheriting an environment) and reading
what the cells printed."""
from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# The notebooks keep the caller's MODELPORT_HOME for the MNIST cache (hosting has its own home, so the two
# share the token explicitly).
NOTEBOOK_HOME = Path(os.environ.get("MODELPORT_HOME", ".modelport")).resolve()


def run_notebook(notebook: Path, tmp_path: Path, env: dict[str, str], timeout: int = 300) -> list[dict]:
    """Execute ``notebook`` in ``tmp_path`` with ``env`` added to the kernel's environment; returns the code
    cells' outputs (raises nbclient's CellExecutionError when a cell fails)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        document = nbformat.read(notebook, as_version=4)
        NotebookClient(document, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return [o for cell in document.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def printed(outputs: list[dict]) -> str:
    """Everything the cells printed."""
    return "".join(o.get("text", "") for o in outputs)


def summary_line(outputs: list[dict], tag: str) -> dict:
    """The JSON a notebook printed after ``tag`` (its summary line for the tests)."""
    line = next(line for line in printed(outputs).splitlines() if line.startswith(tag + " "))
    return json.loads(line.removeprefix(tag + " "))


def local_target_env(hosting, archives: Path, prefix: str) -> dict[str, str]:
    """The environment a boto3 notebook needs to run against ``hosting`` (a ``HostingProcess``): its URL and
    token, the archives to deploy, the prefix of every name it creates, and the MNIST cache's home."""
    return {"MODELPORT_HOSTING_URL": hosting.url, "MODELPORT_HOSTING_TOKEN": hosting.token,
            "MODELPORT_NOTEBOOK_TARGET": "local", "MODELPORT_NOTEBOOK_ARCHIVES": str(archives),
            "MODELPORT_NOTEBOOK_PREFIX": prefix, "MODELPORT_HOME": str(NOTEBOOK_HOME)}


def sagemaker_client(hosting):
    """A boto3 SageMaker client for ``hosting`` (a ``HostingProcess``), to check what a notebook left."""
    return boto3.client("sagemaker", endpoint_url=hosting.url, region_name="us-east-1",
                        aws_access_key_id=hosting.token, aws_secret_access_key="x")
