"""The bundled models' inference scripts, on archives trained here in --fast mode.

Handlers are called directly (model_fn → input_fn → predict_fn → output_fn, as SageMaker's toolkits do),
then each archive is served by a real `modelport serve` process and invoked over HTTP with every content
type the scripts accept; bad inputs must get a 400 whose message says what is accepted.
"""

from __future__ import annotations

import base64
import csv
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from modelport.process import stop_all
from tests.helpers.processes import free_port, wait_until_up

from modelport.training import train
from modelport.training.datasets import load_mnist, split

REPO = Path(__file__).resolve().parents[2]
MNIST_MODELS = ("mnist-sklearn", "mnist-pytorch")


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    """A --fast archive of each bundled model."""
    root = tmp_path_factory.mktemp("trained")
    return {name: train(name, root / name, fast=True, quiet=True) for name in (*MNIST_MODELS, "sentiment")}


@pytest.fixture(scope="module")
def unpacked(archives, tmp_path_factory) -> dict[str, Path]:
    """Each archive extracted to a folder, as SageMaker does into /opt/ml/model."""
    folders = {}
    for name, archive in archives.items():
        folder = tmp_path_factory.mktemp(f"unpacked-{name}")
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        folders[name] = folder
    return folders


def load_handlers(model_dir: Path, name: str):
    """Import code/inference.py of an unpacked model the way a serving container does."""
    spec = importlib.util.spec_from_file_location(f"inference_{name.replace('-', '_')}", model_dir / "code" / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(handlers, model, body, content_type, accept="application/json"):
    data = handlers.input_fn(body, content_type)
    return handlers.output_fn(handlers.predict_fn(data, model), accept)


@pytest.fixture(scope="module")
def digits():
    """Three held-out MNIST digits and their labels."""
    images, labels = load_mnist()
    _, test = split(labels)
    return images[test[:3]], labels[test[:3]]


def png_of(pixels: np.ndarray, invert: bool = False) -> bytes:
    """A 28×28 digit as PNG bytes (optionally dark ink on white, like a scan)."""
    gray = (pixels.reshape(28, 28) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(255 - gray if invert else gray).resize((140, 140)).save(buffer, format="PNG")
    return buffer.getvalue()


def npy_of(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def status_of(error: BaseException) -> int:
    return int(getattr(error, "status_code"))


# --- archive layout -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, artifacts, code", [
    ("mnist-sklearn", {"model.joblib"}, {"inference.py", "mnist_io.py", "mnist_preprocessing.py", "handler_utils.py",
                                         "npy_body.py"}),
    ("mnist-pytorch", {"model.pth"}, {"inference.py", "digit_cnn.py", "mnist_io.py", "mnist_preprocessing.py",
                                      "handler_utils.py", "npy_body.py"}),
    ("sentiment", {"model.joblib", "vectorizer.joblib"}, {"inference.py", "handler_utils.py"}),
])
def test_archive_has_the_sagemaker_layout_and_pinned_requirements(archives, name, artifacts, code):
    with tarfile.open(archives[name]) as tar:
        members = {m.name for m in tar.getmembers() if m.isfile()}
        requirements = tar.extractfile("code/requirements.txt").read().decode()
    assert artifacts | {f"code/{c}" for c in code} | {"code/requirements.txt"} == members
    from importlib import metadata

    pins = dict(line.split("==") for line in requirements.splitlines() if "==" in line)
    assert pins, requirements
    for package, version in pins.items():
        assert metadata.version(package).split("+")[0] == version
    metrics = json.loads((archives[name].parent / "metrics.json").read_text())
    assert metrics["model"] == name and metrics["fast"] is True
    assert {"python", "numpy"} <= set(metrics["versions"])
    assert metrics["split"]["seed"] and metrics["split"]["test_fraction"] == 0.2


SAMPLES = {
    "mnist-sklearn": ("sample.json", lambda: json.dumps({"pixels": load_mnist()[0][0].tolist()})),
    "mnist-pytorch": ("sample.csv", lambda: ",".join(map(str, load_mnist()[0][1].tolist())) + "\n"),
    "sentiment": ("sample.json", lambda: json.dumps({"text": "what a lovely ride"})),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_archive_passes_modelport_check_with_a_sample(archives, tmp_path, name):
    filename, make = SAMPLES[name]
    sample = tmp_path / filename
    sample.write_text(make())
    result = subprocess.run([sys.executable, "-m", "modelport", "check", str(archives[name]), "--sample", str(sample)],
                            env={**os.environ, "MODELPORT_HOME": str(tmp_path / "home")}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "predictions" in result.stdout


def test_inference_scripts_do_not_import_modelport():
    import ast

    for path in (REPO / "src" / "modelport" / "bundled_models").rglob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert "modelport" not in imported, path


# --- handlers called directly ---------------------------------------------------------------------


@pytest.mark.parametrize("name", MNIST_MODELS)
def test_digit_handlers_answer_every_input_form_alike(unpacked, digits, name):
    handlers = load_handlers(unpacked[name], name)
    model = handlers.model_fn(str(unpacked[name]))
    images, _ = digits
    forms = [
        (json.dumps({"instances": images.tolist()}), "application/json"),
        (json.dumps({"instances": images.reshape(-1, 28, 28).tolist()}).encode(), "application/json; charset=utf-8"),
        (bytearray("\n".join(",".join(map(str, row)) for row in images.tolist()).encode()), "text/csv"),
        (npy_of(images), "application/x-npy"),
        (npy_of(images.reshape(-1, 28, 28)), "application/x-npy"),
    ]
    answers = []
    for body, content_type in forms:
        text, content = invoke(handlers, model, body, content_type)
        assert content == "application/json"
        answers.append(json.loads(text)["predictions"])
    for answer in answers:
        assert [p["label"] for p in answer] == [p["label"] for p in answers[0]]
        for prediction in answer:
            assert len(prediction["probabilities"]) == 10
            assert abs(sum(prediction["probabilities"]) - 1) < 1e-3
            assert prediction["label"] == int(np.argmax(prediction["probabilities"]))
    single, _ = invoke(handlers, model, json.dumps({"pixels": images[0].tolist()}), "application/json")
    assert json.loads(single)["predictions"] == answers[0][:1]


@pytest.mark.parametrize("name", MNIST_MODELS)
def test_digit_handlers_read_images_and_answer_csv_and_npy(unpacked, digits, name):
    handlers = load_handlers(unpacked[name], name)
    model = handlers.model_fn(str(unpacked[name]))
    images, _ = digits
    png = png_of(images[0], invert=True)
    for body, content_type in [(png, "image/png"), (png, "application/x-image"),
                               (json.dumps({"image": base64.b64encode(png).decode()}), "application/json"),
                               (json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()}),
                                "application/json")]:
        text, _ = invoke(handlers, model, body, content_type)
        assert len(json.loads(text)["predictions"]) == 1
    body, content = invoke(handlers, model, npy_of(images), "application/x-npy", accept="text/csv")
    rows = list(csv.reader(io.StringIO(body)))
    assert content == "text/csv" and len(rows) == 3 and all(len(r) == 11 for r in rows)
    body, content = invoke(handlers, model, npy_of(images), "application/x-npy", accept="application/x-npy")
    probabilities = np.load(io.BytesIO(body))
    assert content == "application/x-npy" and probabilities.shape == (3, 10)
    assert [int(r[0]) for r in rows] == probabilities.argmax(axis=1).tolist()


@pytest.mark.parametrize("body, content_type, message", [
    (json.dumps({"pixels": [0.5] * 783}), "application/json", "784"),
    (json.dumps({"pixels": [200.0] * 784}), "application/json", "divide 0..255"),
    (json.dumps({"pixels": ["a"] * 784}), "application/json", "numbers"),
    (json.dumps({"instances": []}), "application/json", "non-empty"),
    (json.dumps({"digits": []}), "application/json", "pixels, instances, image"),
    ("{not json", "application/json", "not valid JSON"),
    (json.dumps({"image": "%%%"}), "application/json", "base64"),
    ("1,2,3\n", "text/csv", "784 values"),
    (b"\x93NUMPY garbage", "application/x-npy", ".npy"),
    (b"not a png", "image/png", "not a readable PNG"),
    ("[1, 2]", "application/xml", "unsupported Content-Type"),
])
def test_bad_digit_requests_get_400_saying_what_is_accepted(unpacked, body, content_type, message):
    handlers = load_handlers(unpacked["mnist-sklearn"], "mnist-sklearn")
    with pytest.raises(Exception) as caught:
        handlers.input_fn(body, content_type)
    assert status_of(caught.value) == 400
    assert message in str(caught.value)


def test_blank_image_is_a_400(unpacked):
    handlers = load_handlers(unpacked["mnist-pytorch"], "mnist-pytorch")
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 255).save(buffer, format="PNG")
    with pytest.raises(Exception) as caught:
        handlers.input_fn(buffer.getvalue(), "image/png")
    assert status_of(caught.value) == 400 and "blank" in str(caught.value)


