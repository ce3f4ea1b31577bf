"""SageMaker compatibility: context injection, toolkit imports, module discovery, PyTorch defaults,
streaming and warm-up — each through a real ``modelport serve`` process."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch

from tests.helpers.runtime import ModelServer, write_model
from tests.helpers.waiting import eventually


def test_context_is_passed_to_functions_that_take_one_more_argument(tmp_path):
    model = write_model(tmp_path / "ctx", """
        def model_fn(model_dir, context):
            return {"model_dir": context.system_properties["model_dir"], "gpu": context.system_properties["gpu_id"]}

        def input_fn(body, content_type, context):
            headers = context.request_processor[0].get_request_properties()
            return {"attributes": headers.get("x-amzn-sagemaker-custom-attributes"), "body": body}

        def predict_fn(data, model):
            return {**data, **model}

        def output_fn(prediction, accept, context=None):
            import json
            return json.dumps(prediction), "application/json"
    """)
    with ModelServer(model) as server:
        answer = server.post('{"a": 1}', **{"X-Amzn-SageMaker-Custom-Attributes": "trace=abc"}).json()
    assert answer == {"attributes": "trace=abc", "body": '{"a": 1}', "model_dir": str(model.resolve()), "gpu": None}


def test_handler_with_a_signature_sagemaker_cannot_call_is_a_startup_error(tmp_path):
    model = write_model(tmp_path / "bad", "def model_fn(a, b, c): return 1\n")
    code, stderr = ModelServer(model).start(wait=False).wait_exit(60)
    assert code == 1 and "model_fn takes 3 parameter(s)" in stderr


def test_scripts_importing_sagemaker_toolkits_load_and_keep_their_statuses(tmp_path):
    model = write_model(tmp_path / "legacy", """
        import sagemaker_training
        from sagemaker_training import environment
        from sagemaker_containers.beta.framework import content_types, encoders, worker
        from sagemaker_inference import decoder, encoder, errors

        def model_fn(model_dir):
            return environment.Environment().current_host

        def transform_fn(model, data, content_type, accept):
            array = encoders.decode(data, content_type)
            if array.size == 0:
                return worker.Response("send at least one number", status=422, mimetype="text/plain")
            if array.min() < 0:
                raise errors.GenericInferenceToolkitError(400, "numbers must not be negative")
            return worker.Response(encoder.encode(array * 2, content_types.CSV), status=200, mimetype=content_types.CSV)
    """)
    with ModelServer(model) as server:
        ok = server.post("[1, 2]")
        assert ok.status_code == 200 and ok.headers["content-type"] == "text/csv" and ok.text == "2\n4\n"
        empty = server.post("[]")
        assert empty.status_code == 422 and empty.text == "send at least one number"
        negative = server.post("[-1]")
        assert negative.status_code == 400 and negative.json()["message"] == "numbers must not be negative"


def test_unsupported_format_error_from_a_user_input_fn_is_415(tmp_path):
    model = write_model(tmp_path / "fmt", """
        from sagemaker_inference import decoder
        def model_fn(d): return 1
        def input_fn(body, content_type): return decoder.decode(body, content_type)
        def predict_fn(x, m): return x
    """)
    with ModelServer(model) as server:
        response = server.post(b"GIF89a", content_type="image/gif")
    assert response.status_code == 415 and "image/gif" in response.json()["message"]


def test_sagemaker_program_picks_another_module(tmp_path):
    model = write_model(tmp_path / "prog", "def model_fn(d): return 'serve.py'\ndef predict_fn(x, m): return m\n", name="serve.py")
    with ModelServer(model, env={"SAGEMAKER_PROGRAM": "serve.py"}) as server:
        assert server.post("[1]").json() == "serve.py"


@pytest.mark.parametrize("form", ["directory", "file-uri", "tarball"])
def test_submit_directory_is_the_fallback(tmp_path, form):
    source = tmp_path / "source"
    write_model(source, "def model_fn(d): return 'from submit dir'\ndef predict_fn(x, m): return m\n")
    code_dir = source / "code"
    submit = str(code_dir)
    if form == "file-uri":
        submit = f"file://{code_dir}"
    elif form == "tarball":
        submit = str(tmp_path / "sourcedir.tar.gz")
        with tarfile.open(submit, "w:gz") as tar:
            tar.add(code_dir / "inference.py", arcname="inference.py")
    model = write_model(tmp_path / "model", None, {"weights.bin": b"0"})
    with ModelServer(model, env={"SAGEMAKER_SUBMIT_DIRECTORY": submit}, home=tmp_path / "home") as server:
        assert server.post("[1]").json() == "from submit dir"


def _torchscript_model(root: Path) -> torch.jit.ScriptModule:
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
    scripted = torch.jit.script(net)
    scripted.save(str(root / "model.pt"))
    return scripted


def test_pytorch_defaults_serve_torchscript_without_any_code(tmp_path):
    scripted = _torchscript_model(tmp_path / "ts")
    rows = [[0.1, 0.2, 0.3, 0.4], [1.0, 0.0, -1.0, 2.0]]
    expected = scripted(torch.tensor(rows)).detach().numpy()
    with ModelServer(tmp_path / "ts", "--framework", "pytorch") as server:
        answer = np.array(server.post(json.dumps(rows)).json())
        buffer = io.BytesIO()
        np.save(buffer, np.array(rows, dtype=np.float32))
        npy = server.post(buffer.getvalue(), content_type="application/x-npy", accept="application/x-npy")
        csv = server.post("0.1,0.2,0.3,0.4\n1,0,-1,2", content_type="text/csv", accept="text/csv")
    np.testing.assert_allclose(answer, expected, rtol=1e-5)
    np.testing.assert_allclose(np.load(io.BytesIO(npy.content)), expected, rtol=1e-5)
    assert csv.headers["content-type"] == "text/csv" and len(csv.text.strip().splitlines()) == 2


def test_pytorch_module_from_model_fn_gets_tensor_defaults(tmp_path):
    _torchscript_model(tmp_path / "m")
    write_model(tmp_path / "m", """
        import os, torch
        def model_fn(model_dir):
            return torch.jit.load(os.path.join(model_dir, "model.pt"))
    """)
    with ModelServer(tmp_path / "m") as server:
        probabilities = server.post("[[0.5, 0.5, 0.5, 0.5]]").json()
    assert len(probabilities) == 1 and abs(sum(probabilities[0]) - 1) < 1e-5


def test_state_dict_without_model_fn_explains_torchscript(tmp_path):
    root = tmp_path / "sd"
    root.mkdir()
    torch.save(torch.nn.Linear(2, 2).state_dict(), root / "model.pth")
    code, stderr = ModelServer(root, "--framework", "pytorch").start(wait=False).wait_exit(60)
    assert code == 1 and "TorchScript" in stderr and "model_fn" in stderr


def test_warmup_runs_before_ping_says_ready(tmp_path):
    model = write_model(tmp_path / "warm", """
        import time
        def model_fn(model_dir):
            return {"warm": False}
        def model_warmup_fn(model_dir, model):
            time.sleep(1)
            model["warm"] = True
        def predict_fn(x, model):
            return model["warm"]
    """)
    with ModelServer(model) as server:
        assert server.post("[0]").json() is True


STREAM_SCRIPT = """
    import os, time
    def model_fn(model_dir):
        return model_dir
    def predict_fn(data, model_dir):
        def tokens():
            try:
                for i in range(int(data[0])):
                    with open(os.path.join(model_dir, "progress.txt"), "a") as f:
                        f.write(f"{i}\\n")
                    yield f"token-{i} "
                    time.sleep(0.05)
            finally:
                with open(os.path.join(model_dir, "progress.txt"), "a") as f:
                    f.write("closed\\n")
        return tokens()
