"""Live smoke test against REAL AWS (costs money; run by hand, never by the test suite).

    MODELPORT_AWS_LIVE=1 .venv/bin/python deploy/live_smoke.py [--config aws.toml] [--keep]

Deploys the stack (serverless endpoints by default, to keep it cheap), checks `status`, calls the API's
GET /health, GET /models and POST /predict/<first model> with a sample from --sample (JSON file), then
destroys everything unless --keep. Exits non-zero on the first failure. Credentials and region: the
usual AWS ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path


def _call(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"},
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=None, help="TOML settings (docs/aws.md)")
    parser.add_argument("--sample", type=Path, default=None, help="JSON body for POST /predict/<first model>")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    if os.environ.get("MODELPORT_AWS_LIVE") != "1":
        print("refusing to touch real AWS: set MODELPORT_AWS_LIVE=1 to run this smoke test", file=sys.stderr)
        return 2

    from modelport.aws.calls import Calls
    from modelport.aws.deploy import deploy
    from modelport.aws.destroy import destroy
    from modelport.aws.progress import Progress
    from modelport.aws.settings import load_settings
    from modelport.aws.status import stack_status
    from modelport.config import get_settings

    overrides = {} if os.environ.get("MODELPORT_AWS_SERVERLESS_MEMORY_MB") else {"serverless_memory_mb": 2048}
    settings = load_settings(args.config, overrides=overrides, home=get_settings().home)
    calls, progress = Calls(region=settings.region), Progress()
    failures = []
    try:
        result = deploy(settings, calls, progress, get_settings().home / "aws" / "wheels")
        print(f"deployed: {result.actions}\nAPI {result.api_url}\npage {result.site_url}")
        rows = stack_status(settings, calls, probe=True)
        failures += [f"unhealthy: {r.kind} {r.name} {r.state} {r.detail}" for r in rows if not r.healthy]
        status, health = _call(result.api_url + "/health")
        print("GET /health", status, health)
        failures += [] if status == 200 else [f"/health answered {status}"]
        status, models = _call(result.api_url + "/models")
        print("GET /models", status, json.dumps(models)[:500])
        if args.sample:
            first = settings.models[0].name
            status, answer = _call(f"{result.api_url}/predict/{first}", json.loads(args.sample.read_text()))
            print(f"POST /predict/{first}", status, json.dumps(answer)[:500])
            failures += [] if status == 200 else [f"/predict/{first} answered {status}"]
    finally:
        if not args.keep:
            print("destroy:", destroy(settings, calls, progress))
    for failure in failures:
        print("FAIL:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
