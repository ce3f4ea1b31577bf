"""The other AWS APIs a SageMaker SDK notebook calls, answered for hosting's one local account:

- STS ``GetCallerIdentity`` (query protocol): the local account (``MODELPORT_HOSTING_ACCOUNT``), as the
  assumed role ``modelport-local``, so ``default_bucket()`` can name ``sagemaker-<region>-<account>``.
- IAM ``GetRole`` / ``SimulatePrincipalPolicy`` (query protocol): hosting enforces no IAM, so every role
  name exists in the local account (trusting sagemaker.amazonaws.com) and every action is allowed.
- CloudWatch Logs ``FilterLogEvents`` (JSON 1.1): hosting keeps instance logs in files, not CloudWatch, so
  it answers as AWS answers a caller without ``logs:FilterLogEvents`` (``AccessDeniedException``), which
  the SDKs take as "no live logs" (``modelport logs NAME`` shows them).

Any other operation of these services, or a service hosting does not have, is refused in that
protocol's own error shape, naming the operation.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import quote

from modelport.hosting import query_protocol
from modelport.hosting.query_protocol import QueryError
from modelport.hosting.settings import HostingSettings
from modelport.net.messages import Request, Response

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
LOCAL_ROLE = "modelport-local"
_SAGEMAKER_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
_JSON = "application/x-amz-json-1.1"


def _unknown(service: str, action: str, supported: str) -> QueryError:
    return QueryError("InvalidAction", f"modelport hosting does not implement {service} {action or '(no Action)'}; "
                      f"it answers {supported}.")


class StsApi:
    """STS for the local account."""

    def __init__(self, settings: HostingSettings) -> None:
        self.account = settings.account

    async def handle(self, request: Request) -> Response:
        """Answer one STS query-protocol request."""
        params = query_protocol.form(request)
        action = params.get("Action", "")
        if action != "GetCallerIdentity":
            return query_protocol.error(_unknown("STS", action, "GetCallerIdentity"), STS_NAMESPACE)
        return query_protocol.result(action, STS_NAMESPACE, {
            "Arn": f"arn:aws:sts::{self.account}:assumed-role/{LOCAL_ROLE}/modelport",
            "UserId": "AROAMODELPORTLOCAL0000:modelport",
            "Account": self.account,
        })


class IamApi:
    """IAM for the local account: every role exists, every action is allowed."""

    def __init__(self, settings: HostingSettings) -> None:
        self.account = settings.account
        self.created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(0))

    async def handle(self, request: Request) -> Response:
        """Answer one IAM query-protocol request."""
        params = query_protocol.form(request)
        action = params.get("Action", "")
        try:
            if action == "GetRole":
                return query_protocol.result(action, IAM_NAMESPACE, {"Role": self._role(params.get("RoleName", ""))})
            if action == "SimulatePrincipalPolicy":
                return query_protocol.result(action, IAM_NAMESPACE, self._simulate(params))
            raise _unknown("IAM", action, "GetRole and SimulatePrincipalPolicy")
        except QueryError as exc:
            return query_protocol.error(exc, IAM_NAMESPACE)

    def _role(self, name: str) -> dict:
        if not name or len(name) > 64:
            raise QueryError("ValidationError", "1 validation error detected: Value at 'roleName' failed to satisfy "
                             "constraint: Member must have length between 1 and 64")
        return {"Path": "/", "RoleName": name, "RoleId": "AROA" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:17].upper(),
                "Arn": f"arn:aws:iam::{self.account}:role/{name}", "CreateDate": self.created,
                "AssumeRolePolicyDocument": quote(json.dumps(_SAGEMAKER_TRUST)), "MaxSessionDuration": 3600}

    def _simulate(self, params: dict[str, str]) -> dict:
        actions = query_protocol.members(params, "ActionNames")
        if not actions:
            raise QueryError("ValidationError", "1 validation error detected: Value null at 'actionNames' failed to "
                             "satisfy constraint: Member must not be null")
        resources = query_protocol.members(params, "ResourceArns") or ["*"]
        return {"EvaluationResults": [{"EvalActionName": action, "EvalResourceName": resource,
                                       "EvalDecision": "allowed", "MatchedStatements": [], "MissingContextValues": []}
                                      for action in actions for resource in resources],
                "IsTruncated": False}


class LogsApi:
    """CloudWatch Logs, as for a caller without permission to read them."""

    def __init__(self, settings: HostingSettings) -> None:
        self.account = settings.account
        self.region = settings.region

    async def handle(self, request: Request) -> Response:
        """Answer one CloudWatch Logs JSON 1.1 request."""
        operation = request.headers.get("x-amz-target", "").partition(".")[2]
        if operation == "FilterLogEvents":
            return json_error(400, "AccessDeniedException",
                              f"User: arn:aws:sts::{self.account}:assumed-role/{LOCAL_ROLE}/modelport is not "
                              f"authorized to perform: logs:FilterLogEvents: modelport hosting keeps instance logs "
                              f"in files; read them with `modelport logs ENDPOINT`.")
        return json_error(400, "UnknownOperationException",
                          f"modelport hosting does not implement CloudWatch Logs {operation or '(no X-Amz-Target)'}.")


def json_error(status: int, code: str, message: str) -> Response:
    """An AWS JSON 1.1 error (``__type`` and ``message``)."""
    return Response(status, [("Content-Type", _JSON), ("x-amzn-RequestId", str(uuid.uuid4()))],
                    json.dumps({"__type": code, "message": message}).encode())


_SERVED = "it serves SageMaker, SageMaker Runtime, S3, STS, IAM, CloudWatch Logs and Application Auto Scaling"


def unknown_service(service: str, request: Request) -> Response:
    """The answer for a service hosting does not have, in the request's protocol, naming the operation."""
    target = request.headers.get("x-amz-target")
    action = query_protocol.form(request).get("Action", "") if not target else ""
    if action:
        return query_protocol.error(QueryError("InvalidAction", f"modelport hosting does not implement {service} "
                                               f"{action}; {_SERVED}."), IAM_NAMESPACE)
    operation = target or f"{request.method} {request.path}"
    return json_error(400, "UnknownOperationException",
                      f"modelport hosting does not implement {service} ({operation}); {_SERVED}.")
