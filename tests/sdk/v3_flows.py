"""SageMaker Python SDK v3 flows against modelport hosting, run unmodified in the v3 venv.

Usage: python v3_flows.py ARCHIVES_DIR. The environment is what `modelport env` prints. Each step prints
``RESULT {"step": …, …}``. v3's model-deploy path for an existing archive is ModelBuilder with
``s3_model_data_url`` + ``image_uri`` (build() resolves the role through IAM), deploy(wait=False), then
``Endpoint.wait_for_status`` with a short poll (deploy's own wait polls every 30 s).
"""

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from botocore.exceptions import ClientError
from sagemaker.core import image_uris
from sagemaker.core.deserializers import CSVDeserializer, JSONDeserializer, NumpyDeserializer
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.resources import EndpointConfig
from sagemaker.core.serializers import CSVSerializer, JSONSerializer, NumpySerializer
from sagemaker.core.shapes import ProductionVariant
from sagemaker.core.training.configs import SourceCode
from sagemaker.serve.model_builder import ModelBuilder

ROLE = "arn:aws:iam::123456789012:role/modelport-local"
INSTANCE = "ml.m5.large"
POLL = 1  # wait_for_status takes whole seconds


def report(step, **values):
    print("\nRESULT " + json.dumps({"step": step, **values}), flush=True)


def unique(name):
    return f"{name}-{time.time_ns() % 10**9}"


def invoke(endpoint, data, serializer, deserializer):
    response = endpoint.invoke(body=serializer.serialize(data), content_type=serializer.CONTENT_TYPE,
                               accept=deserializer.ACCEPT[0])
    value = deserializer.deserialize(response.body, response.content_type)
    return value.tolist() if isinstance(value, np.ndarray) else value


def main(archives, scratch):
    session = Session()
    bucket = session.default_bucket()
    uri = session.upload_data(str(archives / "scaler.tar.gz"), key_prefix="v3/scaler")
    fetched = session.download_data(str(scratch / "downloaded"), bucket, key_prefix="v3/scaler")
    report("s3", bucket=bucket, uri=uri,
           same=hashlib.sha256(Path(fetched[0]).read_bytes()).digest() == hashlib.sha256(
               (archives / "scaler.tar.gz").read_bytes()).digest())

    sklearn = image_uris.retrieve("sklearn", session.boto_region_name, version="1.2-1")
    builder = ModelBuilder(s3_model_data_url=uri, image_uri=sklearn, role_arn=ROLE, instance_type=INSTANCE,
                           sagemaker_session=session)
    model = builder.build()
    name = unique("v3-model")
    endpoint = builder.deploy(endpoint_name=name, initial_instance_count=1, wait=False)
    endpoint.wait_for_status("InService", poll=POLL)
    data = [[1.0, 2.0], [3.0, 4.0]]
    report("model_builder", model=model.model_name, endpoint=name, answers={
        "json": invoke(endpoint, data, JSONSerializer(), JSONDeserializer()),
        "csv": invoke(endpoint, data, CSVSerializer(), CSVDeserializer()),
        "numpy": invoke(endpoint, np.array(data), NumpySerializer(), NumpyDeserializer()),
    })

    # ModelBuilder with source code and a PyTorch image: it repacks the archive with code/ and uploads it
    pytorch = image_uris.retrieve("pytorch", session.boto_region_name, version="2.1", py_version="py310",
                                  instance_type=INSTANCE, image_scope="inference")
    weights = session.upload_data(str(archives / "weights.tar.gz"), key_prefix="v3/weights")
    repacking = ModelBuilder(s3_model_data_url=weights, image_uri=pytorch, role_arn=ROLE, instance_type=INSTANCE,
                             sagemaker_session=session,
                             source_code=SourceCode(source_dir=str(archives / "source"), entry_script="entry.py"))
    repacked = repacking.build()

    # a blue/green update of the running endpoint to the repacked model (v3 resources)
    config = EndpointConfig.create(endpoint_config_name=unique("v3-config"), production_variants=[ProductionVariant(
        variant_name="AllTraffic", model_name=repacked.model_name, initial_instance_count=1, instance_type=INSTANCE)])
    endpoint.endpoint_config_name = config.endpoint_config_name  # v3 resources update from their own fields
    endpoint.update()
    endpoint.wait_for_status("InService", poll=POLL)
    endpoint.refresh()
    report("update", model_data=repacked.primary_container.model_data_url, repacked_from=weights,
           config=endpoint.endpoint_config_name, expected_config=config.endpoint_config_name,
           answer=invoke(endpoint, [[1.0, 2.0]], JSONSerializer(), JSONDeserializer()))
    endpoint.delete()

    try:
        session.sagemaker_client.list_model_packages()
        report("unknown_operation", raised=False)
    except ClientError as exc:
        report("unknown_operation", raised=True, code=exc.response["Error"]["Code"],
               message=exc.response["Error"]["Message"])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path.cwd())
