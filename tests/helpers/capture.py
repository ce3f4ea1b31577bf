"""Shared pieces of the data capture, shadow and replay tests: a small model whose behaviour its environment sets,
and capture files read back as parsed records.

The model answers ``application/json`` ``{"x": [..]}`` with ``{"probabilities": softmax(SCALE * x)}`` (a
classifier: the argmax is the largest x for SCALE > 0, the smallest for SCALE < 0), and echoes any other body
with its content type. SCALE is the archive's ``scale.json`` unless the environment sets it; ``DELAY`` (seconds)
makes it slow and ``FAIL`` makes it answer 500.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from modelport.archive import pack_archive

MODEL = '''
import json, math, os, time

def model_fn(model_dir):
    with open(os.path.join(model_dir, "scale.json")) as f:
        scale = json.load(f)
    return {"scale": float(os.environ.get("SCALE", scale)), "delay": float(os.environ.get("DELAY", "0")),
            "fail": os.environ.get("FAIL", "")}

def transform_fn(model, data, content_type, accept):
    if model["delay"]:
        time.sleep(model["delay"])
    if model["fail"]:
        from sagemaker_inference import errors
        raise errors.GenericInferenceToolkitError(500, "this variant fails on purpose")
    if content_type == "application/json":
        xs = [model["scale"] * float(v) for v in json.loads(data)["x"]]
        top = max(xs)
        exps = [math.exp(v - top) for v in xs]
        return json.dumps({"probabilities": [e / sum(exps) for e in exps]}), "application/json"
    return data, content_type
'''


def make_capture_archive(root: Path, scale: float = 1.0) -> Path:
    """Pack the model into ``root/model.tar.gz`` (``scale``: its SCALE unless the environment sets one)."""
    src = root / "src"
    (src / "code").mkdir(parents=True, exist_ok=True)
    (src / "code" / "inference.py").write_text(textwrap.dedent(MODEL))
    (src / "scale.json").write_text(json.dumps(scale))
    return pack_archive(src, root / "model.tar.gz")


def capture_files(folder: Path) -> list[Path]:
    """The ``.jsonl`` capture files under ``folder``, in name order."""
    return sorted(folder.rglob("*.jsonl"))


def records(folder: Path) -> list[dict]:
    """Every record of every capture file under ``folder``, each with the file's path under ``_file``."""
    out = []
    for path in capture_files(folder):
        for line in path.read_text().splitlines():
            out.append({**json.loads(line), "_file": path})
    return out


def endpoint_config(sm, name: str, model: str, destination: str, *, percentage: int = 100,
                    shadow_model: str | None = None, shadow_weight: float = 1.0, **capture) -> None:
    """An endpoint config of one production variant ``AllTraffic`` capturing to ``destination`` (and a shadow
    variant ``Shadow-01`` of ``shadow_model``)."""
    params = {"EndpointConfigName": name,
              "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
                                      "InstanceType": "ml.m5.large"}],
              "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": percentage,
                                    "DestinationS3Uri": destination,
                                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                                    **capture}}
    if shadow_model:
        params["ShadowProductionVariants"] = [{"VariantName": "Shadow-01", "ModelName": shadow_model,
                                               "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "InitialVariantWeight": shadow_weight}]
    sm.create_endpoint_config(**params)


def create_model(sm, name: str, archive: Path, **env: str) -> None:
    """CreateModel of ``archive`` with ``env`` as its Environment."""
    sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
                    PrimaryContainer={"Image": "modelport", "ModelDataUrl": str(archive), "Environment": env})
