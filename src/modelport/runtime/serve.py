"""Serve one model: resolve the archive or directory, prepare it, and run the supervisor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import StartupError
from modelport.runtime.supervisor import Supervisor


def resolve_model_dir(model: str | Path, env: RuntimeEnvironment) -> Path:
    """A directory to serve: a directory as is; a ``model.tar.gz`` safely unpacked into a cache."""
    text = str(model)
    if text.startswith("file://"):
        text = text[len("file://") :]
    path = Path(text).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.is_file():
        from modelport.archive.errors import ArchiveError
        from modelport.archive.unpack import extract_cached

        try:
            return extract_cached(path, env.home / "models").resolve()
        except ArchiveError as exc:
            raise StartupError(f"Cannot serve {path}: {exc}") from None
    raise StartupError(f"{model} does not exist; give a model directory or a model.tar.gz.")


def serve(model: str | Path, env: RuntimeEnvironment, on_ready: Callable[[float], None] | None = None,
          fork_workers: bool = False) -> int:
    """Serve ``model`` until stopped (with SAGEMAKER_MULTI_MODEL, the models of the folder ``model`` on request);
    return the process exit code (``fork_workers``: see the supervisor)."""
    if env.multi_model:
        from modelport.runtime.multi_model.server import serve_store

        return serve_store(model, env, on_ready, fork_targets=fork_workers)
    model_dir = resolve_model_dir(model, env)
    extra_paths = []
    if env.install_requirements:
        from modelport.runtime.requirements import ensure_environment

        site_packages = ensure_environment(model_dir, env.home)
        if site_packages:
            extra_paths.append(site_packages)
    return Supervisor(model_dir, env, extra_paths, on_ready, fork_workers=fork_workers).run()


def run(model: str, fork_workers: bool = False, **overrides: Any) -> int:
    """Serve ``model`` with settings from the environment, overridden by non-None ``overrides``.

    Prints a ready line with how to call the server; returns the exit code (1 on a startup error).
    """
    env = RuntimeEnvironment().model_copy(update={k: v for k, v in overrides.items() if v is not None})

    def announce(seconds: float) -> None:
        url = f"http://{env.host}:{env.port}"
        if env.multi_model:
            print(f"modelport: serving the models of {model} on request on {url}, ready in {seconds:.2f} s\n"
                  f"  curl -X POST {url}/models -H 'Content-Type: application/json' "
                  f"-d '{{\"model_name\": \"m1\", \"url\": \"m1.tar.gz\"}}'\n"
                  f"  curl -X POST {url}/models/m1/invoke -H 'Content-Type: application/json' -d @request.json",
                  file=sys.stderr, flush=True)
            return
        print(
            f"modelport: serving {model} on {url} with {env.workers} worker(s), ready in {seconds:.2f} s\n"
            f"  curl {url}/ping\n"
            f"  curl -X POST {url}/invocations -H 'Content-Type: application/json' -d @request.json"
            + (f"\n  curl {url}/metrics" if env.metrics else ""),
            file=sys.stderr,
            flush=True,
        )

    try:
        return serve(model, env, on_ready=announce, fork_workers=fork_workers)
    except StartupError as exc:
        print(f"modelport: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
