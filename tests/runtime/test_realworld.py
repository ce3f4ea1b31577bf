"""Real-world SageMaker inference scripts, reproduced.

Each test serves a script written in the pattern of a published one (named in the test) through a
real ``modelport serve`` process, with a small model built here, and sends what that project's own
tests or notebook send. The last tests port the behaviour tables of the toolkits' unit tests
(decoders, encoders, Accept handling, context injection, error statuses) to HTTP.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import joblib
import numpy as np
import pytest
import scipy.sparse
import torch

from tests.helpers.realworld import from_npy, npy, parse_answer, sdk_csv, sdk_tarball
from tests.helpers.runtime import ModelServer, write_model

JSON, CSV, NPY, NPZ = "application/json", "text/csv", "application/x-npy", "application/x-npz"

# The network of SageMaker's PyTorch MNIST test scripts, smaller: a convolution, dropout, a linear
# layer and log-softmax. Dropout makes the output random unless the default predict_fn calls eval().
NET_SOURCE = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 4, kernel_size=5)
        self.conv1_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1_drop(self.conv1(x)), 2))
        x = x.view(-1, 4 * 12 * 12)
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc1(x), dim=1)


class Net1D(Net):
    def forward(self, x):
        return super(Net1D, self).forward(x.view(x.shape[0], 1, 28, 28))
"""


def _net_classes() -> dict:
    namespace: dict = {}
    exec(NET_SOURCE, namespace)  # the very classes the served scripts define
    return namespace


def _data_parallel_state_dict(path: Path, net: torch.nn.Module) -> None:
    # Saved as the PyTorch toolkit's test model was: a DataParallel state dict ("module." keys) in
    # torch's legacy (pre-zip) format.
    torch.save(torch.nn.DataParallel(net).state_dict(), path, _use_new_zipfile_serialization=False)


def _mnist_batch(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 28, 28), dtype=np.float32)
    return (images - 0.1307) / 0.3081  # normalised as the toolkit's MNIST loader does


def _expected(net: torch.nn.Module, batch: np.ndarray) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return net(torch.from_numpy(batch)).numpy()


def _body(batch: np.ndarray, content_type: str) -> bytes | str:
    if content_type == JSON:
        return json.dumps(batch.tolist())
    if content_type == CSV:
        return sdk_csv(batch)
    return npy(batch)


# --- PT test/resources/mnist/model_cpu/code/mnist.py --------------------------------------------

MNIST_SCRIPT = NET_SOURCE + """
import logging
import os
import sys

logger = logging.getLogger(__name__)
logger.setLevel(logging.DEBUG)
logger.addHandler(logging.StreamHandler(sys.stdout))


def model_fn(model_dir):
    logger.info("model_fn")
    model = torch.nn.DataParallel(Net())
    with open(os.path.join(model_dir, "torch_model.pth"), "rb") as f:
        model.load_state_dict(torch.load(f))
    return model
"""


@pytest.fixture(scope="module")
def mnist_server(tmp_path_factory):
    """mnist.py as the PyTorch toolkit packs it: code/mnist.py + torch_model.pth in a tar.gz."""
    root = tmp_path_factory.mktemp("mnist")
    torch.manual_seed(0)
    net = _net_classes()["Net"]()
    model_dir = write_model(root / "model", MNIST_SCRIPT, name="mnist.py")
    _data_parallel_state_dict(model_dir / "torch_model.pth", net)
    archive = sdk_tarball(model_dir, root / "model.tar.gz")
    with ModelServer(archive, env={"SAGEMAKER_PROGRAM": "mnist.py"}, home=root / "home") as server:
        yield server, net


