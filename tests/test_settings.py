"""A setting that several components read is defined once (``modelport.settings``) and reads the same in
each of them; modelport's own configuration is read only by settings classes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from modelport import token
from modelport.config import default_home
from modelport.gateway.settings import GatewaySettings
from modelport.hosting.model_data import local_s3_store
from modelport.hosting.settings import HostingSettings
from modelport.objectstore import ObjectStore
from modelport.runtime.environment import RuntimeEnvironment
from modelport.settings import ModelportSettings, S3EndpointSetting, Settings
from modelport.stack.settings import StackSettings
from modelport.stack.up import UpOptions
from modelport.store import s3

SRC = Path(__file__).resolve().parents[1] / "src" / "modelport"
BUSY_POLL_READERS = [RuntimeEnvironment, HostingSettings, GatewaySettings]
METRICS_READERS = [RuntimeEnvironment, HostingSettings, GatewaySettings]
HOME_READERS = [Settings, RuntimeEnvironment, StackSettings]
TOKEN = "a-token-of-twenty-chars"

# Where src/modelport may still read os.environ, and why (docs/architecture.md, "Configuration").
ENVIRON_ALLOWED = {
    # SageMaker's own libraries, emulated: they read the environment as the real ones do
    "runtime/shims/": "emulates sagemaker_inference / sagemaker_training / sagemaker_containers",
    # user-level model code: runs in the container as a user's script would
    "bundled_models/": "a model's own inference.py",
    # settings modules themselves
    "gateway/settings.py": "GatewaySettings.run_mode (AWS_LAMBDA_FUNCTION_NAME)",
    "aws/settings.py": "load_settings: TOML, then this environment, then the CLI",
    # AWS SDK variables read the way botocore reads them, to predict what boto3 will do
    "gateway/backend.py": "region fallback and credential discovery as botocore does them",
    # a forked child (an instance from hosting's template, a worker from its supervisor) takes its own environment
    "runtime/forking.py": "take_environment: replaces a forked child's environment with the one it was given",
}
# Building a child process's environment from this one is not reading configuration.
CHILD_ENVIRONMENT = re.compile(r"dict\(os\.environ\)|\{\*\*os\.environ")


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for name in ("MODELPORT_BUSY_POLL_MS", "BUSY_POLL_MS", "MODELPORT_METRICS", "MODELPORT_HOME", "MODELPORT_INSTALL_REQUIREMENTS",
                 "MODELPORT_HOSTING_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # outside any checkout: the default home is ~/.modelport
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    return tmp_path


@pytest.mark.parametrize("component", BUSY_POLL_READERS, ids=lambda c: c.__name__)
def test_every_component_reads_busy_poll_the_same_way(clean, monkeypatch, component):
    assert component().busy_poll_ms == 2.0
    monkeypatch.setenv("MODELPORT_BUSY_POLL_MS", "0.5")
    assert component().busy_poll_ms == 0.5
    monkeypatch.setenv("MODELPORT_BUSY_POLL_MS", "-1")
    with pytest.raises(ValidationError) as info:
        component()
    assert info.value.errors()[0]["loc"] == ("MODELPORT_BUSY_POLL_MS",)
    assert "greater than or equal to 0" in info.value.errors()[0]["msg"]


@pytest.mark.parametrize("component", METRICS_READERS, ids=lambda c: c.__name__)
def test_every_component_reads_the_metrics_switch_the_same_way(clean, monkeypatch, component):
    assert component().metrics is True
    monkeypatch.setenv("MODELPORT_METRICS", "0")
    assert component().metrics is False
    monkeypatch.setenv("MODELPORT_METRICS", "sometimes")
    with pytest.raises(ValidationError) as info:
        component()
    assert info.value.errors()[0]["loc"] == ("MODELPORT_METRICS",)


@pytest.mark.parametrize("component", HOME_READERS, ids=lambda c: c.__name__)
def test_every_component_reads_modelport_home_the_same_way(clean, monkeypatch, component):
    assert component().home == default_home() == clean / "user" / ".modelport"  # never $HOME itself
    monkeypatch.setenv("MODELPORT_HOME", str(clean / "state"))
    assert component().home == clean / "state"


def test_up_options_default_to_the_same_home(clean, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOME", str(clean / "state"))
    assert UpOptions().home == Settings().home == clean / "state"


@pytest.mark.parametrize("component", [Settings, RuntimeEnvironment], ids=lambda c: c.__name__)
def test_install_requirements_reads_the_same_way(clean, monkeypatch, component):
    assert component().install_requirements is False
    monkeypatch.setenv("MODELPORT_INSTALL_REQUIREMENTS", "1")
    assert component().install_requirements is True


def test_the_token_variable_reads_the_same_in_the_gateway_and_for_hosting(clean, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOSTING_TOKEN", TOKEN)
    loaded = token.load(clean / "home", create=False)
    assert (loaded.value, loaded.explicit) == (TOKEN, True)
    assert GatewaySettings().hosting_token == Settings().hosting_token == TOKEN
    with pytest.raises(token.TokenError, match="MODELPORT_HOSTING_TOKEN is set"):
        token.rotate(clean / "home")


@pytest.mark.parametrize(("s3_url", "any_url", "expected"), [
    ("", "", None),
    ("http://127.0.0.1:9000", "", "http://127.0.0.1:9000"),
    ("", "http://127.0.0.1:9001", "http://127.0.0.1:9001"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9001", "http://127.0.0.1:9000"),
])
def test_the_store_and_hosting_agree_on_the_s3_endpoint(clean, monkeypatch, s3_url, any_url, expected):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", any_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert S3EndpointSetting().s3_endpoint == expected
    if expected is not None:
        assert s3.client().meta.endpoint_url == expected
    objects = ObjectStore(clean / "s3")
    # hosting on port 9000 serves s3:// itself unless the environment names another S3
    assert (local_s3_store(objects, 9000) is objects) == (expected in (None, "http://127.0.0.1:9000"))


def test_settings_classes_derive_from_the_one_base():
    defined = [path for path in SRC.rglob("*.py") if re.search(r"\(BaseSettings\)", path.read_text())]
    assert [p.relative_to(SRC).as_posix() for p in defined] == ["settings.py"]
    for component in (*BUSY_POLL_READERS, Settings, StackSettings):
        assert issubclass(component, ModelportSettings)


def test_only_settings_modules_read_the_environment():
    readers = {}
    for path in SRC.rglob("*.py"):
        relative = path.relative_to(SRC).as_posix()
        if any(relative.startswith(allowed) for allowed in ENVIRON_ALLOWED):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"os\.environ|os\.getenv|from os import environ", line) and not CHILD_ENVIRONMENT.search(line):
                readers[f"{relative}:{number}"] = line.strip()
    assert readers == {}