def test_unsupported_accept_is_a_406(unpacked, digits):
    handlers = load_handlers(unpacked["mnist-sklearn"], "mnist-sklearn")
    model = handlers.model_fn(str(unpacked["mnist-sklearn"]))
    data = handlers.input_fn(json.dumps({"pixels": digits[0][0].tolist()}), "application/json")
    with pytest.raises(Exception) as caught:
        handlers.output_fn(handlers.predict_fn(data, model), "text/html")
    assert status_of(caught.value) == 406 and "application/json" in str(caught.value)


def test_sentiment_handlers(unpacked):
    handlers = load_handlers(unpacked["sentiment"], "sentiment")
    model = handlers.model_fn(str(unpacked["sentiment"]))
    one, content = invoke(handlers, model, json.dumps({"text": "I love this, what a great day"}), "application/json")
    prediction = json.loads(one)["predictions"][0]
    assert content == "application/json"
    assert set(prediction["probabilities"]) == {"negative", "neutral", "positive"}
    assert prediction["label"] == max(prediction["probabilities"], key=prediction["probabilities"].get)
    assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-3
    many, _ = invoke(handlers, model, json.dumps({"instances": ["awful", "fine", "great"]}), "application/json")
    assert len(json.loads(many)["predictions"]) == 3
    plain, _ = invoke(handlers, model, bytearray("I love this, what a great day".encode()), "text/plain")
    assert json.loads(plain)["predictions"][0] == prediction
    rows, content = invoke(handlers, model, "so bad", "text/plain", accept="text/csv")
    assert content == "text/csv" and rows.count("\n") == 1 and len(rows.split(",")) == 4


