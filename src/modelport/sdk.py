"""A small Python SDK in the spirit of the SageMaker Python SDK v2: ``Model(...).deploy(...)`` returns a
:class:`Predictor` with ``predict()`` and ``delete_endpoint()``.

It talks to modelport hosting through boto3 (``MODELPORT_HOSTING_URL``, with hosting's token), or to
real SageMaker when given boto3 clients, so the same notebook code runs on both. A local archive is
first copied into the store (``MODELPORT_HOME/artifacts``), as a SageMaker user uploads it to S3:

>>> from modelport import Model
>>> predictor = Model(model_data="model.tar.gz", name="mnist").deploy(endpoint_name="mnist")
>>> predictor.predict({"pixels": [0.0] * 784})
>>> predictor.delete_endpoint()
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelport.hosting.client import local_clients, wait_deleted
from modelport.hosting.deploy import (IMAGE, INSTANCE_TYPE, ROLE_ARN, deploy_archive, model_data_url, register_model,
                                      unique_name)


def _or_hosting(sm: Any, rt: Any, hosting_url: str | None) -> tuple[Any, Any]:
    """The SageMaker and runtime clients given; hosting's own (at ``hosting_url``) for one not given."""
    if sm is None or rt is None:
        local_sm, local_rt = local_clients(hosting_url)
        sm, rt = sm or local_sm, rt or local_rt
    return sm, rt


class Predictor:
    """Invokes one endpoint: ``predict`` sends JSON for Python objects and bytes/str as they are.

    ``serializer`` / ``deserializer`` may be SageMaker SDK objects (or anything with the same duck
    type: ``CONTENT_TYPE`` + ``serialize(data)``, ``ACCEPT`` + ``deserialize(stream, content_type)``),
    e.g. ``sagemaker.serializers.NumpySerializer()``; they replace the JSON defaults.
    """

    def __init__(
        self,
        endpoint_name: str,
        *,
        content_type: str = "application/json",
        accept: str = "application/json",
        serializer: Any = None,
        deserializer: Any = None,
        sagemaker_client: Any = None,
        runtime_client: Any = None,
        hosting_url: str | None = None,
    ) -> None:
        sagemaker_client, runtime_client = _or_hosting(sagemaker_client, runtime_client, hosting_url)
        self.endpoint_name = endpoint_name
        self.serializer = serializer
        self.deserializer = deserializer
        self.content_type = getattr(serializer, "CONTENT_TYPE", None) or content_type
        accepts = getattr(deserializer, "ACCEPT", None) or accept
        self.accept = accepts if isinstance(accepts, str) else ", ".join(accepts)
        self.sagemaker_client = sagemaker_client
        self.runtime_client = runtime_client

    def predict(
        self,
        data: Any,
        *,
        content_type: str | None = None,
        accept: str | None = None,
        target_variant: str | None = None,
        custom_attributes: str | None = None,
    ) -> Any:
        """Invoke the endpoint; JSON answers are decoded, anything else is returned as bytes
        (unless a serializer / deserializer was given)."""
        if self.serializer is not None:
            body = self.serializer.serialize(data)
            body = body.encode("utf-8") if isinstance(body, str) else body
        elif isinstance(data, (bytes, bytearray)):
            body = bytes(data)
        elif isinstance(data, str):
            body = data.encode("utf-8")
        else:
            if hasattr(data, "tolist"):  # numpy arrays
                data = data.tolist()
            body = json.dumps(data).encode("utf-8")
        kwargs: dict[str, Any] = {"EndpointName": self.endpoint_name, "Body": body,
                                  "ContentType": content_type or self.content_type, "Accept": accept or self.accept}
        if target_variant:
            kwargs["TargetVariant"] = target_variant
        if custom_attributes:
            kwargs["CustomAttributes"] = custom_attributes
        response = self.runtime_client.invoke_endpoint(**kwargs)
        if self.deserializer is not None:
            return self.deserializer.deserialize(response["Body"], response.get("ContentType", ""))
        payload = response["Body"].read()
        if response.get("ContentType", "").split(";")[0].strip() == "application/json":
            return json.loads(payload)
        return payload

    def endpoint_config_name(self) -> str:
        """The endpoint's current endpoint config."""
        return self.sagemaker_client.describe_endpoint(EndpointName=self.endpoint_name)["EndpointConfigName"]

    def delete_endpoint(self, delete_endpoint_config: bool = True, wait: bool = True) -> None:
        """Delete the endpoint (and by default its endpoint config), as the SageMaker SDK does."""
        config = self.endpoint_config_name() if delete_endpoint_config else None
        self.sagemaker_client.delete_endpoint(EndpointName=self.endpoint_name)
        if config:
            self.sagemaker_client.delete_endpoint_config(EndpointConfigName=config)
        if wait:
            wait_deleted(self.sagemaker_client, self.endpoint_name)

    def delete_model(self) -> None:
        """Delete the models behind the endpoint's current config."""
        config = self.sagemaker_client.describe_endpoint_config(EndpointConfigName=self.endpoint_config_name())
        for variant in config["ProductionVariants"]:
            self.sagemaker_client.delete_model(ModelName=variant["ModelName"])


