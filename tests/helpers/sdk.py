"""Running the unmodified SageMaker Python SDK (and the AWS CLI) against a real hosting process.

Each SDK line lives in its own virtual environment (``make sdk-venvs``): a test runs a script from
``tests/sdk/`` with that venv's python and reads the ``RESULT {json}`` lines it prints. The scripts get
exactly what ``modelport env`` prints, plus a tripwire: every proxy variable points at a local listener
that records and refuses any connection that would leave this machine (e.g. to amazonaws.com), so a
client that ignored ``AWS_ENDPOINT_URL`` fails the test instead of silently calling AWS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

from modelport.hosting import access, sdk_config
from modelport.token import hosting_token

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "sdk"
REGION, ACCOUNT = "us-east-1", "123456789012"


def sdk_python(line: str) -> Path:
    """The python of the SDK venv ``line`` (v2 or v3); fails with the way to build it when missing."""
    python = ROOT / f".venv-sdk-{line}" / "bin" / "python"
    assert (ROOT / f".venv-sdk-{line}" / ".installed").is_file(), (
        f"{python.parent.parent} is missing: run `make sdk-venvs` (make test does it)")
    return python


class Tripwire:
    """A proxy that never forwards: it records the first line of every connection and answers 403."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                    self.attempts.append(line)
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def environment(self) -> dict[str, str]:
        """Proxy variables that send everything but loopback to the tripwire."""
        return {name: self.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                                            "ALL_PROXY", "all_proxy")} | {
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

    def close(self) -> None:
        self._sock.close()


def client_environment(url: str, home: Path, tripwire: Tripwire, scratch: Path) -> dict[str, str]:
    """The environment of an SDK or CLI process: ``modelport env``'s variables, the tripwire, and no
    AWS profile or config of the user's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SAGEMAKER_", "PYTHON", "MODELPORT_")) and k.lower() not in (
               "http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env |= access.client_environment(url, hosting_token(home), REGION)
    env["SAGEMAKER_USER_CONFIG_OVERRIDE"] = str(sdk_config.write_config(home, REGION, ACCOUNT))
    env |= tripwire.environment()
    env |= {"AWS_CONFIG_FILE": str(scratch / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-creds"),
            "HOME": str(scratch), "PYTHONUNBUFFERED": "1"}
    return env


def run_script(line: str, script: str, args: list[str], env: dict[str, str], timeout: float = 150) -> dict[str, dict]:
    """Run ``tests/sdk/<script>`` with SDK ``line``; return its results by step (fails with its output)."""
    completed = subprocess.run([str(sdk_python(line)), str(SCRIPTS / script), *args], env=env, capture_output=True,
                               text=True, timeout=timeout, cwd=env["HOME"])
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{script} {' '.join(args)} exited {completed.returncode}:\n{output[-6000:]}"
    results = {}
    for text in completed.stdout.splitlines():
        _, marker, payload = text.partition("RESULT {")  # the SDKs print progress without a newline
        if marker:
            result = json.loads("{" + payload)
            results[result.pop("step")] = result
    return results


SCALER = '''
import json, os
import numpy as np

class Scaler:
    """Multiplies its input: scikit-learn's predict() contract, so the image's default handlers apply."""
    def __init__(self, scale):
        self.scale = scale
    def predict(self, x):
        return np.asarray(x, dtype=float) * self.scale

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return Scaler(json.load(f)["scale"])
'''
ENTRY = '''
import json, os
import numpy as np

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as f:
        return json.load(f)

def predict_fn(data, model):
    return (np.asarray(data, dtype=float) * model["scale"] + model.get("offset", 0)).tolist()
'''
BIG_PADDING = 20 * 1024 * 1024


def make_sdk_archives(root: Path) -> Path:
    """The archives and source folder the SDK scripts deploy (see tests/sdk/*_flows.py)."""
    import torch

    from modelport.archive import pack_archive

    def pack(name: str, files: dict[str, bytes]) -> None:
        folder = root / "src" / name
        for relative, data in files.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_bytes(data)
        pack_archive(folder, root / f"{name}.tar.gz")

    code = {"code/inference.py": SCALER.encode()}
    pack("scaler", {**code, "weights.json": b'{"scale": 2.0}'})
    pack("scaler-v2", {**code, "weights.json": b'{"scale": 3.0}'})
    pack("weights", {"weights.json": b'{"scale": 5.0, "offset": 0.5}'})  # code comes from the SDK
    pack("big", {**code, "weights.json": b'{"scale": 2.0}', "padding.bin": os.urandom(BIG_PADDING)})
    linear = torch.nn.Linear(2, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 1.0]]))
        linear.bias.copy_(torch.tensor([0.5]))
    (root / "src" / "torchscript").mkdir(parents=True)
    torch.jit.save(torch.jit.script(linear), str(root / "src" / "torchscript" / "model.pt"))
    pack_archive(root / "src" / "torchscript", root / "torchscript.tar.gz")
    (root / "source").mkdir()
    (root / "source" / "entry.py").write_text(ENTRY)
    return root
