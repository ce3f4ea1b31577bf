"""SageMaker Python SDK v2 flows against modelport hosting, run unmodified in the v2 venv.

Usage: python v2_flows.py flows ARCHIVES_DIR | persist-before ARCHIVES_DIR | persist-after ARCHIVES_DIR
The environment is what `modelport env` prints. Each step prints ``RESULT {"step": …, …}``; the test
asserts on those. Endpoint waits use the SDK's own waiter with a short poll
(``deploy(wait=False)`` then ``Session.wait_for_endpoint(name, poll=…)``; the default poll is 30 s).
"""

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import sagemaker
from botocore.exceptions import ClientError
from sagemaker import image_uris
from sagemaker.deserializers import CSVDeserializer, JSONDeserializer, NumpyDeserializer
from sagemaker.predictor import Predictor
from sagemaker.pytorch import PyTorchModel
from sagemaker.serializers import CSVSerializer, JSONSerializer, NumpySerializer
from sagemaker.sklearn import SKLearnModel

ROLE = "arn:aws:iam::123456789012:role/modelport-local"
INSTANCE = "ml.m5.large"
POLL = 0.25


def report(step, **values):
    print("RESULT " + json.dumps({"step": step, **values}), flush=True)


def unique(name):
    return f"{name}-{time.time_ns() % 10**9}"


def sklearn_image(session):
    return image_uris.retrieve("sklearn", session.boto_region_name, version="1.2-1")


def deploy(model, session, name, **kwargs):
    """Model.deploy without the SDK's 30 s poll, then the SDK's waiter with a short poll."""
    predictor = model.deploy(initial_instance_count=1, instance_type=INSTANCE, endpoint_name=name, wait=False, **kwargs)
    session.wait_for_endpoint(name, poll=POLL)
    return predictor


