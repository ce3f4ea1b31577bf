"""`modelport env`: lines for sh, fish and PowerShell that point AWS clients at hosting, and the SageMaker SDK
config it writes (DefaultS3Bucket, TelemetryOptOut)."""

from __future__ import annotations

import os
import subprocess
import sys


# a token may hold only [A-Za-z0-9._~-]; the URL carries the quote that each shell must escape
TOKEN = "tok.en-0123456789_~"
URL = "http://127.0.0.1:8123/it's"


def modelport_env(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELPORT_HOME": str(tmp_path / "home"), "MODELPORT_HOSTING_URL": URL,
           "MODELPORT_HOSTING_TOKEN": TOKEN}
    return subprocess.run([sys.executable, "-m", "modelport", "env", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_env_lines_evaluate_in_sh(tmp_path):
    printed = modelport_env(tmp_path).stdout
    shell = subprocess.run(["bash", "-c", printed + '\nprintf "%s|%s|%s|%s" "$AWS_ENDPOINT_URL" "$AWS_ACCESS_KEY_ID" '
                                                    '"$AWS_DEFAULT_REGION" "$SAGEMAKER_USER_CONFIG_OVERRIDE"'],
                           capture_output=True, text=True, check=True)
    url, key, region, config = shell.stdout.split("|")
    assert (url, key, region) == (URL, TOKEN, "us-east-1")
    text = open(config).read()
    assert "DefaultS3Bucket: sagemaker-us-east-1-123456789012" in text and "TelemetryOptOut: true" in text
    assert config == str((tmp_path / "home" / "hosting" / "sagemaker-sdk-config.yaml").resolve())


def test_env_fish_and_powershell(tmp_path):
    fish = modelport_env(tmp_path, "--shell", "fish").stdout.splitlines()
    assert "set -gx AWS_ENDPOINT_URL 'http://127.0.0.1:8123/it'\"'\"'s';" in fish
    assert any(line.startswith("set -gx AWS_ACCESS_KEY_ID ") and TOKEN in line for line in fish)
    powershell = modelport_env(tmp_path, "--shell", "powershell").stdout.splitlines()
    assert "$env:AWS_ENDPOINT_URL = 'http://127.0.0.1:8123/it''s'" in powershell
    assert f"$env:AWS_ACCESS_KEY_ID = '{TOKEN}'" in powershell
    refused = modelport_env(tmp_path, "--shell", "csh")
    assert refused.returncode == 2 and "choose one of sh, fish, powershell" in refused.stderr
