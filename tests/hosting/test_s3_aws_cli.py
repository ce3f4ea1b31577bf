"""The AWS CLI (PyPI awscli, unmodified, in the SDK v2 venv) against hosting's S3: `aws s3 mb`, `cp` of a
20 MB file (multipart) both ways, `ls`, `rm`, and `aws sts get-caller-identity`, with the variables
`modelport env` prints and nothing allowed off the machine."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

from modelport.objectstore import ObjectStore
from tests.helpers.sdk import client_environment, sdk_python


def test_aws_cli_s3_cp_and_ls(fresh_hosting, tripwire, tmp_path):
    home = fresh_hosting.home
    (tmp_path / "scratch").mkdir()
    env = client_environment(fresh_hosting.url, home, tripwire, tmp_path / "scratch")
    aws = sdk_python("v2").parent / "aws"

    def run(*args: str) -> str:
        done = subprocess.run([str(aws), *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"aws {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    data = os.urandom(20 * 1024 * 1024)
    (tmp_path / "model.tar.gz").write_bytes(data)
    run("s3", "mb", "s3://cli-bucket")
    run("s3", "cp", str(tmp_path / "model.tar.gz"), "s3://cli-bucket/models/model.tar.gz")
    run("s3", "cp", str(tmp_path / "model.tar.gz"), "s3://cli-bucket/top.bin")
    listing = run("s3", "ls", "s3://cli-bucket/")
    recursive = run("s3", "ls", "--recursive", "s3://cli-bucket/")
    buckets = run("s3", "ls")
    run("s3", "cp", "s3://cli-bucket/models/model.tar.gz", str(tmp_path / "back.tar.gz"))
    run("s3", "rm", "s3://cli-bucket/top.bin")
    after_rm = run("s3", "ls", "--recursive", "s3://cli-bucket/")
    identity = json.loads(run("sts", "get-caller-identity"))
    assert tripwire.attempts == [], f"the CLI tried to leave the machine: {tripwire.attempts}"
    assert "PRE models/" in listing and f"{len(data)} top.bin" in listing
    assert f"{len(data)} models/model.tar.gz" in recursive and "cli-bucket" in buckets
    assert hashlib.sha256((tmp_path / "back.tar.gz").read_bytes()).digest() == hashlib.sha256(data).digest()
    assert "top.bin" not in after_rm and "models/model.tar.gz" in after_rm
    assert identity["Account"] == "123456789012"
    store = ObjectStore(home / "s3")  # the same store hosting reads s3:// model data from
    assert store.head_object("cli-bucket", "models/model.tar.gz").etag.endswith("-3")  # 8 MB parts
    store.close()
