"""IAM roles of a stack: SageMaker's execution role and the gateway Lambda's role, least privilege."""

from __future__ import annotations

import json
from typing import Any, Callable

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.errors import is_missing
from modelport.aws.images import FRAMEWORKS
from modelport.aws.names import Names

POLICY_NAME = "modelport"


def trust_policy(service: str) -> dict[str, Any]:
    """Who may assume the role: one AWS service."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def sagemaker_policy(names: Names) -> dict[str, Any]:
    """Read this stack's archives, pull the framework images, write endpoint logs and metrics."""
    repositories = sorted({f"arn:aws:ecr:{names.region}:{accounts.get(names.region, '*')}:repository/{repo}"
                           for repo, _, accounts, _ in FRAMEWORKS.values()})
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadArchives", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{names.artifacts_bucket}/{names.stack}/*"]},
        {"Sid": "EcrToken", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
        {"Sid": "PullImages", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
         "Resource": repositories},
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
         "Resource": [f"arn:aws:logs:{names.region}:{names.account}:log-group:/aws/sagemaker/Endpoints/{names.stack}-*"]},
        {"Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"]}}},
    ]}


def bedrock_resources(names: Names, model_id: str) -> list[str]:
    """ARNs Bedrock checks for ``model_id``: a foundation model, or a cross-region inference profile."""
    geo, _, rest = model_id.partition(".")
    if geo in ("us", "eu", "apac", "global") and rest:
        # An inference profile routes to the foundation model in any region of its geography.
        return [f"arn:aws:bedrock:{names.region}:{names.account}:inference-profile/{model_id}",
                f"arn:aws:bedrock:*::foundation-model/{rest}"]
    return [f"arn:aws:bedrock:{names.region}::foundation-model/{model_id}"]


def gateway_policy(names: Names, models: list[str], bedrock_model_id: str) -> dict[str, Any]:
    """Invoke (and describe) only this stack's endpoints; Bedrock only for the chosen model; own logs."""
    statements: list[dict[str, Any]] = [
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [f"arn:aws:logs:{names.region}:{names.account}:log-group:/aws/lambda/{names.function}:*"]},
    ]
    if models:
        arns = [names.endpoint_arn(m) for m in models]
        statements.append({"Sid": "InvokeEndpoints", "Effect": "Allow",
                           "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream",
                                      "sagemaker:DescribeEndpoint"], "Resource": arns})
    if bedrock_model_id:
        statements.append({"Sid": "BedrockChat", "Effect": "Allow",
                           "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
                           "Resource": bedrock_resources(names, bedrock_model_id)})
    return {"Version": "2012-10-17", "Statement": statements}


def ensure_role(calls: Calls, names: Names, role: str, service: str, policy: dict[str, Any],
                description: str) -> tuple[str, str]:
    """Create the role if absent and make its inline policy ``policy``; returns (arn, action)."""
    iam = calls.client("iam")
    action = "unchanged"
    try:
        arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    except ClientError as exc:
        if not is_missing(exc):
            raise
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust_policy(service)),
                              Description=description, Tags=names.tag_list())["Role"]["Arn"]
        action = "created"
    try:
        current = iam.get_role_policy(RoleName=role, PolicyName=POLICY_NAME)["PolicyDocument"]
        if isinstance(current, str):
            current = json.loads(current)
    except ClientError as exc:
        if not is_missing(exc):
            raise
        current = None
    if current != policy:
        iam.put_role_policy(RoleName=role, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        action = "created" if action == "created" else "updated"
    return arn, action


def delete_role(calls: Calls, role: str) -> bool:
    """Delete the role and its inline policies; False when it did not exist."""
    iam = calls.client("iam")
    try:
        policies = iam.list_role_policies(RoleName=role)["PolicyNames"]
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
    for policy in policies:
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=role)
    return True


# What services answer while a just-created role is not yet usable (IAM is eventually consistent).
ROLE_NOT_READY = ("cannot be assumed", "Could not assume role", "not authorized to assume", "is not authorized to perform")


def retry_while_role_propagates(call: Callable[[], Any], wait: Callable[[], None], attempts: int = 12) -> Any:
    """Run ``call``; while it fails because a new role is not usable yet, ``wait`` and try again."""
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if not any(marker in message for marker in ROLE_NOT_READY) or attempt == attempts - 1:
                raise
            wait()
    raise AssertionError("unreachable")
