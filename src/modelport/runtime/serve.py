"""Serve one model: resolve the archive or directory, prepare it, and run the supervisor."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

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


def serve(model: str | Path, env: RuntimeEnvironment, on_ready: Callable[[float], None] | None = None) -> int:
    """Serve ``model`` until stopped; return the process exit code."""
    model_dir = resolve_model_dir(model, env)
    extra_paths = []
    if env.install_requirements:
        from modelport.runtime.requirements import ensure_environment

        site_packages = ensure_environment(model_dir, env.home)
        if site_packages:
            extra_paths.append(site_packages)
    return Supervisor(model_dir, env, extra_paths, on_ready).run()
