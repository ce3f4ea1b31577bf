"""The SageMaker Python SDK's own config file for use with hosting (both SDK lines read it when
``SAGEMAKER_USER_CONFIG_OVERRIDE`` names it).

Why it is needed: ``Session().default_bucket()`` names the bucket ``sagemaker-<region>-<account>`` from
STS ``GetCallerIdentity``, but both SDK lines create that STS client with an explicit
``https://sts.<region>.amazonaws.com`` endpoint, which ``AWS_ENDPOINT_URL`` does not override. With
``DefaultS3Bucket`` set here the SDK skips STS and uses hosting's S3 for the bucket. ``TelemetryOptOut``
stops the SDKs' usage pings to AWS.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_NAME = "sagemaker-sdk-config.yaml"


def default_bucket(region: str, account: str) -> str:
    """The bucket name the SDK would derive on AWS: ``sagemaker-<region>-<account>``."""
    return f"sagemaker-{region}-{account}"


def config_text(region: str, account: str) -> str:
    """The YAML config document."""
    return (
        "# Written by `modelport env`: the SageMaker Python SDK's settings for modelport hosting.\n"
        "SchemaVersion: '1.0'\n"
        "SageMaker:\n"
        "  PythonSDK:\n"
        "    Modules:\n"
        "      TelemetryOptOut: true\n"
        "      Session:\n"
        f"        DefaultS3Bucket: {default_bucket(region, account)}\n"
    )


def write_config(home: Path, region: str, account: str) -> Path:
    """Write the config under ``MODELPORT_HOME`` (only when it changed) and return its absolute path."""
    path = (Path(home) / "hosting" / CONFIG_NAME).resolve()
    text = config_text(region, account)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path
