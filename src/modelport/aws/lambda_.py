"""The gateway as a Lambda function: created once, then its code or settings updated only when changed."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.errors import DeployError, is_missing
from modelport.aws.iam import retry_while_role_propagates
from modelport.aws.lambda_zip import LambdaZip
from modelport.aws.names import Names
from modelport.aws.progress import Progress
from modelport.aws.settings import AwsSettings

RUNTIME = "python3.12"
HANDLER = "lambda_function.lambda_handler"
PERMISSION_ID = "modelport-http-api"
# Seed-style variables the gateway also reads, for the bundled models.
BUNDLED_ENV = {"mnist-sklearn": "MNIST_SKLEARN_ENDPOINT", "mnist-pytorch": "MNIST_PYTORCH_ENDPOINT",
               "sentiment": "SENTIMENT_ENDPOINT"}


def allowed_origins(names: Names, settings: AwsSettings) -> list[str]:
    """CORS origins: the page's S3 website origin, plus any configured extras."""
    return [names.site_origin, *[o for o in settings.extra_origins if o != names.site_origin]]


def gateway_environment(names: Names, settings: AwsSettings) -> dict[str, str]:
    """The function's environment: routes, chat (Bedrock), CORS and limits."""
    routes = {m.name: names.endpoint(m.name) for m in settings.models}
    env = {
        "MODELPORT_MODE": "aws",
        "MODELPORT_ROUTES": json.dumps(routes, sort_keys=True, separators=(",", ":")),
        "MODELPORT_INVOKE_ENDPOINTS": ",".join(sorted(routes.values())),
        "ALLOWED_ORIGINS": ",".join(allowed_origins(names, settings)),
        "MODELPORT_BACKEND_TIMEOUT": str(max(1, min(25, settings.lambda_timeout_s - 4))),
        "MODELPORT_RUNTIME_CLIENT": "boto3",
    }
    for model, variable in BUNDLED_ENV.items():
        if model in routes:
            env[variable] = routes[model]
    if settings.bedrock_model_id:
        env.update({"CHAT_PROVIDER": "bedrock", "BEDROCK_MODEL_ID": settings.bedrock_model_id,
                    "BEDROCK_REGION": settings.region})
    return env


def function_settings(names: Names, settings: AwsSettings, role_arn: str) -> dict[str, Any]:
    """Everything of the function's configuration that deploy manages."""
    return {"Runtime": RUNTIME, "Handler": HANDLER, "Role": role_arn, "MemorySize": settings.lambda_memory_mb,
            "Timeout": settings.lambda_timeout_s,
            "Environment": {"Variables": gateway_environment(names, settings)},
            "Description": f"modelport gateway of stack {names.stack}"}


def get_function(calls: Calls, name: str) -> dict[str, Any] | None:
    """GetFunction, or None when there is no such function."""
    try:
        return calls.client("lambda").get_function(FunctionName=name)
    except ClientError as exc:
        if is_missing(exc):
            return None
        raise


def _wait_ready(calls: Calls, name: str, progress: Progress, timeout: float, interval: float) -> None:
    """Lambda refuses a second update while one is in progress: wait for State/LastUpdateStatus."""
    if calls.plan:
        calls.record("lambda", "wait_function_ready", FunctionName=name)
        return

    def check() -> tuple[bool, str]:
        config = calls.client("lambda").get_function_configuration(FunctionName=name)
        state, update = config.get("State", "Active"), config.get("LastUpdateStatus", "Successful")
        if state == "Failed" or update == "Failed":
            raise DeployError(f"Lambda function {name}: {config.get('StateReason') or config.get('LastUpdateStatusReason')}")
        return state == "Active" and update != "InProgress", f"{state}/{update}"

    progress.poll(f"function {name}", check, timeout, interval)


def _create(calls: Calls, names: Names, wanted: dict[str, Any], package: LambdaZip, architecture: str,
            progress: Progress, interval: float) -> str:
    def wait() -> None:
        progress.step("waiting for the new gateway role to become usable by Lambda ...")
        progress.sleep(max(interval, 5.0) if interval else 0)

    return retry_while_role_propagates(lambda: calls.client("lambda").create_function(
        FunctionName=names.function, Code={"ZipFile": package.data}, Architectures=[architecture],
        PackageType="Zip", Tags=names.tags(), **wanted)["FunctionArn"], wait)


def ensure_function(calls: Calls, names: Names, settings: AwsSettings, role_arn: str, package: LambdaZip,
                    progress: Progress) -> tuple[str, str]:
    """Create or update the gateway function; returns (function arn, action)."""
    wanted = function_settings(names, settings, role_arn)
    timeout, interval = settings.wait_seconds, settings.poll_seconds
    current = get_function(calls, names.function)
    if current is None:
        arn = _create(calls, names, wanted, package, settings.lambda_architecture, progress, interval)
        _wait_ready(calls, names.function, progress, timeout, interval)
        return arn, "created"
    config = current["Configuration"]
    action = "unchanged"
    lam = calls.client("lambda")
    if config.get("CodeSha256") != package.code_sha256 or config.get("Architectures", ["x86_64"]) != [settings.lambda_architecture]:
        lam.update_function_code(FunctionName=names.function, ZipFile=package.data,
                                 Architectures=[settings.lambda_architecture])
        _wait_ready(calls, names.function, progress, timeout, interval)
        action = "updated"
    have = {key: config.get(key) for key in wanted}
    have["Environment"] = {"Variables": (config.get("Environment") or {}).get("Variables", {})}
    if have != wanted:
        lam.update_function_configuration(FunctionName=names.function, **wanted)
        _wait_ready(calls, names.function, progress, timeout, interval)
        action = "updated"
    return config["FunctionArn"], action


def ensure_invoke_permission(calls: Calls, names: Names, api_id: str) -> str:
    """Let (only) this HTTP API invoke the function."""
    source = f"arn:aws:execute-api:{names.region}:{names.account}:{api_id}/*"
    lam = calls.client("lambda")
    try:
        policy = json.loads(lam.get_policy(FunctionName=names.function)["Policy"])
        statements = {s.get("Sid"): s for s in policy.get("Statement", [])}
    except ClientError as exc:
        if not is_missing(exc):
            raise
        statements = {}
    existing = statements.get(PERMISSION_ID)
    if existing and source in json.dumps(existing.get("Condition", {})):
        return "unchanged"
    if existing:
        lam.remove_permission(FunctionName=names.function, StatementId=PERMISSION_ID)
    lam.add_permission(FunctionName=names.function, StatementId=PERMISSION_ID, Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=source)
    return "created"


def delete_function(calls: Calls, names: Names) -> bool:
    """Delete the gateway function; False when it did not exist."""
    try:
        calls.client("lambda").delete_function(FunctionName=names.function)
        return True
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
