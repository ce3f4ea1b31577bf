"""Ragged nested lists given to the default scikit-learn and PyTorch handlers are 400s naming where."""

from __future__ import annotations

import json

import joblib
import pytest
import torch
from sklearn.linear_model import LinearRegression

from modelport.runtime.codecs import ragged_where
from tests.helpers.runtime import ModelServer, write_model

RAGGED = {
    "[[1, 2], [3]]": "[1] has 1 item where [0] has 2",
    "[1, [2]]": "[1] is a list where [0] is a single value",
    "[[[1], [2, 3]]]": "[0][1] has 2 items where [0][0] has 1",
    "[[1, 2], 3]": "[1] is a single value where [0] is a list of 2",
}


@pytest.mark.parametrize("value", [[[1, 2], [3, 4]], [], [[]], 5, ["a", "b"], [[[1], [2]], [[3], [4]]]])
def test_rectangular_values_are_not_ragged(value):
    assert ragged_where(value) is None


def test_ragged_place_is_found_late_in_a_big_list():
    rows = [[0.0] * 4 for _ in range(100_000)] + [[0.0] * 3]
    assert ragged_where(rows) == "[100000] has 3 items where [0] has 4"


@pytest.fixture(scope="module")
def sklearn_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("sklearn")
    joblib.dump(LinearRegression().fit([[0, 0], [1, 0], [0, 1]], [0, 1, 2]), root / "model.joblib")
    write_model(root, """
        import os, joblib

        def model_fn(model_dir):
            return joblib.load(os.path.join(model_dir, "model.joblib"))
    """)
    with ModelServer(root, workers=1) as server:
        yield server


@pytest.mark.parametrize("body", list(RAGGED))
def test_sklearn_defaults_answer_400_naming_the_ragged_row(sklearn_server, body):
    answer = sklearn_server.post(body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "BadRequest"
    assert f"ragged array: {RAGGED[body]}" in answer.json()["message"]


def test_sklearn_defaults_still_predict_even_rows(sklearn_server):
    answer = sklearn_server.post("[[1, 0], [0, 1]]")
    assert answer.status_code == 200
    assert [round(v, 6) for v in answer.json()] == [1.0, 2.0]


def test_a_ragged_list_from_the_users_input_fn_reaching_the_default_predict_fn_is_400(tmp_path):
    joblib.dump(LinearRegression().fit([[0, 0], [1, 0], [0, 1]], [0, 1, 2]), tmp_path / "model.joblib")
    write_model(tmp_path, """
        import json, os, joblib

        def model_fn(model_dir):
            return joblib.load(os.path.join(model_dir, "model.joblib"))

        def input_fn(body, content_type):
            return json.loads(body)["rows"]
    """)
    with ModelServer(tmp_path, workers=1) as server:
        assert server.post(json.dumps({"rows": [[1, 0]]})).status_code == 200
        answer = server.post(json.dumps({"rows": [[1, 0], [1]]}))
    assert answer.status_code == 400, answer.text
    assert "ragged array: [1] has 1 item where [0] has 2" in answer.json()["message"]


def test_pytorch_defaults_answer_400_for_ragged_and_non_numeric_input(tmp_path):
    net = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(2, 1)))
    net.save(str(tmp_path / "model.pt"))
    with ModelServer(tmp_path, "--framework", "pytorch", workers=1) as server:
        assert server.post("[[1, 2]]").status_code == 200
        ragged = server.post("[[1, 2], [3]]")
        text = server.post('[["a", "b"]]')
        dicts = server.post('[{"a": 1}]')
    assert ragged.status_code == 400 and "[1] has 1 item where [0] has 2" in ragged.json()["message"]
    assert text.status_code == 400 and "float32" in text.json()["message"] and "'a'" in text.json()["message"]
    assert dicts.status_code == 400 and "cannot be read as an array of float32" in dicts.json()["message"]
