"""One door for every AWS call: real boto3 clients, or a recorder for ``--plan``.

In plan mode reads (Describe/Get/List/Head) still go to AWS, so the plan knows what exists; every
call that would change something is recorded instead and answered with placeholders, so the rest of
the deploy can carry on and the plan lists every call in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

READ_PREFIXES = ("describe_", "get_", "list_", "head_")


@dataclass
class PlannedCall:
    """A call ``deploy``/``destroy`` would make."""

    service: str
    operation: str
    params: dict[str, Any]

    def render(self) -> str:
        """One line: service.operation {params} (long payloads shortened)."""
        shown = {k: _short(v) for k, v in self.params.items()}
        return f"{self.service}.{self.operation} {json.dumps(shown, default=str, sort_keys=True)}"


def _short(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    if hasattr(value, "read"):
        return "<file>"
    return value


# Placeholder answers of recorded calls (only the fields the deploy reads back).
def _placeholder(operation: str, params: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    if operation == "create_role":
        return {"Role": {"Arn": f"arn:aws:iam::{account}:role/{params['RoleName']}", "RoleName": params["RoleName"]}}
    if operation in ("create_function", "update_function_code", "update_function_configuration"):
        name = params.get("FunctionName", "")
        return {"FunctionArn": f"arn:aws:lambda:{region}:{account}:function:{name}", "FunctionName": name}
    if operation == "create_api":
        return {"ApiId": "<api-id>", "ApiEndpoint": f"https://<api-id>.execute-api.{region}.amazonaws.com"}
    if operation == "create_integration":
        return {"IntegrationId": "<integration-id>"}
    if operation == "create_route":
        return {"RouteId": "<route-id>"}
    return {}


class PlanClient:
    """A boto3 client whose writes are recorded, not sent."""

    def __init__(self, service: str, client: Any, calls: "Calls"):
        self._service, self._client, self._calls = service, client, calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith(READ_PREFIXES) or name in ("exceptions", "meta", "can_paginate") or not callable(attr):
            return attr

        def record(*args: Any, **params: Any) -> dict[str, Any]:
            self._calls.planned.append(PlannedCall(self._service, name, params))
            return _placeholder(name, params, self._calls.region, self._calls.account())

        return record


@dataclass
class Calls:
    """boto3 clients of one region; ``plan=True`` records writes instead of making them."""

    region: str
    plan: bool = False
    session: Any = None
    planned: list[PlannedCall] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)
    _account: str = ""

    def client(self, service: str) -> Any:
        """The (cached) client of ``service``."""
        if service not in self._clients:
            session = self.session or boto3.session.Session()
            config = Config(region_name=self.region, retries={"mode": "standard", "max_attempts": 8})
            real = session.client(service, region_name=self.region, config=config)
            self._clients[service] = PlanClient(service, real, self) if self.plan else real
        return self._clients[service]

    def record(self, service: str, operation: str, **params: Any) -> None:
        """Note a step that is not one boto3 call (e.g. a wait) in the plan."""
        self.planned.append(PlannedCall(service, operation, params))

    def account(self) -> str:
        """The caller's account id (STS, asked once)."""
        if not self._account:
            self._account = self.client("sts").get_caller_identity()["Account"]
        return self._account
