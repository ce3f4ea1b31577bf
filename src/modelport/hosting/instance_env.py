"""The environment hosting adds to an endpoint instance's process (before the model's own Environment).

- ``MODELPORT_HOME``: the runtime's caches live beside hosting's state;
- how to reach hosting's S3 (``AWS_ENDPOINT_URL_S3`` and the token), so an ``s3://``
  ``SAGEMAKER_SUBMIT_DIRECTORY`` is fetched from the local store; empty when hosting reads S3 elsewhere;
- ``MODELPORT_FRAMEWORK`` when the container's image is a SageMaker framework image, so a
  PyTorch image's default handlers (TorchScript ``model.pt`` without code) apply as in that container.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.aws.images import framework_of_image
from modelport.hosting.model_data import LocalS3


def for_container(container: dict[str, Any], home: Path, local_s3: LocalS3 | None) -> dict[str, str]:
    """The variables for an instance serving ``container``."""
    env = {"MODELPORT_HOME": str(home), **(local_s3.instance_environment() if local_s3 is not None else {})}
    framework = framework_of_image(container.get("Image") or "")
    if framework is not None:
        env["MODELPORT_FRAMEWORK"] = framework
    return env