def container_role(session, model_name):
    return session.sagemaker_client.describe_model(ModelName=model_name)["ExecutionRoleArn"]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def flows(archives, scratch):
    session = sagemaker.Session()
    bucket = session.default_bucket()
    report("default_bucket", bucket=bucket)

    # upload_data / list_s3_files / download_data
    scaler_uri = session.upload_data(str(archives / "scaler.tar.gz"), key_prefix="v2/scaler")
    listed = session.list_s3_files(bucket, "v2/")
    fetched = session.download_data(str(scratch / "downloaded"), bucket, key_prefix="v2/scaler")
    report("s3", uri=scaler_uri, listed=listed, downloaded=[Path(p).name for p in fetched],
           same=sha256(fetched[0]) == sha256(archives / "scaler.tar.gz"))

    # sagemaker.Model(image_uri, model_data, role).deploy() -> predict with the SDK's codecs
    model = sagemaker.Model(image_uri=sklearn_image(session), model_data=scaler_uri, role=ROLE,
                            predictor_cls=Predictor, sagemaker_session=session)
    name = unique("v2-model")
    predictor = deploy(model, session, name, serializer=JSONSerializer(), deserializer=JSONDeserializer())
    answers = {"json": predictor.predict([[1.0, 2.0], [3.0, 4.0]])}
    predictor.serializer, predictor.deserializer = CSVSerializer(), CSVDeserializer()
    answers["csv"] = predictor.predict([[1.0, 2.0], [3.0, 4.0]])
    predictor.serializer, predictor.deserializer = NumpySerializer(), NumpyDeserializer()
    answers["numpy"] = predictor.predict(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    report("model_predict", endpoint=name, answers=answers,
           status=session.sagemaker_client.describe_endpoint(EndpointName=name)["EndpointStatus"])

    # Predictor(endpoint_name=...) attached to the running endpoint, then update_endpoint with a new model
    attached = Predictor(endpoint_name=name, sagemaker_session=session, serializer=JSONSerializer(),
                         deserializer=JSONDeserializer())
    before = attached.predict([[1.0]])
    newer = sagemaker.Model(image_uri=sklearn_image(session), role=ROLE, sagemaker_session=session,
                            model_data=session.upload_data(str(archives / "scaler-v2.tar.gz"), key_prefix="v2/scaler-v2"))
    newer.create(instance_type=INSTANCE)
    attached.update_endpoint(model_name=newer.name, initial_instance_count=1, instance_type=INSTANCE, wait=False)
    session.wait_for_endpoint(name, poll=POLL)
    described = session.sagemaker_client.describe_endpoint(EndpointName=name)
    report("update_endpoint", before=before, after=attached.predict([[1.0]]), status=described["EndpointStatus"],
           config=described["EndpointConfigName"])
    attached.delete_endpoint()
    attached.delete_model()
    session.sagemaker_client.get_waiter("endpoint_deleted").wait(
        EndpointName=name, WaiterConfig={"Delay": POLL, "MaxAttempts": 240})
    try:
        session.sagemaker_client.describe_model(ModelName=newer.name)
        model_gone = False
    except ClientError as exc:
        model_gone = "Could not find model" in exc.response["Error"]["Message"]
    report("delete_endpoint", endpoints=[e["EndpointName"] for e in session.sagemaker_client.list_endpoints()["Endpoints"]],
           model_gone=model_gone)

    # SKLearnModel(entry_point, source_dir): uploads sourcedir.tar.gz, SAGEMAKER_SUBMIT_DIRECTORY=s3://...
    weights_uri = session.upload_data(str(archives / "weights.tar.gz"), key_prefix="v2/weights")
    sk_model = SKLearnModel(model_data=weights_uri, role="modelport-local", entry_point="entry.py",
                            source_dir=str(archives / "source"), framework_version="1.2-1", sagemaker_session=session)
    name = unique("v2-sklearn")
    predictor = deploy(sk_model, session, name, serializer=JSONSerializer(), deserializer=JSONDeserializer())
    container = session.sagemaker_client.describe_model(ModelName=sk_model.name)["PrimaryContainer"]
    report("sklearn_model", answer=predictor.predict([[1.0, 2.0]]), role=container_role(session, sk_model.name),
           submit_directory=container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"],
           model_data=container["ModelDataUrl"])
    predictor.delete_endpoint()

    # PyTorchModel(entry_point): the SDK repacks the archive with code/ and uploads it again
    pt_model = PyTorchModel(model_data=weights_uri, role=ROLE, entry_point="entry.py", source_dir=str(archives / "source"),
                            framework_version="2.1", py_version="py310", sagemaker_session=session)
    name = unique("v2-pytorch")
    predictor = deploy(pt_model, session, name, serializer=JSONSerializer(), deserializer=JSONDeserializer())
    container = session.sagemaker_client.describe_model(ModelName=pt_model.name)["PrimaryContainer"]
    report("pytorch_model", answer=predictor.predict([[1.0, 2.0]]), image=container["Image"],
           model_data=container["ModelDataUrl"], repacked_from=weights_uri)
    predictor.delete_endpoint()

    # a PyTorch image with a TorchScript model.pt and no code: the image's default handlers serve it
    torch_model = sagemaker.Model(
        image_uri=image_uris.retrieve("pytorch", session.boto_region_name, version="2.1", py_version="py310",
                                      instance_type=INSTANCE, image_scope="inference"),
        model_data=session.upload_data(str(archives / "torchscript.tar.gz"), key_prefix="v2/torchscript"),
        role=ROLE, predictor_cls=Predictor, sagemaker_session=session)
    name = unique("v2-torchscript")
    predictor = deploy(torch_model, session, name, serializer=JSONSerializer(), deserializer=JSONDeserializer())
    report("torchscript", answer=predictor.predict([[1.0, 2.0]]))
    predictor.delete_endpoint()

    # an operation hosting does not have: SageMaker's UnknownOperationException naming it
    try:
        session.sagemaker_client.list_model_packages()
        report("unknown_operation", raised=False)
    except ClientError as exc:
        report("unknown_operation", raised=True, code=exc.response["Error"]["Code"],
               message=exc.response["Error"]["Message"], status=exc.response["ResponseMetadata"]["HTTPStatusCode"])


def persist_before(archives, scratch):
    session = sagemaker.Session()
    started = time.monotonic()
    uri = session.upload_data(str(archives / "big.tar.gz"), key_prefix="persist")  # 20 MB: multipart
    uploaded = time.monotonic() - started
    head = session.boto_session.client("s3").head_object(Bucket=session.default_bucket(), Key="persist/big.tar.gz")
    model = sagemaker.Model(image_uri=sklearn_image(session), model_data=uri, role=ROLE, predictor_cls=Predictor,
                            sagemaker_session=session, name="persist-model")
    predictor = deploy(model, session, "persist", serializer=JSONSerializer(), deserializer=JSONDeserializer())
    report("persist_before", uri=uri, etag=head["ETag"], size=head["ContentLength"], upload_seconds=uploaded,
           answer=predictor.predict([[1.0, 2.0]]))


def persist_after(archives, scratch):
    session = sagemaker.Session()
    session.wait_for_endpoint("persist", poll=POLL)  # restored by hosting after its restart
    predictor = Predictor(endpoint_name="persist", sagemaker_session=session, serializer=JSONSerializer(),
                          deserializer=JSONDeserializer())
    fetched = session.download_data(str(scratch / "after"), session.default_bucket(), key_prefix="persist/big.tar.gz")
    report("persist_after", answer=predictor.predict([[1.0, 2.0]]),
           listed=session.list_s3_files(session.default_bucket(), "persist/"),
           same=sha256(fetched[0]) == sha256(archives / "big.tar.gz"))
    predictor.delete_endpoint()


if __name__ == "__main__":
    phase, archives = sys.argv[1], Path(sys.argv[2])
    scratch = Path.cwd()
    {"flows": flows, "persist-before": persist_before, "persist-after": persist_after}[phase](archives, scratch)