@pytest.mark.parametrize("content_type", [JSON, NPY])
@pytest.mark.parametrize("accept", [JSON, CSV, NPY])
def test_data_parallel_state_dict_with_model_fn_only(mnist_server, content_type, accept):
    """PT test_mnist_serving.py: json/npy in x json/csv/npy out, an output of shape (batch, 10)."""
    server, net = mnist_server
    batch = _mnist_batch(6, seed=1)
    response = server.post(_body(batch, content_type), content_type=content_type, accept=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == accept
    answer = parse_answer(response.content, accept)
    assert answer.shape == (6, 10)
    # Equal to the network in eval mode: the default predict_fn switched dropout off.
    np.testing.assert_allclose(answer, _expected(net, batch), rtol=1e-4, atol=1e-5)


# --- PT test/resources/mnist/model_cpu/1d/code/mnist_1d.py --------------------------------------

MNIST_1D_SCRIPT = NET_SOURCE + """
import os


def model_fn(model_dir):
    model = torch.nn.DataParallel(Net1D())
    with open(os.path.join(model_dir, "torch_model.pth"), "rb") as f:
        model.load_state_dict(torch.load(f))
    return model
"""


@pytest.fixture(scope="module")
def mnist_1d_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist1d")
    torch.manual_seed(1)
    net = _net_classes()["Net1D"]()
    model_dir = write_model(root / "model", MNIST_1D_SCRIPT, name="mnist_1d.py")
    _data_parallel_state_dict(model_dir / "torch_model.pth", net)
    with ModelServer(model_dir, env={"SAGEMAKER_PROGRAM": "mnist_1d"}, home=root / "home") as server:
        yield server, net


@pytest.mark.parametrize("accept", [JSON, CSV, NPY])
def test_csv_rows_of_784_values(mnist_1d_server, accept):
    """PT test_serve_csv: rows of 784 floats (a batch flattened by .view(batch, -1)) as CSV."""
    server, net = mnist_1d_server
    rows = _mnist_batch(5, seed=2).reshape(5, 784)
    response = server.post(sdk_csv(rows), content_type=CSV, accept=accept)
    assert response.status_code == 200, response.text
    answer = parse_answer(response.content, accept)
    assert answer.shape == (5, 10)
    # str() of each float32 value goes over the wire, so allow a little rounding.
    np.testing.assert_allclose(answer, _expected(net, rows), rtol=1e-3, atol=1e-4)


# --- PT test/resources/mnist/model_cpu/code/call_model_fn_once.py -------------------------------

CALL_MODEL_FN_ONCE_SCRIPT = """
import os


def model_fn(model_dir):
    lock_file = os.path.join(model_dir, 'model_fn.lock.{}'.format(os.getpid()))
    if os.path.exists(lock_file):
        raise RuntimeError('model_fn called more than once (lock: {})'.format(lock_file))

    open(lock_file, 'a').close()

    return 'model'


def input_fn(data, content_type):
    return data


def predict_fn(data, model):
    return b'output'


def output_fn(prediction, accept):
    return prediction
"""


def test_model_fn_runs_once_per_worker_with_two_workers(tmp_path):
    """PT test_serving_calls_model_fn_once: 2 workers, raw bytes in, b'output' out, never a 500."""
    model_dir = write_model(tmp_path / "once", CALL_MODEL_FN_ONCE_SCRIPT, name="call_model_fn_once.py")
    env = {"SAGEMAKER_PROGRAM": "call_model_fn_once.py"}
    with ModelServer(model_dir, workers=2, env=env, home=tmp_path / "home") as server:
        answers = []
        for _ in range(12):  # a new connection each time, so both workers answer
            response = httpx.post(server.url + "/invocations", content=b"input", headers={"Content-Type": NPY, "Accept": "*/*"})
            answers.append((response.status_code, response.content, response.headers["content-type"]))
        children = set(server.worker_pids())
    assert answers == [(200, b"output", JSON)] * 12  # a bare body goes out as the default Accept
    locks = {int(p.name.rsplit(".", 1)[1]) for p in model_dir.glob("model_fn.lock.*")}
    assert len(locks) == 2 and locks <= children  # one model_fn per worker process, none in the supervisor


# --- EX archived/scikit_learn_iris/scikit_learn_iris.py ----------------------------------------

IRIS_SCRIPT = """
from __future__ import print_function

import argparse
import os

import joblib
from sklearn import tree

if __name__ == "__main__":
    # Training only: SageMaker sets these variables in the training job, never when serving.
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_leaf_nodes", type=int, default=-1)
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    raise SystemExit("training is not part of this test")


def model_fn(model_dir):
    clf = joblib.load(os.path.join(model_dir, "model.joblib"))
    return clf
"""


@pytest.fixture(scope="module")
def iris_server(tmp_path_factory):
    """The iris example: a DecisionTreeClassifier on iris.csv (label first, '%1.1f, %1.3f, ...')."""
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    root = tmp_path_factory.mktemp("iris")
    iris = load_iris()
    table = np.column_stack([iris.target.astype(float), iris.data])
    buffer = io.StringIO()
    np.savetxt(buffer, table, delimiter=",", fmt="%1.1f, %1.3f, %1.3f, %1.3f, %1.3f")  # as the notebook writes it
    lines = buffer.getvalue().splitlines()
    data = np.genfromtxt(io.StringIO(buffer.getvalue()), delimiter=",")
    clf = DecisionTreeClassifier(max_leaf_nodes=30, random_state=0).fit(data[:, 1:], data[:, 0])
    model_dir = write_model(root / "model", IRIS_SCRIPT, name="scikit_learn_iris.py")
    joblib.dump(clf, model_dir / "model.joblib")
    archive = sdk_tarball(model_dir, root / "model.tar.gz")
    with ModelServer(archive, env={"SAGEMAKER_PROGRAM": "scikit_learn_iris.py"}, home=root / "home") as server:
        yield server, data, lines


def _notebook_test_rows(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    indices = [50 * i + 40 + j for i in range(3) for j in range(10)][:-1]  # the notebook's 29 rows
    return data[indices, 1:], data[indices, 0]


def test_iris_numpy_predictor_round_trip(iris_server):
    """The notebook's predictor.predict(test_X.values): SKLearnPredictor sends and reads NPY."""
    server, data, _ = iris_server
    features, labels = _notebook_test_rows(data)
    response = server.post(npy(features), content_type=NPY, accept=NPY)
    assert response.status_code == 200 and response.headers["content-type"] == NPY
    assert from_npy(response.content).tolist() == labels.tolist()


@pytest.mark.parametrize("content_type", [JSON, CSV])
@pytest.mark.parametrize("accept", [JSON, CSV, NPY, "*/*"])
def test_iris_default_codecs(iris_server, content_type, accept):
    server, data, _ = iris_server
    features, labels = _notebook_test_rows(data)
    response = server.post(_body(features, content_type), content_type=content_type, accept=accept)
    answered_type = JSON if accept == "*/*" else accept
    assert response.status_code == 200 and response.headers["content-type"] == answered_type
    assert parse_answer(response.content, answered_type).tolist() == labels.tolist()


def test_iris_batch_transform_file(iris_server):
    """The notebook's batch transform: `cut -d',' -f2-` of iris.csv, so values keep ', ' spacing."""
    server, data, lines = iris_server
    sample = [lines[i] for i in range(0, 150, 3)]
    body = "\n".join(line.split(",", 1)[1] for line in sample) + "\n"
    response = server.post(body, content_type=CSV)
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    assert response.json() == [float(line.split(",", 1)[0]) for line in sample]


# --- EX deploy_and_monitor/sm-inference_pipeline_with_scikit_linear_learner/sklearn_abalone_featurizer.py

FEATURIZER_SCRIPT = """
import csv
import json
import os
from io import StringIO

import joblib
import numpy as np
from sagemaker_containers.beta.framework import content_types, encoders, env, worker

feature_columns_names = ["length", "diameter", "height", "whole_weight"]
label_column = "rings"


def input_fn(input_data, content_type):
    if content_type == "text/csv":
        rows = [[float(v) for v in row] for row in csv.reader(StringIO(input_data)) if row]
        if len(rows[0]) == len(feature_columns_names) + 1:
            return {"labels": [row[-1] for row in rows], "features": np.array([row[:-1] for row in rows])}
        return {"labels": None, "features": np.array(rows)}
    else:
        raise ValueError("{} not supported by script!".format(content_type))


def output_fn(prediction, accept):
    if accept == "application/json":
        instances = []
        for row in prediction.tolist():
            instances.append({"features": row})
        json_output = {"instances": instances}
        return worker.Response(json.dumps(json_output), mimetype=accept)
    elif accept == "text/csv":
        return worker.Response(encoders.encode(prediction, accept), mimetype=accept)
    else:
        raise RuntimeError("{} accept type is not supported by this script.".format(accept))


def predict_fn(input_data, model):
    features = model.transform(input_data["features"])
    if input_data["labels"] is not None:
        return np.insert(features, 0, input_data["labels"], axis=1)
    return features


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


@pytest.fixture(scope="module")
def featurizer_server(tmp_path_factory):
    """An inference-pipeline featurizer: StandardScaler.transform, answers via worker.Response."""
    from sklearn.preprocessing import StandardScaler

    root = tmp_path_factory.mktemp("featurizer")
    training = np.random.default_rng(3).uniform(0.05, 1.0, (80, 4))
    scaler = StandardScaler().fit(training)
    model_dir = write_model(root / "model", FEATURIZER_SCRIPT, name="sklearn_abalone_featurizer.py")
    joblib.dump(scaler, model_dir / "model.joblib")
    env = {"SAGEMAKER_PROGRAM": "sklearn_abalone_featurizer.py"}
    with ModelServer(model_dir, env=env, home=root / "home") as server:
        yield server, scaler, training[:3]


def test_featurizer_labelled_rows_as_json_instances(featurizer_server):
    server, scaler, rows = featurizer_server
    labelled = np.column_stack([rows, [7, 9, 11]])
    response = server.post(sdk_csv(labelled), content_type=CSV, accept=JSON)
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    instances = [item["features"] for item in response.json()["instances"]]
    expected = np.insert(scaler.transform(rows), 0, [7, 9, 11], axis=1)
    np.testing.assert_allclose(instances, expected)


def test_featurizer_unlabelled_rows_as_csv_for_the_next_container(featurizer_server):
    server, scaler, rows = featurizer_server
    response = server.post(sdk_csv(rows), content_type=CSV, accept=CSV)
    assert response.status_code == 200 and response.headers["content-type"] == CSV
    answer = np.array([[float(v) for v in line] for line in csv.reader(io.StringIO(response.text))])
    np.testing.assert_allclose(answer, scaler.transform(rows))


def test_featurizer_refusals_are_server_errors_with_the_message(featurizer_server):
    server, _, rows = featurizer_server
    wrong_type = server.post(json.dumps(rows.tolist()), content_type=JSON, accept=JSON)
    assert wrong_type.status_code == 500
    assert "application/json not supported by script!" in wrong_type.json()["message"]
    wrong_accept = server.post(sdk_csv(rows), content_type=CSV, accept=NPY)
    assert wrong_accept.status_code == 500
    assert "application/x-npy accept type is not supported" in wrong_accept.json()["message"]


# --- EX archived/pytorch/code/inference.py (JSON {"inputs": ...} and asserted content types) -----

JSON_INPUTS_SCRIPT = NET_SOURCE + """
import json
import os

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_fn(model_dir):
    model = Net()
    with open(os.path.join(model_dir, "model.pth"), "rb") as f:
        model.load_state_dict(torch.load(f))
    model.to(device).eval()
    return model


def input_fn(request_body, request_content_type):
    assert request_content_type == "application/json"
    data = json.loads(request_body)["inputs"]
    data = torch.tensor(data, dtype=torch.float32, device=device)
    return data


def predict_fn(input_object, model):
    with torch.no_grad():
        prediction = model(input_object)
    return prediction


def output_fn(predictions, content_type):
    assert content_type == "application/json"
    res = predictions.cpu().numpy().tolist()
    return json.dumps(res)
"""


def test_json_inputs_script_with_asserted_content_types(tmp_path):
    torch.manual_seed(2)
    net = _net_classes()["Net"]()
    model_dir = write_model(tmp_path / "model", JSON_INPUTS_SCRIPT)
    torch.save(net.state_dict(), model_dir / "model.pth")
    batch = _mnist_batch(3, seed=4)
    body = json.dumps({"inputs": batch.tolist()})
    with ModelServer(model_dir, home=tmp_path / "home") as server:
        # No Accept and */* both reach output_fn as the default, application/json.
        answers = [server.post(body, accept=accept) for accept in (None, "*/*", JSON)]
        refused = server.post(body, accept=CSV)
    for response in answers:
        assert response.status_code == 200 and response.headers["content-type"] == JSON
        np.testing.assert_allclose(response.json(), _expected(net, batch), rtol=1e-4, atol=1e-5)
    assert refused.status_code == 500 and "AssertionError" in refused.json()["message"]


# --- EX archived/sagemaker-script-mode/pytorch_script/train_deploy_pytorch_without_dependencies.py

MODEL_DEF_SCRIPT = """
import torch
import torch.nn as nn


class NeuralNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 1)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def get_model():
    return NeuralNet()
"""

TRAIN_DEPLOY_SCRIPT = """
import argparse
import json
import os

import torch
from pytorch_model_def import get_model
from sagemaker_training import environment


def parse_args():
    env = environment.Environment()
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=env.num_cpus)
    parser.add_argument("--model_dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
    return parser.parse_known_args()


def model_fn(model_dir):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = get_model()
    model.load_state_dict(torch.load(model_dir + "/model.pth"))
    model.eval()
    return model.to(device)


def input_fn(request_body, request_content_type):
    if request_content_type == "application/json":
        request = json.loads(request_body)
        train_inputs = torch.tensor(request)
        return train_inputs


def predict_fn(input_data, model):
    model.eval()
    with torch.no_grad():
        return model(input_data.float()).numpy()[0]


if __name__ == "__main__":
    args, _ = parse_args()
    raise SystemExit("training is not part of this test")
"""


def test_training_script_with_a_sibling_module_and_a_numpy_scalar_answer(tmp_path):
    """Train-and-deploy script: imports its model definition from code/, returns a NumPy scalar."""
    model_dir = write_model(tmp_path / "model", TRAIN_DEPLOY_SCRIPT, name="train_deploy_pytorch_without_dependencies.py")
    (model_dir / "code" / "pytorch_model_def.py").write_text(MODEL_DEF_SCRIPT)
    namespace: dict = {}
    exec(MODEL_DEF_SCRIPT, namespace)
    torch.manual_seed(3)
    net = namespace["get_model"]()
    torch.save(net.state_dict(), model_dir / "model.pth")
    house = np.random.default_rng(6).standard_normal(8).tolist()  # one standardised row, as the notebook sends
    env = {"SAGEMAKER_PROGRAM": "train_deploy_pytorch_without_dependencies.py"}
    with ModelServer(model_dir, env=env, home=tmp_path / "home") as server:
        response = server.post(json.dumps(house), accept=JSON)
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    with torch.no_grad():
        expected = float(net(torch.tensor(house).float())[0])
    assert isinstance(response.json(), float)
    assert response.json() == pytest.approx(expected, rel=1e-6)


# --- Ported: sagemaker-inference-toolkit test_decoder / test_encoder / test_default_inference_handler

IDENTITY_SCRIPT = """
def model_fn(model_dir):
    return None


def predict_fn(data, model):
    return data.toarray() if hasattr(data, "toarray") else data
"""


@pytest.fixture(scope="module")
def codec_server(tmp_path_factory):
    """Default input_fn/output_fn around an identity predict_fn; the default Accept is CSV."""
    root = tmp_path_factory.mktemp("codecs")
    model_dir = write_model(root / "model", IDENTITY_SCRIPT)
    env = {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": CSV}
    with ModelServer(model_dir, env=env, home=root / "home") as server:
        yield server


@pytest.mark.parametrize(
    "body, expected",
    [
        ("[42, 6, 9]", [42, 6, 9]),
        ("[42.0, 6.0, 9.0]", [42.0, 6.0, 9.0]),
        ('["42", "6", "9"]', ["42", "6", "9"]),
        ('{"42": {"6": 9.0}}', {"42": {"6": 9.0}}),
    ],
)
def test_json_decodes_and_encodes_like_the_toolkit(codec_server, body, expected):
    response = codec_server.post(body, content_type=JSON, accept=JSON)
    assert response.status_code == 200 and response.json() == expected
    assert type(response.json()) is type(expected)


@pytest.mark.parametrize(
    "body, content_type, expected",
    [
        ("[42, 6, 9]", JSON, "42\n6\n9\n"),
        ("[42.0, 6.0, 9.0]", JSON, "42.0\n6.0\n9.0\n"),
        ('["42", "6", "9"]', JSON, "42\n6\n9\n"),
        ("42\n6\n9\n", CSV, "42.0\n6.0\n9.0\n"),  # CSV decodes to floats, as np.genfromtxt does
        ("1,2,3\n4,5,6\n", CSV, "1.0,2.0,3.0\n4.0,5.0,6.0\n"),
    ],
)
def test_csv_encodes_like_the_toolkit(codec_server, body, content_type, expected):
    response = codec_server.post(body, content_type=content_type, accept=CSV)
    assert response.status_code == 200 and response.headers["content-type"] == CSV
    assert response.text == expected


@pytest.mark.parametrize("target", [[42, 6, 9], [42.0, 6.0, 9.0], ["42", "6", "9"], [[1.5, 2.5], [3.5, 4.5]]])
def test_npy_round_trip(codec_server, target):
    response = codec_server.post(npy(target), content_type=NPY, accept=NPY)
    assert response.status_code == 200 and response.headers["content-type"] == NPY
    np.testing.assert_equal(from_npy(response.content), np.array(target))
    as_json = codec_server.post(npy(target), content_type=NPY, accept=JSON)
    assert as_json.json() == np.array(target).tolist()


@pytest.mark.parametrize("kind", ["csc", "csr", "coo"])
def test_npz_decodes_to_a_sparse_matrix(codec_server, kind):
    dense = np.array([[0, 0, 3], [4, 0, 0]])
    buffer = io.BytesIO()
    scipy.sparse.save_npz(buffer, getattr(scipy.sparse, f"{kind}_matrix")(dense))
    response = codec_server.post(buffer.getvalue(), content_type=NPZ, accept=JSON)
    assert response.status_code == 200 and response.json() == dense.tolist()


@pytest.mark.parametrize(
    "accept, answered",
    [
        ("text/csv", CSV),
        ("text/csv, application/json", CSV),
        ("application/json,text/csv", JSON),
        ("unsupported/type, text/csv", CSV),
        (None, CSV),  # no Accept: SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT
        ("*/*", CSV),  # */* alone: the default too
    ],
)
def test_default_output_fn_picks_the_first_supported_accept(codec_server, accept, answered):
    response = codec_server.post("[2]", content_type=JSON, accept=accept)
    assert response.status_code == 200 and response.headers["content-type"] == answered
    assert parse_answer(response.content, answered).tolist() in (2, [2])


def test_unsupported_content_type_and_accept(codec_server):
    assert codec_server.post(b"\x00\x01", content_type="application/octet-stream").status_code == 415
    assert codec_server.post("[1]", content_type=JSON, accept="application/not_supported").status_code == 406


# --- Ported: sagemaker-pytorch-inference-toolkit test_default_pytorch_inference_handler --------

DUMMY_MODULE_SCRIPT = """
import torch.nn as nn


class DummyModel(nn.Module):
    def forward(self, x):
        return 3 * x


def model_fn(model_dir):
    return DummyModel()
"""


@pytest.fixture(scope="module")
def torch_defaults_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("torchdefaults")
    model_dir = write_model(root / "model", DUMMY_MODULE_SCRIPT)
    with ModelServer(model_dir, home=root / "home") as server:
        yield server


def test_torch_float_tensor_as_csv_bytes(torch_defaults_server):
    response = torch_defaults_server.post("[[1, 2, 3], [4, 5, 6]]", content_type=JSON, accept=CSV)
    assert response.status_code == 200 and response.text == "3.0,6.0,9.0\n12.0,15.0,18.0\n"


def test_torch_long_tensor_as_csv_bytes(torch_defaults_server):
    # NPY keeps the integer dtype (torch.from_numpy), so the model returns a LongTensor.
    response = torch_defaults_server.post(npy(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64)), content_type=NPY, accept=CSV)
    assert response.status_code == 200 and response.text == "3,6,9\n12,15,18\n"


def test_torch_npy_tensor_round_trip(torch_defaults_server):
    tensor = np.random.default_rng(5).random((5, 10, 7, 9), dtype=np.float32)
    response = torch_defaults_server.post(npy(tensor), content_type=NPY, accept=NPY)
    assert response.status_code == 200
    np.testing.assert_array_equal(from_npy(response.content), 3 * tensor)


def test_torch_csv_input_and_multiple_accept_types(torch_defaults_server):
    body = "1,2,3\r\n4,5,6\r\n"  # as csv.writer writes it in the toolkit's test
    accept = ", ".join(["application/unsupported", JSON, CSV])
    response = torch_defaults_server.post(body, content_type=CSV, accept=accept)
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    assert response.json() == [[3.0, 6.0, 9.0], [12.0, 15.0, 18.0]]


def test_torch_defaults_refuse_unknown_types(torch_defaults_server):
    assert torch_defaults_server.post("", content_type="application/not_supported").status_code == 415
    assert torch_defaults_server.post("[1]", accept="application/not_supported").status_code == 406


# --- Ported: PT test/integration/local/test_model_context.py + IT test_transfomer.py -----------

CONTEXT_SCRIPT = """
import csv
import os
import threading

from sagemaker_inference import content_types, default_inference_handler, errors

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))


