"""`modelport aws destroy`: remove every resource of a stack in dependency order; safe to re-run.

Order: HTTP API (routes, integrations, stages go with it) → Lambda function → gateway role →
endpoints (their autoscaling deregistered first; awaited until gone) → endpoint configs → models → SageMaker role (only one we created)
→ website bucket → archives (the bucket too when it carries the stack tag).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from modelport.aws import apigw, autoscaling, iam, lambda_, s3, sagemaker
from modelport.aws.calls import Calls
from modelport.aws.errors import is_missing
from modelport.aws.names import TAG_KEY, Names
from modelport.aws.progress import Progress
from modelport.aws.settings import AwsSettings


def _bucket_is_ours(calls: Calls, names: Names, bucket: str) -> bool:
    try:
        tags = calls.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if is_missing(exc) or code == "NoSuchTagSet":
            return False
        raise
    return {t["Key"]: t["Value"] for t in tags}.get(TAG_KEY) == names.stack


def _delete_prefix(calls: Calls, bucket: str, prefix: str) -> int:
    s3c = calls.client("s3")
    count = 0
    for page in s3c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3c.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            count += len(keys)
    return count


def destroy(settings: AwsSettings, calls: Calls, progress: Progress) -> dict[str, str]:
    """Delete the stack; returns resource → deleted / absent (or kept, for things we did not create)."""
    names = Names(settings.stack, settings.region, calls.account(), settings.bucket)
    done: dict[str, str] = {}

    def mark(key: str, deleted: bool) -> None:
        done[key] = "deleted" if deleted else "absent"
        progress.step(f"{key}: {done[key]}")

    mark("apigw:api", apigw.delete_api(calls, names))
    mark("lambda:gateway", lambda_.delete_function(calls, names))
    mark("iam:gateway-role", iam.delete_role(calls, names.gateway_role))
    endpoints = {names.endpoint(m.name) for m in settings.models}
    endpoints |= {e["EndpointName"] for e in sagemaker.list_stack_endpoints(calls, names)}
    for endpoint in sorted(endpoints):
        mark(f"autoscaling:{endpoint}", autoscaling.remove_autoscaling(calls, names, endpoint))
        mark(f"endpoint:{endpoint}", sagemaker.delete_endpoint(calls, names, endpoint, progress,
                                                               settings.wait_seconds, settings.poll_seconds))
    configs, models = sagemaker.stack_versions(calls, names)
    sm = calls.client("sagemaker")
    for config in configs:
        sm.delete_endpoint_config(EndpointConfigName=config)
        mark(f"endpoint-config:{config}", True)
    for model in models:
        sm.delete_model(ModelName=model)
        mark(f"model:{model}", True)
    if settings.role_arn:
        done["iam:sagemaker-role"] = "kept (given by role_arn)"
    else:
        mark("iam:sagemaker-role", iam.delete_role(calls, names.sagemaker_role))
    if _bucket_is_ours(calls, names, names.site_bucket):
        mark("s3:site", s3.delete_bucket(calls, names.site_bucket))
    else:
        mark("s3:site", False)
    if _bucket_is_ours(calls, names, names.artifacts_bucket):
        mark("s3:artifacts", s3.delete_bucket(calls, names.artifacts_bucket))
    elif s3.bucket_exists(calls, names.artifacts_bucket):
        removed = _delete_prefix(calls, names.artifacts_bucket, f"{names.stack}/")
        done["s3:artifacts"] = f"kept (not created by this stack); {removed} archive objects deleted"
        progress.step(f"s3:artifacts: {done['s3:artifacts']}")
    else:
        mark("s3:artifacts", False)
    return done
