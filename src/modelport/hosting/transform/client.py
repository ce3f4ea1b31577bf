"""The client side of batch transform (used by ``modelport transform``): a CreateTransformJob request
from plain options, and a watch over the job until it ends, with its progress.

Progress comes from hosting's ``GET /_modelport/transform-jobs/NAME`` (records and bytes done; SageMaker
has no such API, so a job on AWS is watched through DescribeTransformJob alone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TERMINAL = ("Completed", "Failed", "Stopped")
POLL_SECONDS = 0.25


def location(value: str) -> str:
    """``s3://`` and ``file://`` as they are; a local path as the ``file://`` URI of its absolute path
    (a folder keeps its trailing slash: it is a prefix)."""
    if value.startswith(("s3://", "file://")):
        return value
    path = Path(value).expanduser().resolve()
    return f"file://{path}{'/' if value.endswith('/') or path.is_dir() else ''}"


@dataclass
class TransformOptions:
    """What ``modelport transform`` was asked for, in SageMaker's terms."""

    job_name: str
    model_name: str
    input_uri: str
    output_uri: str
    content_type: str | None = None
    manifest: bool = False
    split: str = "None"
    gzip: bool = False
    strategy: str | None = None
    max_payload_mb: int | None = None
    concurrency: int | None = None
    accept: str | None = None
    assemble: str = "None"
    input_filter: str | None = None
    output_filter: str | None = None
    join: bool = False
    instances: int = 1
    instance_type: str = "ml.m5.large"
    environment: dict[str, str] = field(default_factory=dict)

    def request(self) -> dict[str, Any]:
        """The CreateTransformJob parameters."""
        tin: dict[str, Any] = {
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile" if self.manifest else "S3Prefix",
                                            "S3Uri": self.input_uri}},
            "SplitType": self.split, "CompressionType": "Gzip" if self.gzip else "None"}
        if self.content_type:
            tin["ContentType"] = self.content_type
        tout: dict[str, Any] = {"S3OutputPath": self.output_uri, "AssembleWith": self.assemble}
        if self.accept:
            tout["Accept"] = self.accept
        params: dict[str, Any] = {
            "TransformJobName": self.job_name, "ModelName": self.model_name, "TransformInput": tin,
            "TransformOutput": tout,
            "TransformResources": {"InstanceType": self.instance_type, "InstanceCount": self.instances}}
        if self.strategy:
            params["BatchStrategy"] = self.strategy
        if self.max_payload_mb is not None:
            params["MaxPayloadInMB"] = self.max_payload_mb
        if self.concurrency is not None:
            params["MaxConcurrentTransforms"] = self.concurrency
        if self.environment:
            params["Environment"] = self.environment
        processing = {}
        if self.input_filter:
            processing["InputFilter"] = self.input_filter
        if self.output_filter:
            processing["OutputFilter"] = self.output_filter
        if self.join:
            processing["JoinSource"] = "Input"
        if processing:
            params["DataProcessing"] = processing
        return params


def progress_of(url: str, token: str, name: str) -> dict[str, Any]:
    """A job's progress document from hosting (empty when it cannot be read)."""
    import httpx

    try:
        answer = httpx.get(f"{url.rstrip('/')}/_modelport/transform-jobs/{name}",
                           headers={"Authorization": f"Bearer {token}"}, timeout=5.0)
        return answer.json() if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}


def watch(sm: Any, name: str, progress: Callable[[], dict[str, Any]] | None = None,
          on_progress: Callable[[dict[str, Any]], None] | None = None, timeout: float | None = None) -> dict[str, Any]:
    """Poll the job until it is Completed, Failed or Stopped; its last DescribeTransformJob.

    ``on_progress`` sees each progress document (``progress()``); TimeoutError after ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if on_progress is not None and progress is not None:
            on_progress(progress())
        if described["TransformJobStatus"] in TERMINAL:
            return described
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"transform job {name} is still {described['TransformJobStatus']} after {timeout:g} s")
        time.sleep(POLL_SECONDS)