def record(name, context):
    with open(os.path.join(SCRIPT_DIR, "calls.csv"), "a", newline="") as f:
        csv.writer(f).writerow([name, os.getpid(), threading.current_thread().ident,
                                context.system_properties.get("gpu_id"), context.system_properties.get("model_dir")])


class FooUserError(Exception):
    def __init__(self, status_code, message):
        self.status_code = status_code
        self.message = message
        super(FooUserError, self).__init__(message)


class Handler(default_inference_handler.DefaultInferenceHandler):
    def default_model_fn(self, model_dir, context=None):
        return 10

    def default_predict_fn(self, data, model, context=None):
        return data * model


_handler = Handler()


def model_fn(model_dir, context):
    record("model_fn", context)
    return _handler.default_model_fn(model_dir)


def input_fn(data, content_type, context):
    record("input_fn", context)
    return _handler.default_input_fn(data, content_type)


def predict_fn(data, model, context):
    record("predict_fn", context)
    if data.min() < 0:
        raise FooUserError(403, "negative numbers are forbidden")
    if data.max() > 1000:
        raise errors.GenericInferenceToolkitError(422, "numbers must be at most 1000")
    return _handler.default_predict_fn(data, model)


def output_fn(prediction, accept, context):
    record("output_fn", context)
    return _handler.default_output_fn(prediction, accept)
