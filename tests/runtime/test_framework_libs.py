"""Scripts written for SageMaker's framework images load unmodified: they import at the top what those
images carry (docs/frameworks.md; the ``modelport[sklearn]`` and ``modelport[pytorch]`` extras, installed
by ``make``). A real ``modelport serve`` per script, invoked over HTTP."""

from __future__ import annotations

import json

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

from tests.helpers.runtime import ModelServer, write_model

# the shape of countless scikit-learn inference.py scripts: pandas at the top, CSV or JSON records in
SKLEARN_SCRIPT = """
    import json
    import os
    from io import StringIO

    import joblib
    import numpy as np
    import pandas as pd

    FEATURES = ["sepal_length", "sepal_width"]

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))

    def input_fn(request_body, request_content_type):
        if isinstance(request_body, bytes):
            request_body = request_body.decode("utf-8")
        if request_content_type == "text/csv":
            return pd.read_csv(StringIO(request_body), header=None, names=FEATURES)
        if request_content_type == "application/json":
            return pd.DataFrame.from_records(json.loads(request_body), columns=FEATURES)
        raise ValueError(f"unsupported content type {request_content_type}")

    def predict_fn(input_data, model):
        frame = pd.DataFrame(model.predict_proba(input_data), columns=[str(c) for c in model.classes_])
        frame["label"] = model.predict(input_data)
        return frame

    def output_fn(prediction, accept):
        return prediction.to_json(orient="records"), "application/json"
"""

# every library of the PyTorch image's core that pip installs here, imported at the top (torchvision is not:
# docs/frameworks.md says why)
PYTORCH_IMAGE_SCRIPT = """
    import PIL.Image
    import numpy as np
    import pandas as pd
    import requests
    import scipy.special
    import sklearn
    import torch
    import tqdm
    import yaml

    def model_fn(model_dir):
        return torch.nn.Linear(3, 2)

    def predict_fn(data, model):
        with torch.no_grad():
            logits = model(torch.tensor(data, dtype=torch.float32))
        frame = pd.DataFrame(scipy.special.softmax(logits.numpy(), axis=1), columns=["a", "b"])
        return {"rows": len(frame), "versions": {"pandas": pd.__version__, "torch": torch.__version__.split("+")[0]}}
"""


def test_a_scikit_learn_script_that_imports_pandas_at_the_top_serves(tmp_path):
    frame = pd.DataFrame({"sepal_length": [5.0, 6.7, 5.1, 6.9, 4.8, 7.0], "sepal_width": [3.4, 3.0, 3.5, 3.1, 3.2, 3.2]})
    model = LogisticRegression().fit(frame, ["setosa", "virginica", "setosa", "virginica", "setosa", "virginica"])
    folder = write_model(tmp_path / "model", SKLEARN_SCRIPT)
    joblib.dump(model, folder / "model.joblib")
    with ModelServer(folder, home=tmp_path / "home") as server:
        answer = server.post(b"5.0,3.5\n7.1,3.0\n", content_type="text/csv")
        assert answer.status_code == 200, answer.text
        rows = answer.json()
        assert [row["label"] for row in rows] == ["setosa", "virginica"]
        assert abs(rows[0]["setosa"] + rows[0]["virginica"] - 1) < 1e-9
        records = json.dumps([{"sepal_length": 4.9, "sepal_width": 3.1}]).encode()
        assert server.post(records, content_type="application/json").json()[0]["label"] == "setosa"


def test_a_script_importing_the_pytorch_images_libraries_serves(tmp_path):
    folder = write_model(tmp_path / "model", PYTORCH_IMAGE_SCRIPT)
    with ModelServer(folder, home=tmp_path / "home") as server:
        answer = server.post(b"[[1, 2, 3], [4, 5, 6]]")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"rows": 2, "versions": {"pandas": pd.__version__, "torch": "2.13.0"}}
