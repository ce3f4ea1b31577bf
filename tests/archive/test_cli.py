"""`modelport pack` and `modelport check` run as real processes: exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.helpers.archive import make_model_dir, tar_info, write_tar


def modelport(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the modelport command in a child process (the same interpreter as the tests)."""
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_pack_writes_the_archive_and_lists_it(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    result = modelport("pack", str(src), "-o", str(tmp_path / "out" / "model.tar.gz"))
    assert result.returncode == 0, result.stderr
    assert "✓ wrote" in result.stdout and "code/inference.py" in result.stdout
    with tarfile.open(tmp_path / "out" / "model.tar.gz") as tar:
        assert "model.json" in tar.getnames() and "code/inference.py" in tar.getnames()


def test_pack_with_code_and_the_default_output_name(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", with_code=False)
    (tmp_path / "inference.py").write_text("def model_fn(d):\n    return 1\n")
    result = modelport("pack", "model", "--code", "inference.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""  # no warning: code/inference.py is there
    with tarfile.open(tmp_path / "model.tar.gz") as tar:
        assert "code/inference.py" in tar.getnames()
    assert src.is_dir()


def test_pack_warns_without_inference_py(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", with_code=False)
    result = modelport("pack", str(src), "-o", str(tmp_path / "model.tar.gz"))
    assert result.returncode == 0
    assert "no code/inference.py" in result.stderr


def test_pack_refusal_exits_1_with_the_reason(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    result = modelport("pack", str(src), "-o", str(src / "model.tar.gz"))
    assert result.returncode == 1
    assert "cannot pack" in result.stderr and "inside the source folder" in result.stderr
    missing = modelport("pack", str(tmp_path / "nope"), "-o", str(tmp_path / "m.tar.gz"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_check_refuses_an_unsafe_archive(tmp_path: Path) -> None:
    archive = write_tar(
        tmp_path / "evil.tar.gz",
        [(tar_info("model.json"), b"{}"), (tar_info("code/../../evil.py"), b"import os")],
    )
    result = modelport("check", str(archive))
    assert result.returncode == 1
    assert "unsafe archive member 'code/../../evil.py'" in result.stdout and "'..'" in result.stdout
    assert "not ready to serve" in result.stdout
    assert not (tmp_path.parent / "evil.py").exists()


def test_check_json_output_for_a_device_member(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "dev.tar.gz", [(tar_info("null", tarfile.CHRTYPE), None)])
    result = modelport("check", str(archive), "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["report"] is None
    assert any("device files are not allowed" in p for p in data["problems"])


def test_check_names_a_top_level_folder(tmp_path: Path) -> None:
    make_model_dir(tmp_path / "mymodel")
    archive = tmp_path / "model.tar.gz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(tmp_path), "mymodel"], check=True)
    result = modelport("check", str(archive))
    assert result.returncode == 1
    assert "everything is inside the folder 'mymodel/'" in result.stdout
    assert "modelport pack mymodel" in result.stdout


def test_check_missing_archive_and_missing_sample(tmp_path: Path) -> None:
    result = modelport("check", str(tmp_path / "missing.tar.gz"))
    assert result.returncode == 1 and "does not exist" in result.stdout
    archive = tmp_path / "model.tar.gz"
    assert modelport("pack", str(make_model_dir(tmp_path / "model")), "-o", str(archive)).returncode == 0
    no_sample = modelport("check", str(archive), "--sample", str(tmp_path / "nope.json"))
    assert no_sample.returncode == 1 and "sample file" in no_sample.stdout
    (tmp_path / "body.bin").write_bytes(b"\0")
    unknown = modelport("check", str(archive), "--sample", str(tmp_path / "body.bin"))
    assert unknown.returncode == 1 and "--content-type" in unknown.stdout
