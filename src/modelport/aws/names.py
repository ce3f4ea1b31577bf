"""Names, ARNs and tags of a stack's resources: derived from the stack name, so re-runs find them again."""

from __future__ import annotations

import re

# Regions whose S3 website endpoint uses a dash (s3-website-REGION); newer regions use a dot.
_DASH_WEBSITE_REGIONS = {"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
                         "ap-southeast-2", "ap-northeast-1", "sa-east-1", "us-gov-west-1"}
TAG_KEY = "modelport:stack"


class Names:
    """Every name of a stack in one place."""

    def __init__(self, stack: str, region: str, account: str, bucket: str = ""):
        self.stack, self.region, self.account = stack, region, account
        self.artifacts_bucket = bucket or f"{stack}-artifacts-{account}-{region}"
        self.site_bucket = f"{stack}-site-{account}-{region}"
        self.sagemaker_role = f"{stack}-sagemaker"
        self.gateway_role = f"{stack}-gateway"
        self.function = f"{stack}-gateway"
        self.api = f"{stack}-api"

    def endpoint(self, model: str) -> str:
        """The SageMaker endpoint serving ``model`` (stable across re-deploys)."""
        return f"{self.stack}-{model}"

    def model_version(self, model: str, digest: str) -> str:
        """SageMaker model and endpoint-config name of one archive version (content addressed)."""
        return f"{self.stack}-{model}-{digest[:12]}"

    def archive_key(self, model: str, digest: str) -> str:
        """S3 key of one archive version."""
        return f"{self.stack}/{model}/{digest[:16]}/model.tar.gz"

    def endpoint_arn(self, model: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:endpoint/{self.endpoint(model)}"

    def role_arn(self, role: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{role}"

    @property
    def site_origin(self) -> str:
        """The page's origin: the S3 website endpoint (HTTP only)."""
        sep = "-" if self.region in _DASH_WEBSITE_REGIONS else "."
        return f"http://{self.site_bucket}.s3-website{sep}{self.region}.amazonaws.com"

    def tags(self) -> dict[str, str]:
        """The tags every resource carries."""
        return {TAG_KEY: self.stack}

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        """The tags in the list form most services take."""
        return [{key: k, value: v} for k, v in self.tags().items()]


def check_bucket_name(name: str) -> str:
    """Refuse a bucket name S3 would refuse, saying why."""
    if not (3 <= len(name) <= 63) or not re.match(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$", name):
        raise ValueError(f"bucket name {name!r}: 3-63 lower-case letters, digits, '.' and '-' (set `bucket` "
                         "or a shorter stack name)")
    return name
