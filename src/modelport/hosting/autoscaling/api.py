"""Application Auto Scaling's API in AWS JSON 1.1 (``POST /`` with ``X-Amz-Target:
AnyScaleFrontendService.<Operation>``, signed for ``application-autoscaling``): scalable targets, target-tracking
policies and scaling activities of SageMaker endpoint variants.

Bodies are checked against botocore's own input shapes for the service (:mod:`..input_shapes`), then as AWS checks
them (:mod:`.policies`); errors are ``{"__type", "message"}`` documents (``ValidationException``,
``ObjectNotFoundException``). Times are epoch seconds, as AWS's JSON protocol sends them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import orjson

from modelport.hosting.autoscaling import policies as rules
from modelport.hosting.errors import ControlError, validation
from modelport.hosting.input_shapes import Shapes, sagemaker_shapes
from modelport.hosting.paging import window
from modelport.net.messages import Request, Response

SERVICE = "application-autoscaling"
TARGET_PREFIX = "AnyScaleFrontendService"
CONTENT_TYPE = "application/x-amz-json-1.1"
_SERVICE_ROLE = ("sagemaker.application-autoscaling.amazonaws.com/"
                 "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")  # what AWS links when RoleARN is omitted
MAX_RESULTS = 50  # Describe* pages: at most 50 items (AWS's limit and default)


class AutoscalingApi:
    """Dispatches Application Auto Scaling requests to the ``op_<Operation>`` methods."""

    def __init__(self, hosting: Any) -> None:
        self.hosting = hosting
        self.store = hosting.autoscaler.store
        self.settings = hosting.settings
        self._shapes: Shapes | None = None

    @classmethod
    def operations(cls) -> list[str]:
        """The supported operation names."""
        return sorted(n[3:] for n in dir(cls) if n.startswith("op_"))

    async def handle(self, request: Request) -> Response:
        """Answer one JSON 1.1 request."""
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        try:
            method = getattr(self, f"op_{operation}", None) if prefix == TARGET_PREFIX else None
            if method is None:
                raise ControlError("UnknownOperationException",
                                   f"modelport hosting does not implement Application Auto Scaling operation "
                                   f"{target!r}; supported: {', '.join(self.operations())} "
                                   f"(X-Amz-Target: {TARGET_PREFIX}.<Operation>).")
            try:
                params = orjson.loads(request.body or b"{}")
            except orjson.JSONDecodeError as exc:
                raise ControlError("SerializationException", f"The request body is not valid JSON: {exc}") from exc
            if not isinstance(params, dict):
                raise ControlError("SerializationException", "The request body must be a JSON object.")
            if self._shapes is None:  # botocore's model, read once off the loop
                self._shapes = await asyncio.to_thread(sagemaker_shapes, self.operations(), SERVICE)
            self._shapes.check(operation, params)
            status, body = 200, method(params)
        except ControlError as exc:
            status, body = exc.status, exc.body()
        return Response(status, [("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", str(uuid.uuid4()))],
                        json.dumps(body).encode())

    # --- helpers -----------------------------------------------------------------------------

    def _key(self, params: dict[str, Any]) -> tuple[str, str, str]:
        """(namespace, resource id, dimension) of a request that names one scalable target."""
        namespace = rules.scope(params)
        resource_id = params["ResourceId"]
        rules.variant_of(resource_id)
        return namespace, resource_id, rules.dimension(params["ScalableDimension"])

    def _arn(self, service: str, what: str) -> str:
        return f"arn:aws:{service}:{self.settings.region}:{self.settings.account}:{what}"

    def _registered(self, key: tuple[str, str, str]) -> dict[str, Any]:
        target = self.store.target(key)
        if target is None:
            raise rules.not_found(f"No scalable target registered for service namespace: {key[0]}, resource ID: "
                                  f"{key[1]}, scalable dimension: {key[2]}")
        return target

    def _variant(self, resource_id: str) -> dict[str, Any]:
        """The endpoint variant a resource id names, which must exist and have instances to count."""
        endpoint, variant = rules.variant_of(resource_id)
        row = self.hosting.registry.get_endpoint(endpoint)
        deployed = {v["VariantName"]: v for v in row["deployed"]} if row else {}
        if variant not in deployed:
            raise validation(f"The endpoint variant {resource_id} does not exist: " + (
                f"endpoint {endpoint} has variants {', '.join(sorted(deployed))}." if row else
                f"there is no endpoint {endpoint}; create it first."))
        if deployed[variant].get("ServerlessConfig"):
            raise validation(f"Variant {resource_id} is serverless: it has no instance count to scale "
                             f"({rules.DIMENSION}); its ServerlessConfig decides its capacity.")
        return deployed[variant]

    # --- scalable targets ------------------------------------------------------------------

    def op_RegisterScalableTarget(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        asynchronous = bool(self._variant(key[1]).get("AsyncInferenceConfig"))
        old = self.store.target(key)
        low = params.get("MinCapacity", old["min_capacity"] if old else None)
        high = params.get("MaxCapacity", old["max_capacity"] if old else None)
        if low is None or high is None:
            raise validation("MinCapacity and MaxCapacity are required to register a new scalable target.")
        if low < (0 if asynchronous else 1):
            raise validation(f"MinCapacity {low} is not allowed for {rules.DIMENSION} of a real-time endpoint "
                             f"variant: it must be at least 1 (SageMaker scales variants to zero only for "
                             f"asynchronous endpoints and inference components).")
        if low > high:
            raise validation(f"Minimum capacity ({low}) cannot be greater than maximum capacity ({high}).")
        cap = self.settings.max_instances_per_variant
        if high > cap:
            raise validation(f"MaxCapacity {high} is above modelport hosting's cap of {cap} instances per variant "
                             f"(MODELPORT_HOSTING_MAX_INSTANCES_PER_VARIANT).")
        suspended = {**(old["suspended"] if old else {}), **(params.get("SuspendedState") or {})}
        role = params.get("RoleARN") or (old["role_arn"] if old else
                                         f"arn:aws:iam::{self.settings.account}:role/aws-service-role/{_SERVICE_ROLE}")
        arn = self._arn("application-autoscaling", f"scalable-target/056{uuid.uuid4().hex[:25]}")
        self.store.put_target(key, low, high, role, arn, suspended)
        return {"ScalableTargetARN": self.store.target(key)["arn"]}

    def op_DeregisterScalableTarget(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        if not self.store.delete_target(key):
            self._registered(key)
        return {}

    def op_DescribeScalableTargets(self, params: dict[str, Any]) -> dict[str, Any]:
        rules.scope(params)
        ids, dim = params.get("ResourceIds"), params.get("ScalableDimension")
        rows = [{"ServiceNamespace": t["namespace"], "ResourceId": t["resource_id"], "ScalableDimension": t["dimension"],
                 "MinCapacity": t["min_capacity"], "MaxCapacity": t["max_capacity"], "RoleARN": t["role_arn"],
                 "CreationTime": t["created"], "SuspendedState": _suspended(t["suspended"]),
                 "ScalableTargetARN": t["arn"]}
                for t in self.store.targets(rules.NAMESPACE)
                if (not ids or t["resource_id"] in ids) and (not dim or t["dimension"] == dim)]
        return window(params, rows, "ScalableTargets", MAX_RESULTS)

    # --- policies --------------------------------------------------------------------------

    def op_PutScalingPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        self._registered(key)
        kind = params.get("PolicyType", "StepScaling")
        if kind != rules.TARGET_TRACKING:
            raise validation(f"PolicyType {kind} is not supported by modelport hosting; use TargetTrackingScaling "
                             f"with TargetTrackingScalingPolicyConfiguration.")
        endpoint, variant = rules.variant_of(key[1])
        config = rules.target_tracking(params.get("TargetTrackingScalingPolicyConfiguration"), endpoint, variant,
                                       self.hosting.metrics is not None)
        name = params["PolicyName"]
        policy_id = str(uuid.uuid4())
        arn = self._arn("autoscaling", f"scalingPolicy:{policy_id}:resource/{key[0]}/{key[1]}:policyName/{name}")
        alarms = [{"AlarmName": f"TargetTracking-{key[1]}-{side}-{policy_id}",
                   "AlarmARN": self._arn("cloudwatch", f"alarm:TargetTracking-{key[1]}-{side}-{policy_id}")}
                  for side in ("AlarmHigh", "AlarmLow")]
        stored = self.store.put_policy(key, name, arn, kind, config, alarms)
        return {"PolicyARN": stored["arn"], "Alarms": stored["alarms"]}

    def op_DeleteScalingPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        if not self.store.delete_policy(key, params["PolicyName"]):
            raise rules.not_found(f"No scaling policy found for service namespace: {key[0]}, resource ID: {key[1]}, "
                                  f"scalable dimension: {key[2]}, policy name: {params['PolicyName']}")
        return {}

    def op_DescribeScalingPolicies(self, params: dict[str, Any]) -> dict[str, Any]:
        rules.scope(params)
        names, rid, dim = params.get("PolicyNames"), params.get("ResourceId"), params.get("ScalableDimension")
        rows = [{"PolicyARN": p["arn"], "PolicyName": p["name"], "ServiceNamespace": p["namespace"],
                 "ResourceId": p["resource_id"], "ScalableDimension": p["dimension"], "PolicyType": p["type"],
                 "TargetTrackingScalingPolicyConfiguration": p["config"], "Alarms": p["alarms"],
                 "CreationTime": p["created"]}
                for p in self.store.policies(rules.NAMESPACE)
                if (not names or p["name"] in names) and (not rid or p["resource_id"] == rid)
                and (not dim or p["dimension"] == dim)]
        return window(params, rows, "ScalingPolicies", MAX_RESULTS)

    # --- activities ------------------------------------------------------------------------

    def op_DescribeScalingActivities(self, params: dict[str, Any]) -> dict[str, Any]:
        rules.scope(params)
        rid, dim = params.get("ResourceId"), params.get("ScalableDimension")
        rows = []
        for a in self.store.activities(rules.NAMESPACE):
            if (rid and a["resource_id"] != rid) or (dim and a["dimension"] != dim):
                continue
            row = {"ActivityId": a["id"], "ServiceNamespace": a["namespace"], "ResourceId": a["resource_id"],
                   "ScalableDimension": a["dimension"], "Description": a["description"], "Cause": a["cause"],
                   "StartTime": a["started"], "StatusCode": a["status"]}
            if a["ended"] is not None:
                row["EndTime"] = a["ended"]
            if a["message"]:
                row["StatusMessage"] = a["message"]
            rows.append(row)
        return window(params, rows, "ScalingActivities", MAX_RESULTS)


def _suspended(state: dict[str, bool]) -> dict[str, bool]:
    return {key: bool(state.get(key)) for key in
            ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")}