@pytest.mark.parametrize("name", [*MNIST_MODELS, "sentiment"])
def test_predict_batch_fn_answers_each_request_as_predict_fn_does(unpacked, digits, name):
    """modelport's batching: one predict_batch_fn call over several requests = predict_fn on each."""
    handlers = load_handlers(unpacked[name], name)
    model = handlers.model_fn(str(unpacked[name]))
    if name == "sentiment":
        bodies = [json.dumps({"text": "what a great day"}), json.dumps({"instances": ["awful", "fine"]}), "so bad"]
        types = ["application/json", "application/json", "text/plain"]
    else:
        images, _ = digits
        bodies = [json.dumps({"pixels": images[0].tolist()}),
                  json.dumps({"instances": [images[1].tolist(), images[2].tolist()]})]
        types = ["application/json"] * 2
    inputs = [handlers.input_fn(body, kind) for body, kind in zip(bodies, types)]
    together = handlers.predict_batch_fn(inputs, model)
    assert len(together) == len(inputs)
    for data, prediction in zip(inputs, together):
        alone = handlers.predict_fn(data, model)
        if name == "sentiment":
            assert handlers.output_fn(prediction, "application/json") == handlers.output_fn(alone, "application/json")
        else:  # a batch may run another compiled graph (mnist-pytorch): the same within float rounding
            np.testing.assert_allclose(prediction, alone, atol=1e-6)
            assert (prediction.argmax(axis=1) == alone.argmax(axis=1)).all()


