"""`modelport aws status`: every resource of a stack, whether it exists, and its health."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

from botocore.exceptions import ClientError

from modelport.aws import apigw, lambda_, s3, sagemaker, site
from modelport.aws.calls import Calls
from modelport.aws.names import Names
from modelport.aws.errors import is_missing
from modelport.aws.settings import AwsSettings


@dataclass
class ResourceStatus:
    """One row of the status table."""

    kind: str
    name: str
    state: str  # e.g. InService, Active, present, missing
    healthy: bool
    detail: str = ""


def _role_state(calls: Calls, role: str) -> ResourceStatus:
    try:
        arn = calls.client("iam").get_role(RoleName=role)["Role"]["Arn"]
        return ResourceStatus("iam role", role, "present", True, arn)
    except ClientError as exc:
        if is_missing(exc):
            return ResourceStatus("iam role", role, "missing", False)
        raise


def _probe(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own API URL)
            return f"GET {url} → {response.status}"
    except Exception as exc:  # any failure is a health finding, not a crash
        return f"GET {url} failed: {exc}"


def stack_status(settings: AwsSettings, calls: Calls, probe: bool = False) -> list[ResourceStatus]:
    """Status rows for the stack described by ``settings``."""
    names = Names(settings.stack, settings.region, calls.account(), settings.bucket)
    rows = []
    present = s3.bucket_exists(calls, names.artifacts_bucket)
    rows.append(ResourceStatus("s3 bucket", names.artifacts_bucket, "present" if present else "missing", present,
                               "archives"))
    if not settings.role_arn:
        rows.append(_role_state(calls, names.sagemaker_role))
    for spec in settings.models:
        endpoint = names.endpoint(spec.name)
        described = sagemaker.describe_endpoint(calls, endpoint)
        if described is None:
            rows.append(ResourceStatus("endpoint", endpoint, "missing", False))
            continue
        variants = described.get("ProductionVariants") or [{}]
        detail = f"config {described['EndpointConfigName']}"
        count = variants[0].get("CurrentInstanceCount")
        if count is not None:
            detail += f", instances {count}/{variants[0].get('DesiredInstanceCount', count)}"
        if described.get("FailureReason"):
            detail += f", {described['FailureReason']}"
        rows.append(ResourceStatus("endpoint", endpoint, described["EndpointStatus"],
                                   described["EndpointStatus"] == "InService", detail))
    rows.append(_role_state(calls, names.gateway_role))
    function = lambda_.get_function(calls, names.function)
    if function is None:
        rows.append(ResourceStatus("lambda function", names.function, "missing", False))
    else:
        config = function["Configuration"]
        state = f"{config.get('State', 'Active')}/{config.get('LastUpdateStatus', 'Successful')}"
        rows.append(ResourceStatus("lambda function", names.function, state, state == "Active/Successful",
                                   f"{config.get('Runtime')}, {config.get('Architectures', ['x86_64'])[0]}"))
    api = apigw.find_api(calls, names)
    if api is None:
        rows.append(ResourceStatus("http api", names.api, "missing", False))
    else:
        url = apigw.api_url(names, api)
        detail = _probe(url + "/health") if probe else url
        rows.append(ResourceStatus("http api", names.api, "present", "failed" not in detail, detail))
    if settings.page_dir:
        config = site.read_site_config(calls, names) if s3.bucket_exists(calls, names.site_bucket) else None
        if config is None:
            rows.append(ResourceStatus("s3 website", names.site_bucket, "missing", False))
        else:
            pointed = api is not None and config.get("apiBase") == apigw.api_url(names, api)
            detail = site.website_url(names) + ("" if pointed else f" (config.json apiBase {config.get('apiBase')!r} "
                                                "is not the API URL)")
            if probe:
                detail += "; " + _probe(site.website_url(names))
            rows.append(ResourceStatus("s3 website", names.site_bucket, "present", pointed, detail))
    return rows


def as_json(rows: list[ResourceStatus]) -> str:
    """The rows as JSON (for scripts)."""
    return json.dumps([row.__dict__ for row in rows], indent=2)

