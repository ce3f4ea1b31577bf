"""`modelport check` on archives whose handler loads, fails or answers: the real inspector process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.archive import INFERENCE_PY, make_model_dir

from modelport.archive import ArchiveWarning, pack_archive


def modelport(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the modelport command in a child process (the same interpreter as the tests)."""
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args], capture_output=True, text=True, cwd=cwd, timeout=180
    )


def archive_with(tmp_path: Path, script: str, name: str = "model") -> Path:
    """Pack a model folder whose code/inference.py is ``script``."""
    src = make_model_dir(tmp_path / name)
    (src / "code" / "inference.py").write_text(script)
    return pack_archive(src, tmp_path / f"{name}.tar.gz")


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.json"
    path.write_text("[1, 2, 3]")
    return path


def test_good_archive_with_sample_is_ready(tmp_path: Path, sample: Path) -> None:
    archive = archive_with(tmp_path, INFERENCE_PY)
    result = modelport("check", str(archive), "--sample", str(sample))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "code/inference.py" in out and "ready to serve" in out
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines() if line.count("│") == 3}
    assert rows["model_fn"] == "defined" and rows["predict_fn"] == "defined"
    assert rows["input_fn"] == "SageMaker default" and rows["output_fn"] == "SageMaker default"
    assert rows["transform_fn"] == "not used"
    assert "Invocation 200 application/json" in out and "[2.0,4.0,6.0]" in out


def test_json_report_names_the_module_inside_the_archive(tmp_path: Path) -> None:
    archive = archive_with(tmp_path, INFERENCE_PY)
    result = modelport("check", str(archive), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["report"]["module"] == "code/inference.py"
    assert data["report"]["functions"]["model_fn"] is True
    assert set(data["report"]["defaults"]) >= {"input_fn", "output_fn"}


def test_transform_fn_with_predict_fn_is_refused(tmp_path: Path) -> None:
    script = INFERENCE_PY + "\n\ndef transform_fn(model, body, content_type, accept):\n    return body\n"
    result = modelport("check", str(archive_with(tmp_path, script)))
    assert result.returncode == 1
    assert "transform_fn together with predict_fn" in result.stdout
    assert "not ready to serve" in result.stdout


def test_import_error_is_reported_with_the_archive_path(tmp_path: Path) -> None:
    script = "import not_a_real_module_xyz\n" + INFERENCE_PY
    result = modelport("check", str(archive_with(tmp_path, script)))
    assert result.returncode == 1
    assert "No module named 'not_a_real_module_xyz'" in result.stdout
    assert 'File "code/inference.py", line 1' in result.stdout  # not the temporary unpack folder
    assert "modelport-check-" not in result.stdout


def test_failing_model_fn_is_reported(tmp_path: Path) -> None:
    script = "def model_fn(model_dir):\n    raise RuntimeError('weights are corrupt')\n"
    result = modelport("check", str(archive_with(tmp_path, script)))
    assert result.returncode == 1
    assert "model_fn failed" in result.stdout and "weights are corrupt" in result.stdout


def test_failing_invocation_is_reported_despite_user_prints(tmp_path: Path, sample: Path) -> None:
    script = INFERENCE_PY.replace(
        "def predict_fn(data, model):\n",
        "def predict_fn(data, model):\n    print('predicting', data)\n    raise ValueError('bad input shape')\n",
    ).replace('import json\n', 'import json\nprint("{loading}")\n')
    result = modelport("check", str(archive_with(tmp_path, script)), "--sample", str(sample))
    assert result.returncode == 1
    assert "Invocation 500" in result.stdout and "bad input shape" in result.stdout


def test_unsupported_content_type_fails_the_check(tmp_path: Path, sample: Path) -> None:
    archive = archive_with(tmp_path, INFERENCE_PY)
    result = modelport("check", str(archive), "--sample", str(sample), "--content-type", "image/png")
    assert result.returncode == 1
    assert "Invocation 415" in result.stdout and "image/png" in result.stdout


def test_folder_is_checked_in_place_without_leaving_byte_code(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    result = modelport("check", str(src))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(src.rglob("__pycache__"))


def test_scikit_learn_model_gets_the_default_predict_fn(tmp_path: Path) -> None:
    script = (
        "import os\nimport joblib\n\n\n"
        "def model_fn(model_dir):\n    return joblib.load(os.path.join(model_dir, 'model.joblib'))\n"
    )
    src = tmp_path / "sk"
    (src / "code").mkdir(parents=True)
    (src / "code" / "inference.py").write_text(script)
    train = (
        "import sys, joblib\nfrom sklearn.linear_model import LogisticRegression\n"
        "m = LogisticRegression().fit([[0, 0], [1, 1], [0, 1], [1, 0]], [0, 1, 0, 1])\n"
        "joblib.dump(m, sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", train, str(src / "model.joblib")], check=True, timeout=120)
    archive = pack_archive(src, tmp_path / "sk.tar.gz")
    body = tmp_path / "rows.csv"
    body.write_text("1,1\n0,0\n")
    result = modelport("check", str(archive), "--sample", str(body), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)["report"]
    assert report["framework"] == "sklearn"
    assert "predict_fn" in report["defaults"] and report["functions"]["predict_fn"] is False
    assert report["invocation"]["status"] == 200
    assert json.loads(report["invocation"]["body"]) == [1, 0]


def test_entry_script_named_by_sagemaker_program(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", with_code=False)
    (src / "code").mkdir()
    (src / "code" / "serve_me.py").write_text(INFERENCE_PY)
    with pytest.warns(ArchiveWarning, match="SAGEMAKER_PROGRAM"):
        archive = pack_archive(src, tmp_path / "model.tar.gz")
    without = modelport("check", str(archive))
    assert without.returncode == 1 and "SAGEMAKER_PROGRAM" in without.stdout
    env_result = subprocess.run(
        [sys.executable, "-m", "modelport", "check", str(archive), "--json"],
        capture_output=True, text=True, timeout=180, env={**os.environ, "SAGEMAKER_PROGRAM": "serve_me.py"},
    )
    assert env_result.returncode == 0, env_result.stdout + env_result.stderr
    data = json.loads(env_result.stdout)
    assert data["report"]["module"] == "code/serve_me.py" and data["notes"] == []


def test_torchscript_model_without_code_passes_with_framework_pytorch(tmp_path: Path) -> None:
    src = tmp_path / "pt"
    src.mkdir()
    save = (
        "import sys, torch\n"
        "layer = torch.nn.Linear(3, 2)\n"
        "torch.nn.init.ones_(layer.weight); torch.nn.init.zeros_(layer.bias)\n"
        "torch.jit.script(layer).save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", save, str(src / "model.pt")], check=True, timeout=180)
    with pytest.warns(ArchiveWarning, match="TorchScript"):  # no code/: allowed, but said
        archive = pack_archive(src, tmp_path / "pt.tar.gz")
    body = tmp_path / "x.json"
    body.write_text("[[1, 2, 3]]")
    result = modelport("check", str(archive), "--framework", "pytorch", "--sample", str(body), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)["report"]
    assert report["framework"] == "pytorch" and "model_fn" in report["defaults"]
    assert json.loads(report["invocation"]["body"]) == [[6.0, 6.0]]