"""


@pytest.fixture(scope="module")
def context_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("context")
    model_dir = write_model(root / "model", CONTEXT_SCRIPT)
    with ModelServer(model_dir, workers=2, home=root / "home") as server:
        yield server, model_dir


def test_context_functions_run_in_one_process_and_thread_per_worker(context_server):
    server, model_dir = context_server
    for _ in range(10):  # a new connection each time, so both workers answer
        response = httpx.post(server.url + "/invocations", content="[1, 2]", headers={"Content-Type": JSON, "Accept": CSV})
        assert response.status_code == 200 and response.text == "10\n20\n"
    with open(model_dir / "code" / "calls.csv", newline="") as f:
        calls = list(csv.reader(f))
    assert {row[3] for row in calls} == {""}  # gpu_id is None on CPU
    assert {row[4] for row in calls} == {str(model_dir.resolve())}
    loaded = {row[1]: row[2] for row in calls if row[0] == "model_fn"}
    assert len(loaded) == 2
    for name, pid, thread, _, _ in calls:
        assert loaded[pid] == thread, f"{name} ran in another thread than model_fn"


def test_user_error_status_codes_reach_the_client(context_server):
    server, _ = context_server
    forbidden = server.post("[-1]")
    assert forbidden.status_code == 403 and forbidden.json()["message"] == "negative numbers are forbidden"
    too_big = server.post("[5000]")
    assert too_big.status_code == 422 and too_big.json()["message"] == "numbers must be at most 1000"
    assert server.post("[3]", accept=JSON).json() == [30]


def test_default_handler_subclass_output_picks_from_an_accept_list(context_server):
    server, _ = context_server
    response = server.post("[1]", accept="unsupported/type, text/csv")
    assert response.status_code == 200 and response.headers["content-type"] == CSV and response.text == "10\n"
    assert server.post("[1]", accept="unsupported/type").status_code == 406
