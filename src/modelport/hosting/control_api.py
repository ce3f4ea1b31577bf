"""SageMaker's control plane in AWS JSON 1.1: ``POST /`` with ``X-Amz-Target: SageMaker.<Operation>``.

Each operation validates like SageMaker, changes the registry, and (for endpoints) hands the work
to :class:`~modelport.hosting.service.Hosting`. Errors are ``{"__type", "message"}`` documents.
Bodies are parsed with orjson (NaN and Infinity are not JSON, so they are refused) and checked
against SageMaker's input shapes (:mod:`.input_shapes`) before an operation sees them.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import orjson

from modelport import store
from modelport.hosting import model_data
from modelport.hosting.async_inference import config as async_config
from modelport.hosting.capture import config as capture_config
from modelport.hosting import validation as check
from modelport.hosting.errors import ControlError, validation
from modelport.hosting.fleet import SHADOW_KEY
from modelport.hosting.input_shapes import Shapes, sagemaker_shapes
from modelport.hosting.model_data import model_data_url
from modelport.hosting.multi_model import config as mme_config
from modelport.hosting.paging import page as _page
from modelport.hosting.paging import start_of as _start
from modelport.hosting.service import IN_SERVICE, Hosting
from modelport.hosting.transform.api import TransformJobApi
from modelport.net.messages import Request, Response

CONTENT_TYPE = "application/x-amz-json-1.1"
_CONFIG = "endpoint-config"
SUBMIT_DIRECTORY_KEY = "SAGEMAKER_SUBMIT_DIRECTORY"
# SageMaker's in-container code folder, which the SDK and notebooks name; modelport reads the archive's
# code/ first, and only root can create this folder on the host.
SAGEMAKER_CODE_DIR = "/opt/ml/model/code"


class ControlApi(TransformJobApi):
    """Dispatches control-plane requests to the ``op_<Operation>`` methods (batch transform's in
    :class:`~modelport.hosting.transform.api.TransformJobApi`)."""

    def __init__(self, hosting: Hosting) -> None:
        self.hosting = hosting
        self.registry = hosting.registry
        self.settings = hosting.settings
        self._shapes: Shapes | None = None

    async def _input_shapes(self) -> Shapes:
        if self._shapes is None:  # read once, off the event loop (botocore's model is a few MB)
            self._shapes = await asyncio.to_thread(sagemaker_shapes, self.operations())
        return self._shapes

    async def handle(self, request: Request) -> Response:
        """Answer one JSON 1.1 request."""
        target = request.headers.get("x-amz-target", "")
        prefix, _, operation = target.partition(".")
        try:
            if prefix != "SageMaker" or not operation:
                raise ControlError("UnknownOperationException",
                                   f"Missing or unsupported X-Amz-Target {target!r}; expected SageMaker.<Operation>.")
            method = getattr(self, f"op_{operation}", None)
            if method is None:
                raise ControlError("UnknownOperationException",
                                   f"modelport hosting does not implement SageMaker.{operation}; supported: "
                                   f"{', '.join(self.operations())}.")
            try:
                params = orjson.loads(request.body or b"{}")
            except orjson.JSONDecodeError as exc:
                raise ControlError("SerializationException", f"The request body is not valid JSON: {exc}") from exc
            if not isinstance(params, dict):
                raise ControlError("SerializationException", "The request body must be a JSON object.")
            (await self._input_shapes()).check(operation, params)
            result = method(params)
            if asyncio.iscoroutine(result):
                result = await result
            status, body = 200, result
        except ControlError as exc:
            status, body = exc.status, exc.body()
        return Response(status, [("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", str(uuid.uuid4()))],
                        json.dumps(body).encode())

    @classmethod
    def operations(cls) -> list[str]:
        """The supported operation names."""
        return sorted(n[3:] for n in dir(cls) if n.startswith("op_"))

    # helpers
    def _arn(self, kind: str, name: str) -> str:
        return self.hosting.arn(kind, name)

    def _not_found(self, kind: str, label: str, name: str) -> ControlError:
        return validation(f'Could not find {label} "{self._arn(kind, name)}".')

    def _model(self, name: str) -> dict[str, Any]:
        doc = self.registry.get_document("models", name)
        if doc is None:
            raise self._not_found("model", "model", name)
        return doc

    def _config(self, name: str) -> dict[str, Any]:
        doc = self.registry.get_document("endpoint_configs", name)
        if doc is None:
            raise self._not_found(_CONFIG, "endpoint configuration", name)
        return doc

    def _endpoint(self, name: str) -> dict[str, Any]:
        row = self.registry.get_endpoint(name)
        if row is None:
            raise self._not_found("endpoint", "endpoint", name)
        return row

    # models
    async def op_CreateModel(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.name(params, "ModelName")
        check.tags(params.get("Tags"))
        primary, containers = params.get("PrimaryContainer"), params.get("Containers")
        if primary and containers:
            raise validation("Specify either PrimaryContainer or Containers, not both.")
        if not primary and not containers:
            raise validation("Either PrimaryContainer or Containers must be specified.")
        if containers is not None and not 1 <= len(containers) <= 15:
            raise check.constraint(len(containers), "containers", "Member must have length between 1 and 15")
        for i, container in enumerate([primary] if primary else containers):
            where = "primaryContainer" if primary else f"containers.{i + 1}.member"
            env = container.get("Environment")
            check.environment(env, where)
            check.forbidden_environment(env, where)
            check.model_server_workers(env, where, self.settings.max_model_workers)
            self._check_submit_directory(env, where)
            try:
                mme_config.check_container(container, where, self._roots())
            except mme_config.ConfigError as exc:
                raise validation(str(exc)) from None
            if not mme_config.is_multi_model(container):  # a prefix is read target by target, at invocation
                await self._check_model_data(container)
        if self.registry.get_document("models", name) is not None:
            raise validation(f'Cannot create already existing model "{self._arn("model", name)}".')
        spec = {k: v for k, v in params.items() if k not in ("ModelName", "Tags")}
        if self.registry.add_document("models", name, self._arn("model", name), spec) is None:
            raise validation(f'Cannot create already existing model "{self._arn("model", name)}".')
        self._tag(self._arn("model", name), params.get("Tags"))
        return {"ModelArn": self._arn("model", name)}

    def _roots(self):
        return model_data.allowed_roots(self.hosting.home, self.settings.model_roots)

    def _check_submit_directory(self, env: dict[str, str] | None, where: str) -> None:
        """SAGEMAKER_SUBMIT_DIRECTORY names code to run, so it must lie under the allowed roots too."""
        value = (env or {}).get(SUBMIT_DIRECTORY_KEY)
        if value is None or value.strip().rstrip("/") == SAGEMAKER_CODE_DIR:
            return
        try:
            model_data.check_allowed(value.strip(), self._roots(), what=f"{where}.Environment {SUBMIT_DIRECTORY_KEY}")
        except model_data.ModelDataError as exc:
            raise validation(str(exc)) from None

    async def _check_model_data(self, container: dict[str, Any]) -> None:
        url = model_data_url(container)
        if not url:
            return
        try:
            model_data.check_allowed(url, self._roots())
        except model_data.ModelDataError as exc:
            raise validation(str(exc)) from None
        try:
            found = await asyncio.to_thread(model_data.exists, url, self.hosting.local_s3)
        except store.StoreError as exc:
            raise validation(f"Could not access model data at {url}: {exc}") from exc
        if not found:
            raise validation(f"Could not find model data at {url}.")

    def op_DescribeModel(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._model(check.require(params, "ModelName"))
        spec = doc["spec"]
        out = {"ModelName": doc["name"], **spec, "CreationTime": doc["created"], "ModelArn": doc["arn"]}
        out.setdefault("EnableNetworkIsolation", False)
        out.pop("Tags", None)
        return out

    def op_ListModels(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = self.registry.list_documents("models")
        rows = [{"ModelName": d["name"], "ModelArn": d["arn"], "CreationTime": d["created"]} for d in docs]
        return _page(params, rows, "Models", "ModelName")

    def op_DeleteModel(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.require(params, "ModelName")
        if not self.registry.delete_document("models", name):
            raise self._not_found("model", "model", name)
        self.registry.delete_tags(self._arn("model", name))
        return {}

    # endpoint configs
    async def op_CreateEndpointConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.name(params, "EndpointConfigName")
        check.tags(params.get("Tags"))
        variants = check.production_variants(check.require(params, "ProductionVariants"))
        shadows = check.shadow_variants(params.get("ShadowProductionVariants"), variants)
        check.serverless_exclusions(variants + shadows, params)
        check.instance_caps(check.variant_counts(variants + shadows), self.settings.max_instances_per_variant,
                            self.settings.max_instances)
        for variant in variants + shadows:
            model = self._model(variant["ModelName"])
            if variant.get("ServerlessConfig") and any(
                    mme_config.is_multi_model(c) for c in [model["spec"].get("PrimaryContainer") or {},
                                                           *(model["spec"].get("Containers") or [])]):
                raise validation(f"Production variant {variant['VariantName']} is serverless, and serverless endpoints "
                                 f"do not support multi-model models ({variant['ModelName']} has Mode MultiModel; "
                                 f"SageMaker's feature exclusions); use instances.")
        capture = await asyncio.to_thread(capture_config.check, params.get("DataCaptureConfig"),
                                          self.hosting.transforms.places())
        await asyncio.to_thread(async_config.check, params.get("AsyncInferenceConfig"), variants, shadows,
                                self.hosting.transforms.places())
        arn = self._arn(_CONFIG, name)
        spec = {**{k: v for k, v in params.items() if k not in ("EndpointConfigName", "Tags")},
                "ProductionVariants": variants}
        if shadows:
            spec["ShadowProductionVariants"] = shadows
        if capture:
            spec["DataCaptureConfig"] = capture
        if self.registry.add_document("endpoint_configs", name, arn, spec) is None:
            raise validation(f'Cannot create already existing endpoint configuration "{arn}".')
        self._tag(arn, params.get("Tags"))
        return {"EndpointConfigArn": arn}

    def op_DescribeEndpointConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        doc = self._config(check.require(params, "EndpointConfigName"))
        out = {"EndpointConfigName": doc["name"], "EndpointConfigArn": doc["arn"], **doc["spec"],
               "CreationTime": doc["created"]}
        out.pop("Tags", None)
        return out

    def op_ListEndpointConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = self.registry.list_documents("endpoint_configs")
        rows = [{"EndpointConfigName": d["name"], "EndpointConfigArn": d["arn"], "CreationTime": d["created"]}
                for d in docs]
        return _page(params, rows, "EndpointConfigs", "EndpointConfigName")

    def op_DeleteEndpointConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.require(params, "EndpointConfigName")
        if not self.registry.delete_document("endpoint_configs", name):
            raise self._not_found(_CONFIG, "endpoint configuration", name)
        self.registry.delete_tags(self._arn(_CONFIG, name))
        return {}

    # endpoints
    def _deployment(self, config: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            return self.hosting.deployment(config)
        except LookupError as exc:
            raise self._not_found("model", "model", str(exc.args[0])) from exc

    def op_CreateEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.name(params, "EndpointName")
        check.tags(params.get("Tags"))
        deployment_config = check.deployment_config(params.get("DeploymentConfig"))
        config = self._config(check.require(params, "EndpointConfigName"))
        arn = self._arn("endpoint", name)
        if self.registry.get_endpoint(name) is not None:
            raise validation(f'Cannot create already existing endpoint "{arn}".')
        if self.hosting.create(name, config["name"], self._deployment(config), deployment_config) is None:
            raise validation(f'Cannot create already existing endpoint "{arn}".')
        self._tag(arn, params.get("Tags"))
        return {"EndpointArn": arn}

    def op_DescribeEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        row = self._endpoint(check.require(params, "EndpointName"))
        out: dict[str, Any] = {
            "EndpointName": row["name"],
            "EndpointArn": row["arn"],
            "EndpointConfigName": row["config_name"],
            "ProductionVariants": self._variant_summaries(row, shadow=False),
            "EndpointStatus": row["status"],
            "CreationTime": row["created"],
            "LastModifiedTime": row["modified"],
        }
        if row["failure_reason"]:
            out["FailureReason"] = row["failure_reason"]
        if row["deployment_config"]:
            out["LastDeploymentConfig"] = row["deployment_config"]
        if row["pending_config"]:
            out["PendingDeploymentSummary"] = {"EndpointConfigName": row["pending_config"],
                                               "StartTime": row["modified"]}
        capture = capture_config.summary(row["deployed"][0].get("DataCaptureConfig") if row["deployed"] else None)
        if capture:
            out["DataCaptureConfig"] = capture
        if row["deployed"] and row["deployed"][0].get("AsyncInferenceConfig"):
            out["AsyncInferenceConfig"] = row["deployed"][0]["AsyncInferenceConfig"]
        shadows = self._variant_summaries(row, shadow=True)
        if shadows:
            out["ShadowProductionVariants"] = shadows
        return out

    def _variant_summaries(self, row: dict[str, Any], shadow: bool) -> list[dict[str, Any]]:
        live = self.hosting.live.get(row["name"])
        fleets = {f.name: f for f in live.fleets} if live else {}
        out = []
        for variant in row["deployed"]:
            if bool(variant.get(SHADOW_KEY)) != shadow:
                continue
            vname = variant["VariantName"]
            fleet = fleets.get(vname)
            weight = float(variant.get("InitialVariantWeight", 1.0))
            count = int(variant.get("InitialInstanceCount") or 1)
            summary: dict[str, Any] = {
                "VariantName": vname,
                "CurrentWeight": fleet.weight if fleet else weight,
                "DesiredWeight": fleet.desired_weight if fleet else weight,
                "CurrentInstanceCount": fleet.ready_count if fleet else 0,
                "DesiredInstanceCount": fleet.desired_count if fleet else count,
            }
            if variant.get("ServerlessConfig"):  # SageMaker shows the config instead of instance counts
                del summary["CurrentInstanceCount"], summary["DesiredInstanceCount"]
                summary["CurrentServerlessConfig"] = summary["DesiredServerlessConfig"] = variant["ServerlessConfig"]
            image = variant.get("Container", {}).get("Image")
            if image:
                summary["DeployedImages"] = [{"SpecifiedImage": image, "ResolvedImage": image,
                                              "ResolutionTime": row["created"]}]
            if fleet is not None and fleet.multi_model is not None:  # a modelport extension (not in boto3's model)
                summary["LoadedModels"] = fleet.multi_model.describe()
            if fleet is not None and fleet.unhealthy:
                summary["VariantStatus"] = [{"Status": "Updating", "StatusMessage": fleet.unhealthy,
                                             "StartTime": row["modified"]}]
            elif row["status"] in ("Creating", "SystemUpdating"):
                summary["VariantStatus"] = [{"Status": "Creating", "StartTime": row["modified"]}]
            out.append(summary)
        return out

    def op_ListEndpoints(self, params: dict[str, Any]) -> dict[str, Any]:
        rows = self.registry.list_endpoints()
        status = params.get("StatusEquals")
        items = [{"EndpointName": r["name"], "EndpointArn": r["arn"], "CreationTime": r["created"],
                  "LastModifiedTime": r["modified"], "EndpointStatus": r["status"]}
                 for r in rows if not status or r["status"] == status]
        return _page(params, items, "Endpoints", "EndpointName")

    def _in_service(self, name: str) -> dict[str, Any]:
        row = self._endpoint(name)
        if row["status"] != IN_SERVICE or name not in self.hosting.live:
            raise validation(f'Cannot update in-progress endpoint "{row["arn"]}".')
        return row

    def op_UpdateEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.require(params, "EndpointName")
        row = self._in_service(name)
        deployment_config = check.deployment_config(params.get("DeploymentConfig"))
        if deployment_config is None and params.get("RetainDeploymentConfig"):
            deployment_config = row["deployment_config"]
        config = self._config(check.require(params, "EndpointConfigName"))
        deployed = self._deployment(config)
        if params.get("RetainAllVariantProperties"):
            old = {v["VariantName"]: v for v in row["deployed"]}
            excluded = {p.get("VariantPropertyType") for p in params.get("ExcludeRetainedVariantProperties") or []}
            for variant in deployed:
                before = old.get(variant["VariantName"])
                if before is None:
                    continue
                if "DesiredWeight" not in excluded:
                    variant["InitialVariantWeight"] = before.get("InitialVariantWeight", 1.0)
                if "DesiredInstanceCount" not in excluded:
                    variant["InitialInstanceCount"] = before.get("InitialInstanceCount", 1)
        self.hosting.update(name, config["name"], deployed, deployment_config)
        return {"EndpointArn": row["arn"]}

    def op_UpdateEndpointWeightsAndCapacities(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.require(params, "EndpointName")
        changes = check.require(params, "DesiredWeightsAndCapacities")
        row = self._in_service(name)
        known = {v["VariantName"] for v in row["deployed"]}
        missing = [c.get("VariantName") for c in changes if c.get("VariantName") not in known]
        if missing:
            raise validation(f"The variant(s) {missing} are not present in endpoint \"{row['arn']}\"; it has: "
                             f"{sorted(known)}.")
        serverless = {v["VariantName"] for v in row["deployed"] if v.get("ServerlessConfig")}
        for i, change in enumerate(changes, 1):
            where = f"desiredWeightsAndCapacities.{i}.member"
            if "DesiredInstanceCount" in change and change["VariantName"] in serverless:
                raise validation(f"Variant {change['VariantName']} is serverless: it has no instance count to set "
                                 f"(its ServerlessConfig decides); pass DesiredWeight only, or UpdateEndpoint.")
            if "DesiredWeight" in change:
                check.number(change["DesiredWeight"], f"{where}.desiredWeight", 0)
            if "DesiredInstanceCount" in change:
                check.number(change["DesiredInstanceCount"], f"{where}.desiredInstanceCount", 1, integer=True)
        counts = check.variant_counts(row["deployed"])
        counts.update({c["VariantName"]: c["DesiredInstanceCount"] for c in changes if "DesiredInstanceCount" in c})
        check.instance_caps(counts, self.settings.max_instances_per_variant, self.settings.max_instances)
        self.hosting.update_weights(name, changes)
        return {"EndpointArn": row["arn"]}

    def op_DeleteEndpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = check.require(params, "EndpointName")
        row = self._endpoint(name)
        self.hosting.delete(name)
        self.registry.delete_tags(row["arn"])
        return {}

    # tags
    def _tag(self, arn: str, tags: Any) -> None:
        if tags:
            check.tags(tags)
            self.registry.set_tags(arn, tags)

    def _resource(self, arn: str) -> str:
        """Check that ``arn`` names an existing model, endpoint config, endpoint or transform job."""
        prefix = self.hosting.arn("", "")
        kind, _, name = arn[len(prefix):].partition("/") if arn.startswith(prefix) else ("", "", "")
        exists = {"model": lambda: self.registry.get_document("models", name),
                  _CONFIG: lambda: self.registry.get_document("endpoint_configs", name),
                  "endpoint": lambda: self.registry.get_endpoint(name),
                  "transform-job": lambda: self.hosting.transforms.store.get(name)}.get(kind)
        if exists is None or exists() is None:
            # names are lower-cased in ARNs; compare against stored ARNs as a fallback
            stored = {d["arn"] for d in self.registry.list_documents("models")}
            stored |= {d["arn"] for d in self.registry.list_documents("endpoint_configs")}
            stored |= {r["arn"] for r in self.registry.list_endpoints()}
            stored |= {j["arn"] for j in self.hosting.transforms.store.list()}
            if arn not in stored:
                raise validation(f"Resource {arn} does not exist; pass the ARN of a model, endpoint config, "
                                 f"endpoint or transform job (e.g. {prefix}endpoint/NAME).")
        return arn

    def op_AddTags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._resource(check.require(params, "ResourceArn"))
        self._tag(arn, check.require(params, "Tags"))
        return {"Tags": self.registry.get_tags(arn)}

    def op_ListTags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._resource(check.require(params, "ResourceArn"))
        tags = self.registry.get_tags(arn)
        limit = params.get("MaxResults", 50)
        start = _start(params.get("NextToken"))
        out: dict[str, Any] = {"Tags": tags[start:start + limit]}
        if start + limit < len(tags):
            out["NextToken"] = str(start + limit)
        return out

    def op_DeleteTags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._resource(check.require(params, "ResourceArn"))
        self.registry.delete_tags(arn, list(check.require(params, "TagKeys")))
        return {}