class Model:
    """A model archive plus its container settings, deployable to an endpoint."""

    def __init__(
        self,
        model_data: str | Path,
        name: str | None = None,
        *,
        env: dict[str, str] | None = None,
        image_uri: str = IMAGE,
        role: str = ROLE_ARN,
        sagemaker_client: Any = None,
        runtime_client: Any = None,
        hosting_url: str | None = None,
    ) -> None:
        self.model_data = model_data_url(model_data)
        self.name = name
        self.env = dict(env or {})
        self.image_uri = image_uri
        self.role = role
        self._clients = (sagemaker_client, runtime_client)
        self.hosting_url = hosting_url

    def _sagemaker(self) -> tuple[Any, Any]:
        self._clients = _or_hosting(*self._clients, self.hosting_url)
        return self._clients

    def _fresh_name(self) -> str:
        self.name = unique_name(self.name or Path(self.model_data).name.split(".")[0] or "model")
        return self.name

    def create(self) -> str:
        """Register the model (CreateModel) under a fresh name; return the name.

        A local archive outside MODELPORT_HOME is copied to ``MODELPORT_HOME/artifacts/<name>/`` first
        (hosting serves local model data only from its allowed roots, as SageMaker serves it from S3).
        """
        sm, _ = self._sagemaker()
        register_model(sm, self._fresh_name(), self.model_data, environment=self.env, image=self.image_uri,
                       role=self.role)
        return self.name

    def deploy(
        self,
        endpoint_name: str | None = None,
        instance_count: int | None = None,
        instance_type: str = INSTANCE_TYPE,
        *,
        initial_instance_count: int | None = None,
        wait: bool = True,
        timeout: float = 600.0,
        content_type: str = "application/json",
        accept: str = "application/json",
        serializer: Any = None,
        deserializer: Any = None,
    ) -> Predictor:
        """Create model, endpoint config and endpoint (or update an existing endpoint blue/green).

        ``initial_instance_count`` is the SageMaker SDK v2 spelling of ``instance_count`` (default 1).
        The steps are :func:`modelport.hosting.deploy.deploy_archive`'s; an update that was rolled
        back raises its ``DeployError`` (a RuntimeError).
        """
        sm, rt = self._sagemaker()
        model_name = self._fresh_name()
        endpoint_name = endpoint_name or model_name
        deploy_archive(sm, self.model_data, endpoint_name, model=model_name,
                       instances=instance_count or initial_instance_count or 1, instance_type=instance_type,
                       environment=self.env, image=self.image_uri, role=self.role, wait=wait, timeout=timeout)
        return Predictor(endpoint_name, content_type=content_type, accept=accept, serializer=serializer,
                         deserializer=deserializer, sagemaker_client=sm, runtime_client=rt)
