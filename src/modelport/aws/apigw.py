"""The public HTTP API (API Gateway v2): Lambda proxy integration, CORS for the page, throttling."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from modelport.aws.calls import Calls
from modelport.aws.errors import is_missing
from modelport.aws.names import TAG_KEY, Names

STAGE = "$default"
ROUTE = "$default"
INTEGRATION_TIMEOUT_MS = 29000  # the gateway answers 504 itself before this


def cors_configuration(origins: list[str]) -> dict[str, Any]:
    """CORS answered by API Gateway (it ignores CORS headers from the function)."""
    return {"AllowOrigins": origins, "AllowMethods": ["GET", "POST", "OPTIONS"],
            "AllowHeaders": ["authorization", "content-type", "x-api-key", "x-request-id"],
            "ExposeHeaders": ["retry-after", "x-request-id"], "MaxAge": 600}


def find_api(calls: Calls, names: Names) -> dict[str, Any] | None:
    """This stack's HTTP API (by name and stack tag), or None."""
    apigw = calls.client("apigatewayv2")
    token = None
    while True:
        page = apigw.get_apis(**({"NextToken": token} if token else {}))
        for api in page.get("Items", []):
            if api.get("Name") == names.api and (api.get("Tags") or {}).get(TAG_KEY) == names.stack:
                return api
        token = page.get("NextToken")
        if not token:
            return None


def _same_cors(have: dict[str, Any] | None, want: dict[str, Any]) -> bool:
    have = have or {}
    return all(sorted(have.get(k) or []) == sorted(v) if isinstance(v, list) else have.get(k) == v
               for k, v in want.items())


def ensure_api(calls: Calls, names: Names, function_arn: str, origins: list[str], rate: float,
               burst: int) -> tuple[dict[str, Any], str]:
    """Create or bring up to date the API, its integration, route and stage; returns (api, action)."""
    apigw = calls.client("apigatewayv2")
    cors = cors_configuration(origins)
    api = find_api(calls, names)
    action = "unchanged"
    if api is None:
        api = apigw.create_api(Name=names.api, ProtocolType="HTTP", CorsConfiguration=cors, Tags=names.tags(),
                               Description=f"modelport gateway API of stack {names.stack}")
        action = "created"
    elif not _same_cors(api.get("CorsConfiguration"), cors):
        apigw.update_api(ApiId=api["ApiId"], CorsConfiguration=cors)
        action = "updated"
    api_id = api["ApiId"]
    integration_id = None
    if action != "created":
        for item in apigw.get_integrations(ApiId=api_id).get("Items", []):
            if item.get("IntegrationType") == "AWS_PROXY" and item.get("IntegrationUri") == function_arn:
                integration_id = item["IntegrationId"]
    if integration_id is None:
        integration_id = apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn, IntegrationMethod="POST",
            PayloadFormatVersion="2.0", TimeoutInMillis=INTEGRATION_TIMEOUT_MS)["IntegrationId"]
        action = action if action == "created" else "updated"
    target = f"integrations/{integration_id}"
    routes = {} if action == "created" else {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id).get("Items", [])}
    if ROUTE not in routes:
        apigw.create_route(ApiId=api_id, RouteKey=ROUTE, Target=target)
    elif routes[ROUTE].get("Target") != target:
        apigw.update_route(ApiId=api_id, RouteId=routes[ROUTE]["RouteId"], Target=target)
        action = "updated"
    throttle = {"ThrottlingBurstLimit": burst, "ThrottlingRateLimit": rate}
    stages = {} if action == "created" else {s["StageName"]: s for s in apigw.get_stages(ApiId=api_id).get("Items", [])}
    if STAGE not in stages:
        apigw.create_stage(ApiId=api_id, StageName=STAGE, AutoDeploy=True, DefaultRouteSettings=throttle,
                           Tags=names.tags())
    else:
        have = stages[STAGE].get("DefaultRouteSettings") or {}
        if have.get("ThrottlingBurstLimit") != burst or float(have.get("ThrottlingRateLimit") or 0) != float(rate):
            apigw.update_stage(ApiId=api_id, StageName=STAGE, DefaultRouteSettings=throttle)
            action = "updated"
    return api, action


def api_url(names: Names, api: dict[str, Any]) -> str:
    """The API's base URL (the $default stage has no path prefix)."""
    return api.get("ApiEndpoint") or f"https://{api['ApiId']}.execute-api.{names.region}.amazonaws.com"


def delete_api(calls: Calls, names: Names) -> bool:
    """Delete the API (routes, integrations and stages go with it); False when there was none."""
    api = find_api(calls, names)
    if api is None:
        return False
    try:
        calls.client("apigatewayv2").delete_api(ApiId=api["ApiId"])
    except ClientError as exc:
        if not is_missing(exc):
            raise
    return True
