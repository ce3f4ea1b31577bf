"""``python -m modelport.runtime.inspect MODEL_DIR``: load a model as a worker would and report.

Used by ``modelport check`` in a separate process (user code never runs in the caller). Prints ONE
JSON object on stdout: which handler functions the module defines, which SageMaker defaults apply,
the framework, problems found, and (with ``--sample``) the result of one real invocation. Exit code
0 when everything worked, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import traceback
from pathlib import Path
from typing import Any

import orjson

HANDLERS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn", "model_warmup_fn")


def inspect_model(model_dir: Path, env: Any, sample: bytes | None, content_type: str | None, accept: str | None) -> dict[str, Any]:
    """Load the model in this process and describe it (and run one invocation with ``sample``)."""
    from modelport.runtime import handlers, transformer
    from modelport.runtime.errors import StartupError, as_inference_error

    report: dict[str, Any] = {
        "ok": False, "module": None, "functions": {}, "defaults": [], "framework": None, "problems": [], "invocation": None,
    }
    try:
        user = handlers.load_user_module(model_dir, env)
    except StartupError as exc:
        report["problems"].append(str(exc))
        return report
    report["module"] = str(user.path) if user.path else None
    report["functions"] = {name: user.defines(name) for name in HANDLERS}
    pipeline = transformer.build(model_dir, env, user)
    try:
        pipeline.load()
    except StartupError as exc:
        report["problems"].append(str(exc))
        return report
    except BaseException:  # noqa: BLE001 - report whatever model_fn raised
        report["problems"].append(f"model_fn failed:\n{traceback.format_exc()}")
        return report
    report["framework"] = pipeline.framework
    report["defaults"] = pipeline.defaults_used
    if sample is not None:
        try:
            result = pipeline.invoke(sample, content_type, accept, {})
            body = result.body if isinstance(result.body, bytes) else b"".join(result.body)
            report["invocation"] = {"status": result.status, "content_type": result.content_type, "body": body[:500].decode("utf-8", "replace")}
            if result.status >= 400:
                report["problems"].append(f"the sample invocation answered {result.status}")
        except BaseException as exc:  # noqa: BLE001
            error = as_inference_error(exc)
            report["invocation"] = {"status": error.status, "content_type": "application/json", "body": error.message[:500]}
            report["problems"].append(f"the sample invocation failed with {error.status}: {error.message}")
    report["ok"] = not report["problems"]
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, inspect, print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--sample", type=Path, help="a request body to invoke the model with once")
    parser.add_argument("--content-type", default=None)
    parser.add_argument("--accept", default=None)
    parser.add_argument("--framework", default=None, help="auto, sklearn, pytorch or none")
    args = parser.parse_args(argv)

    from modelport.runtime.environment import RuntimeEnvironment
    from modelport.runtime.worker import add_compat_shims

    add_compat_shims()
    env = RuntimeEnvironment()
    if args.framework:
        env = env.model_copy(update={"framework": args.framework})
    sample = args.sample.read_bytes() if args.sample else None
    # User code may print while it loads; keep stdout for the one JSON report.
    with contextlib.redirect_stdout(io.StringIO()) as noise:
        report = inspect_model(args.model_dir.resolve(), env, sample, args.content_type, args.accept)
    sys.stderr.write(noise.getvalue())
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