"""


def test_generator_output_is_streamed_chunk_by_chunk(tmp_path):
    model = write_model(tmp_path / "stream", STREAM_SCRIPT)
    with ModelServer(model) as server:
        chunks = []
        with server.client.stream("POST", "/invocations", content="[5]", headers={"Content-Type": "application/json"}) as response:
            assert response.headers["transfer-encoding"] == "chunked"
            for chunk in response.iter_raw():
                chunks.append(chunk)
        assert b"".join(chunks) == b"".join(f"token-{i} ".encode() for i in range(5))
        assert len(chunks) >= 3  # arrived as separate pieces, not one buffered body
        assert server.post("[1]").text == "token-0 "


def test_client_that_goes_away_stops_the_generation(tmp_path):
    model = write_model(tmp_path / "abort", STREAM_SCRIPT)
    with ModelServer(model) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            with client.stream("POST", "/invocations", content="[1000]", headers={"Content-Type": "application/json"}) as response:
                next(response.iter_raw())
        progress = model / "progress.txt"
        eventually(lambda: "closed" in progress.read_text(), 10, message=lambda: progress.read_text()[-200:])
        lines = progress.read_text().split()
        assert lines[-1] == "closed" and len(lines) < 200
        assert server.client.get("/ping").status_code == 200


def test_featurizer_import_list_from_the_aws_examples_loads(tmp_path):
    # The scikit-learn featurizer examples import modules and transformer without using them.
    model = write_model(tmp_path / "featurizer", """
        from sagemaker_containers.beta.framework import (
            content_types, encoders, env, modules, transformer, worker)

        def model_fn(model_dir):
            return None

        def transform_fn(model, data, content_type, accept):
            return worker.Response(encoders.encode(encoders.decode(data, content_type), accept), mimetype=accept)
    """)
    with ModelServer(model) as server:
        response = server.post("1,2\n3,4", content_type="text/csv", accept="text/csv")
    assert response.status_code == 200 and response.text == "1.0,2.0\n3.0,4.0\n"


def test_contenttype_header_without_hyphen_is_read(tmp_path):
    model = write_model(tmp_path / "ct", "def model_fn(d): return 1\ndef predict_fn(x, m): return x\n")
    with ModelServer(model) as server:
        response = server.post("1,2\n3,4", content_type=None, ContentType="text/csv")
    assert response.status_code == 200 and response.json() == [[1.0, 2.0], [3.0, 4.0]]


def test_missing_dependency_suggests_installing_requirements(tmp_path):
    model = write_model(tmp_path / "dep", "import not_installed_anywhere\ndef model_fn(d): return 1\n")
    (model / "code" / "requirements.txt").write_text("not_installed_anywhere\n")
    code, stderr = ModelServer(model).start(wait=False).wait_exit(60)
    assert code == 1 and "--install-requirements" in stderr