def test_pytorch_model_is_compiled_for_serving_with_the_networks_answers(unpacked, digits):
    """model_fn serves mnist-pytorch as frozen TorchScript graphs that answer what the trained network does,
    for one digit (the plain frozen graph) and for several (the oneDNN one)."""
    import torch

    handlers = load_handlers(unpacked["mnist-pytorch"], "mnist-pytorch")
    served = handlers.model_fn(str(unpacked["mnist-pytorch"]))
    assert type(served).__name__ == "InferenceCNN"
    network = handlers.DigitCNN()
    network.load_state_dict(torch.load(unpacked["mnist-pytorch"] / "model.pth", weights_only=True))
    network.eval()
    images, labels = digits
    for rows in (images[:1], images):
        pixels = torch.from_numpy(np.asarray(rows, dtype=np.float32)).view(-1, 1, 28, 28)
        with torch.inference_mode():
            expected = torch.softmax(network(pixels), dim=1).numpy()
        np.testing.assert_allclose(handlers.predict_fn(rows, served), expected, atol=1e-6)


def test_pytorch_predict_fn_answers_a_request_larger_than_one_forward_pass_in_order(unpacked, digits):
    """More digits than one forward pass takes (BATCH) are predicted in passes and put back in order."""
    handlers = load_handlers(unpacked["mnist-pytorch"], "mnist-pytorch")
    served = handlers.model_fn(str(unpacked["mnist-pytorch"]))
    images, _ = digits
    rows = np.repeat(np.asarray(images, dtype=np.float32), [handlers.BATCH, 1, handlers.BATCH + 5], axis=0)
    probabilities = handlers.predict_fn(rows, served)
    assert probabilities.shape == (len(rows), 10)
    each = [handlers.predict_fn(image[None], served)[0] for image in images]  # one digit alone
    expected = np.repeat(np.stack(each), [handlers.BATCH, 1, handlers.BATCH + 5], axis=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_the_rearranged_networks_answer_exactly_what_the_trained_one_does(unpacked):
    """The served rearrangements (the pool before the ReLU; for one digit, pairwise maxima instead of the pool)
    are not approximations: the same logits to the bit, on digits and on values well outside 0..1."""
    import torch

    handlers = load_handlers(unpacked["mnist-pytorch"], "mnist-pytorch")
    digit_cnn = sys.modules["digit_cnn"]  # imported by inference.py from the archive's code/
    network = handlers.DigitCNN()
    network.load_state_dict(torch.load(unpacked["mnist-pytorch"] / "model.pth", weights_only=True))
    network.eval()
    generator = torch.Generator().manual_seed(7)
    pixels = torch.rand(5, 1, 28, 28, generator=generator) * 6 - 3
    with torch.inference_mode():
        assert torch.equal(digit_cnn.single_digit_cnn(network)(pixels), network(pixels))
        assert torch.equal(digit_cnn.PoolBeforeReLU(network)(pixels), network(pixels))
        maps = torch.randn(2, 3, 14, 14, generator=generator)
        assert torch.equal(digit_cnn.PairMax()(maps), torch.nn.functional.max_pool2d(maps, 2))


@pytest.mark.parametrize("body, content_type, message", [
    ("", "text/plain", "empty"),
    ("   ", "text/plain", "empty"),
    (json.dumps({"text": ""}), "application/json", "empty"),
    ("x" * 5001, "text/plain", "limit is 5,000"),
    (json.dumps({"instances": ["ok", "y" * 6000]}), "application/json", "text 1 has 6,000 characters"),
    (json.dumps({"text": 42}), "application/json", "not a string"),
    (json.dumps({"words": "hi"}), "application/json", '"text"'),
    ("hello", "image/png", "unsupported Content-Type"),
    (b"\xff\xfe\xfa", "text/plain", "not UTF-8"),
])
def test_bad_sentiment_requests_get_400(unpacked, body, content_type, message):
    handlers = load_handlers(unpacked["sentiment"], "sentiment")
    with pytest.raises(Exception) as caught:
        handlers.input_fn(body, content_type)
    assert status_of(caught.value) == 400
    assert message in str(caught.value)


# --- served by a real `modelport serve` process ---------------------------------------------------


@pytest.fixture(scope="module")
def servers(archives, tmp_path_factory):
    """One `modelport serve` process per archive; yields name → base URL."""
    home = tmp_path_factory.mktemp("serve-home")
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    processes, urls = [], {}
    try:
        for name, archive in archives.items():
            port = free_port()
            log = open(home / f"{name}.log", "wb")
            processes.append((subprocess.Popen(
                [sys.executable, "-m", "modelport", "serve", str(archive), "--host", "127.0.0.1", "--port", str(port),
                 "--workers", "1"], env=env, stdout=log, stderr=subprocess.STDOUT), log))
            urls[name] = f"http://127.0.0.1:{port}"
        for (process, _), (name, url) in zip(processes, urls.items()):
            wait_until_up(f"{url}/ping", process, (home / f"{name}.log").read_text, timeout=120)
        yield urls
    finally:
        stop_all([process for process, _ in processes], grace=15)
        for _, log in processes:
            log.close()


@pytest.mark.parametrize("name", MNIST_MODELS)
def test_served_digit_model_answers_every_content_type(servers, digits, name):
    images, _ = digits
    png = png_of(images[0], invert=True)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buffer, format="JPEG", quality=95)
    requests = [
        (json.dumps({"pixels": images[0].tolist()}), "application/json", 1),
        (json.dumps({"instances": images.tolist()}), "application/json", 3),
        (json.dumps({"image": base64.b64encode(png).decode()}), "application/json", 1),
        ("\n".join(",".join(map(str, row)) for row in images.tolist()), "text/csv", 3),
        (npy_of(images), "application/x-npy", 3),
        (npy_of(images.reshape(-1, 28, 28)), "application/x-npy", 3),
        (png, "image/png", 1),
        (buffer.getvalue(), "image/jpeg", 1),
        (png, "application/x-image", 1),
    ]
    with httpx.Client(base_url=servers[name], timeout=30) as client:
        for body, content_type, count in requests:
            response = client.post("/invocations", content=body, headers={"Content-Type": content_type})
            assert response.status_code == 200, (content_type, response.text)
            assert response.headers["content-type"].startswith("application/json")
            predictions = response.json()["predictions"]
            assert len(predictions) == count and all(0 <= p["label"] <= 9 for p in predictions)
        as_csv = client.post("/invocations", content=npy_of(images),
                             headers={"Content-Type": "application/x-npy", "Accept": "text/csv"})
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert len(as_csv.text.strip().splitlines()) == 3
        as_npy = client.post("/invocations", content=npy_of(images),
                             headers={"Content-Type": "application/x-npy", "Accept": "application/x-npy"})
        assert as_npy.status_code == 200 and np.load(io.BytesIO(as_npy.content)).shape == (3, 10)


