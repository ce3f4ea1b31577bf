"""Find the user's inference module and resolve its handler functions.

Module discovery follows SageMaker: ``SAGEMAKER_PROGRAM`` (default ``inference``) in
``<model_dir>/code``, falling back to ``SAGEMAKER_SUBMIT_DIRECTORY`` (a directory, a ``tar.gz``, a
``file://`` URI, or an ``s3://`` tar.gz fetched through :mod:`modelport.store`). Unlike SageMaker's
toolkit, a missing module is a startup error that names the paths looked at, not a silent fall-back to
defaults that fail on the first request.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from modelport.runtime.environment import RuntimeEnvironment
from modelport.runtime.errors import StartupError

# name → number of arguments SageMaker passes before the optional trailing context.
HANDLER_ARITY = {
    "model_fn": 1,
    "input_fn": 2,
    "predict_fn": 2,
    "output_fn": 2,
    "transform_fn": 4,
    "predict_batch_fn": 2,  # modelport's batching: (list_of_inputs, model) → list of predictions
    "transform_batch_fn": 4,  # (model, list_of_data, list_of_content_types, list_of_accepts) → list of outputs
    "model_warmup_fn": 2,
    "pre_model_fn": 1,
}
PIPELINE = ("input_fn", "predict_fn", "output_fn")


@dataclass(frozen=True)
class Handler:
    """A user function and whether it wants the trailing ``context`` argument."""

    name: str
    function: Callable[..., Any]
    wants_context: bool


@dataclass
class UserModule:
    """The imported inference module (or none) and the handlers it defines."""

    module: ModuleType | None
    path: Path | None
    handlers: dict[str, Handler] = field(default_factory=dict)

    def defines(self, name: str) -> bool:
        """Whether the module defines handler ``name``."""
        return name in self.handlers


def _module_file(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.py", directory / name / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _fetch_submit_archive(uri: str, env: RuntimeEnvironment) -> Path:
    """Download an ``s3://`` source archive (e.g. the SDK's ``sourcedir.tar.gz``) through the store.

    The store's S3 endpoint and credentials come from the environment (``AWS_ENDPOINT_URL_S3``), as a
    SageMaker container's come from its role; under modelport hosting that is hosting's own S3.
    """
    from modelport import store

    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    name = Path(store.parse_uri(uri).key).name or "sourcedir.tar.gz"
    try:
        return store.download(uri, env.home / "submit-downloads" / digest / name)
    except store.StoreError as exc:
        raise StartupError(f"SAGEMAKER_SUBMIT_DIRECTORY={uri}: {exc}") from exc


def _submit_directory(value: str, env: RuntimeEnvironment) -> Path:
    """Turn SAGEMAKER_SUBMIT_DIRECTORY (dir, tar.gz, file://, s3:// tar.gz) into a local directory."""
    if value.startswith("file://"):
        value = value[len("file://") :]
    if value.startswith("s3://"):
        value = str(_fetch_submit_archive(value, env))
    elif "://" in value:
        raise StartupError(
            f"SAGEMAKER_SUBMIT_DIRECTORY={value!r}: only local directories, .tar.gz files, file:// and s3:// "
            "URIs are supported; download the source first or pack it into the archive's code/."
        )
    path = Path(value)
    if path.is_file() and (path.name.endswith(".tar.gz") or path.name.endswith(".tgz")):
        from modelport.archive.unpack import extract_cached

        return extract_cached(path, env.home / "submit")
    return path


def locate_module(model_dir: Path, env: RuntimeEnvironment) -> tuple[Path | None, list[Path]]:
    """Find the module file; return it (or None) and every path looked at."""
    name = env.module_name
    looked = [model_dir / "code" / f"{name}.py"]
    found = _module_file(model_dir / "code", name)
    if found is None and env.submit_directory:
        submit_dir = _submit_directory(env.submit_directory, env)
        looked.append(submit_dir / f"{name}.py")
        found = _module_file(submit_dir, name)
    return found, looked


def _count_parameters(function: Callable[..., Any]) -> tuple[int, bool]:
    parameters = inspect.signature(function).parameters.values()
    var_positional = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)
    return sum(p.kind is not inspect.Parameter.VAR_KEYWORD for p in parameters), var_positional


def resolve_handler(name: str, function: Callable[..., Any]) -> Handler:
    """Decide, as SageMaker does, whether ``function`` takes the trailing context argument.

    Exactly the expected number of parameters: no context; one more: context. Anything else is a
    startup error (SageMaker would raise a TypeError on the first request instead).
    """
    expected = HANDLER_ARITY[name]
    count, var_positional = _count_parameters(function)
    if var_positional:
        return Handler(name, function, wants_context=False)
    if count == expected:
        return Handler(name, function, wants_context=False)
    if count == expected + 1:
        return Handler(name, function, wants_context=True)
    raise StartupError(
        f"{name} takes {count} parameter(s); SageMaker calls it with {expected} "
        f"(or {expected + 1} when the last one is `context`)."
    )


def import_module(path: Path, name: str) -> ModuleType:
    """Import the user's module from its directory, reporting failures with their traceback."""
    directory = path.parent if path.name != "__init__.py" else path.parent.parent
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - any import failure is a startup error
        hint = ""
        requirements = directory / "requirements.txt"
        if isinstance(exc, ModuleNotFoundError) and requirements.is_file():
            hint = f"\n{requirements} exists: serve with --install-requirements (MODELPORT_INSTALL_REQUIREMENTS=1) to install it."
        raise StartupError(f"Importing {path} failed:\n{traceback.format_exc()}{hint}") from exc


def load_user_module(model_dir: Path, env: RuntimeEnvironment) -> UserModule:
    """Import the inference module and validate its handler functions.

    Raises StartupError when the module is missing (naming the paths looked at), fails to import,
    combines ``transform_fn`` with input/predict/output functions, or has a handler with a
    signature SageMaker could not call.
    """
    path, looked = locate_module(model_dir, env)
    if path is None:
        if env.framework == "pytorch":
            # SageMaker's PyTorch container serves a TorchScript model with no code at all.
            return UserModule(module=None, path=None)
        where = ", ".join(str(p) for p in looked)
        raise StartupError(
            f"No inference module {env.module_name!r} found; looked at: {where}. Put your handler "
            "functions in code/inference.py inside the archive, or set SAGEMAKER_PROGRAM / "
            "SAGEMAKER_SUBMIT_DIRECTORY (pass --framework pytorch to serve a TorchScript model with "
            "SageMaker's default handlers)."
        )
    module = import_module(path, env.module_name)
    handlers = {}
    for name in HANDLER_ARITY:
        function = getattr(module, name, None)
        if callable(function):
            handlers[name] = resolve_handler(name, function)
    user_module = UserModule(module=module, path=path, handlers=handlers)
    for whole in ("transform_fn", "transform_batch_fn"):
        if user_module.defines(whole):
            clashing = [name for name in (*PIPELINE, "predict_batch_fn") if user_module.defines(name)]
            if clashing:
                raise StartupError(
                    f"{path} defines {whole} together with {', '.join(clashing)}; define either "
                    f"{whole} alone or input_fn/predict_fn/output_fn (SageMaker refuses both)."
                )
    return user_module
