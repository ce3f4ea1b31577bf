"""`modelport aws deploy`: bring a stack to what its settings say, creating nothing twice.

Order: check every archive and pick its image (refuse before touching AWS), archives bucket and
uploads, SageMaker role, endpoints (all started, then awaited), their autoscaling, gateway role, Lambda function, HTTP
API, invoke permission, then the page with a config.json pointing at the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelport.aws import apigw, autoscaling, iam, lambda_, s3, sagemaker, site
from modelport.aws.archives import inspect_archive
from modelport.aws.calls import Calls
from modelport.aws.images import ImageChoice, choose_image
from modelport.aws.lambda_zip import LambdaZip, build_lambda_zip
from modelport.aws.names import Names
from modelport.aws.progress import Progress
from modelport.aws.settings import AwsSettings


@dataclass
class DeployResult:
    """What deploy did (resource → created / updated / unchanged) and where things are."""

    actions: dict[str, str] = field(default_factory=dict)
    images: dict[str, ImageChoice] = field(default_factory=dict)
    api_url: str = ""
    site_url: str = ""


def stack_names(calls: Calls, settings: AwsSettings) -> Names:
    """The stack's names, for the caller's account."""
    return Names(settings.stack, settings.region, calls.account(), settings.bucket)


def plan_models(settings: AwsSettings, names: Names) -> tuple[list, dict[str, ImageChoice]]:
    """Inspect every archive and choose its image; raises before anything is created."""
    checked, images = [], {}
    for spec in settings.models:
        info = inspect_archive(spec.archive, spec.framework)
        images[spec.name] = choose_image(info.framework, info.library_version, info.pinned, settings.region)
        checked.append((spec, info))
    return checked, images


def deploy(settings: AwsSettings, calls: Calls, progress: Progress, cache: Path,
           package: LambdaZip | None = None) -> DeployResult:
    """Deploy (or update) the whole stack; returns what was done."""
    result = DeployResult()
    names = stack_names(calls, settings)
    checked, result.images = plan_models(settings, names)
    for model, choice in result.images.items():
        progress.step(f"{model}: image {choice.uri} ({choice.reason})")
    page_dir = Path(settings.page_dir) if settings.page_dir else None
    if page_dir is not None:
        site.page_files(page_dir, "")  # refuse a missing build before creating anything
    package = package or build_lambda_zip(settings.lambda_architecture, cache)

    result.actions["s3:artifacts"] = s3.ensure_artifacts_bucket(calls, names)
    uris = {}
    for spec, info in checked:
        uris[spec.name], result.actions[f"s3:{spec.name}"] = s3.upload_archive(calls, names, spec.name, info.path, info.sha256)
    if settings.role_arn:
        role_arn = settings.role_arn
    else:
        role_arn, result.actions["iam:sagemaker-role"] = iam.ensure_role(
            calls, names, names.sagemaker_role, "sagemaker.amazonaws.com", iam.sagemaker_policy(names),
            f"SageMaker execution role of modelport stack {names.stack}")

    started = {}
    for spec, info in checked:
        plan = sagemaker.ModelPlan(spec.name, result.images[spec.name].uri, uris[spec.name], role_arn,
                                   settings.model_hosting(spec), sagemaker.container_environment(names.region),
                                   info.sha256)
        action, previous = sagemaker.start_endpoint(calls, names, plan, progress, settings.wait_seconds,
                                                    settings.poll_seconds)
        if action != "unchanged":
            started[spec.name] = previous
        result.actions[f"endpoint:{spec.name}"] = action
        progress.step(f"endpoint {names.endpoint(spec.name)}: {action}")
    for model, previous in started.items():
        sagemaker.finish_endpoint(calls, names, model, previous, progress, settings.wait_seconds, settings.poll_seconds)
    for spec, _ in checked:  # on InService endpoints only (AWS refuses to register a variant still Creating)
        scale = settings.model_autoscale(spec)
        action = autoscaling.ensure_autoscaling(calls, names, names.endpoint(spec.name), scale)
        if scale is not None or action != "unchanged":
            result.actions[f"autoscaling:{spec.name}"] = action
            progress.step(f"autoscaling of {names.endpoint(spec.name)}: {action}")

    gateway_role, result.actions["iam:gateway-role"] = iam.ensure_role(
        calls, names, names.gateway_role, "lambda.amazonaws.com",
        iam.gateway_policy(names, [m.name for m in settings.models], settings.bedrock_model_id),
        f"Gateway Lambda role of modelport stack {names.stack}")
    function_arn, result.actions["lambda:gateway"] = lambda_.ensure_function(
        calls, names, settings, gateway_role, package, progress)
    progress.step(f"function {names.function}: {result.actions['lambda:gateway']}")
    api, result.actions["apigw:api"] = apigw.ensure_api(
        calls, names, function_arn, lambda_.allowed_origins(names, settings), settings.throttle_rate,
        settings.throttle_burst)
    result.actions["lambda:permission"] = lambda_.ensure_invoke_permission(calls, names, api["ApiId"])
    result.api_url = apigw.api_url(names, api)
    progress.step(f"HTTP API {names.api}: {result.actions['apigw:api']} → {result.api_url}")

    if page_dir is not None:
        result.actions["s3:site"], _ = site.ensure_site(calls, names, page_dir, result.api_url)
        result.site_url = site.website_url(names)
        progress.step(f"page: {result.actions['s3:site']} → {result.site_url}")
    return result