@pytest.mark.parametrize("name", MNIST_MODELS)
@pytest.mark.parametrize("body, content_type, message", [
    (json.dumps({"pixels": [0.1] * 10}), "application/json", "784"),
    (json.dumps({"pixels": [255] * 784}), "application/json", "0..1"),
    ("not json", "application/json", "not valid JSON"),
    ("1,2\n", "text/csv", "784 values"),
    (b"GIF89a-broken", "image/png", "PNG"),
    ("<digit/>", "application/xml", "application/json"),
])
def test_served_digit_model_refuses_bad_input_with_400(servers, name, body, content_type, message):
    response = httpx.post(f"{servers[name]}/invocations", content=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == 400, response.text
    assert message in response.text


def test_served_sentiment_model(servers):
    url = f"{servers['sentiment']}/invocations"
    with httpx.Client(timeout=30) as client:
        one = client.post(url, json={"text": "this is wonderful"})
        many = client.post(url, json={"instances": ["terrible service", "it is a car", "love it"]})
        plain = client.post(url, content="this is wonderful", headers={"Content-Type": "text/plain"})
        assert one.status_code == many.status_code == plain.status_code == 200
        assert one.json() == plain.json()
        assert len(many.json()["predictions"]) == 3
        assert set(one.json()["predictions"][0]["probabilities"]) == {"negative", "neutral", "positive"}
        for body, content_type, message in [("", "text/plain", "empty"), ("z" * 5001, "text/plain", "5,000"),
                                            ('{"text": "  "}', "application/json", "empty"),
                                            ("{}", "application/json", "instances")]:
            response = client.post(url, content=body, headers={"Content-Type": content_type})
            assert response.status_code == 400, response.text
            assert message in response.text
