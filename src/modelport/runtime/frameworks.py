"""SageMaker's default handlers, chosen by framework.

When the inference script leaves a function out, SageMaker's framework containers fill it in:
the scikit-learn container calls ``model.predict``; the PyTorch container loads a TorchScript
``model.pt``, turns input into a float tensor and runs the module under ``no_grad``. The
framework is the one named with ``--framework``, else detected from what ``model_fn`` returned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modelport.runtime import codecs
from modelport.runtime import content_types as ct
from modelport.runtime.errors import BadRequest, StartupError

FRAMEWORKS = ("auto", "sklearn", "pytorch", "none")


def is_torch_module(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module`` or a TorchScript module (without importing torch)."""
    for klass in type(model).__mro__:
        if klass.__module__.startswith("torch") and klass.__name__ in ("Module", "ScriptModule", "RecursiveScriptModule"):
            return True
    return False


def detect(model: Any, requested: str = "auto") -> str:
    """The framework whose defaults apply: ``pytorch``, ``sklearn`` or ``none``."""
    if requested not in FRAMEWORKS:
        raise StartupError(f"Unknown framework {requested!r}; choose one of: {', '.join(FRAMEWORKS)}.")
    if requested != "auto":
        return requested
    if is_torch_module(model):
        return "pytorch"
    if callable(getattr(model, "predict", None)):
        return "sklearn"
    return "none"


def torch_model_file(model_dir: Path) -> Path:
    """``model.pt``, else the only ``.pt``/``.pth`` file, as SageMaker's PyTorch container picks it."""
    preferred = model_dir / "model.pt"
    if preferred.is_file():
        return preferred
    candidates = sorted(p for p in model_dir.iterdir() if p.suffix in (".pt", ".pth") and p.is_file())
    if len(candidates) != 1:
        raise StartupError(
            f"Exactly one .pth or .pt file is required for PyTorch models in {model_dir}, found "
            f"{len(candidates)}; define model_fn(model_dir) in code/inference.py to load your model."
        )
    return candidates[0]


def default_model_fn(model_dir: Path, framework: str) -> Any:
    """Load a model with no model_fn: only PyTorch TorchScript has a SageMaker default."""
    has_torch_file = any(p.suffix in (".pt", ".pth") for p in model_dir.iterdir())
    if framework == "pytorch" or (framework == "auto" and has_torch_file):
        import torch

        path = torch_model_file(model_dir)
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except RuntimeError as exc:
            raise StartupError(
                f"Failed to load {path.name}: the default model_fn needs a model saved using TorchScript "
                f"(torch.jit.save). For a state dict, define model_fn(model_dir). ({exc})"
            ) from exc
    raise StartupError(
        "The inference script defines no model_fn, and SageMaker's default model_fn exists only for "
        "PyTorch TorchScript models (model.pt). Define model_fn(model_dir) to load your model."
    )


# --- input_fn -------------------------------------------------------------------------------


def default_input_fn(body: Any, content_type: str | None) -> Any:
    """Decode JSON, CSV, NPY or NPZ to a NumPy array (scikit-learn and generic defaults)."""
    return codecs.decode(body, content_type)


def torch_input_fn(body: Any, content_type: str | None) -> Any:
    """Decode, then a float tensor (JSON/CSV) or ``torch.from_numpy`` (NPY), as PyTorch's default.

    Input that cannot become a tensor (ragged lists, strings, sparse or text arrays) is a 400.
    """
    import torch

    data = codecs.decode(body, content_type)
    if content_type in (ct.JSON, ct.CSV):
        return torch.FloatTensor(codecs.as_array(data, "The input", np.float32))
    try:
        return torch.from_numpy(np.asarray(data))
    except TypeError as exc:
        raise BadRequest(f"PyTorch's default input_fn takes numeric arrays: {exc}") from None


# --- predict_fn -----------------------------------------------------------------------------


def sklearn_predict_fn(data: Any, model: Any) -> Any:
    """``model.predict``, with a 1-D input reshaped to one row; a ragged nested list is a 400."""
    if isinstance(data, np.ndarray) and data.ndim == 1:
        data = data.reshape(1, -1)
    try:
        return model.predict(data)
    except ValueError:
        # Looked for only after a failure: a list from the user's input_fn costs nothing when it is fine.
        ragged = codecs.ragged_where(data) if isinstance(data, (list, tuple)) else None
        if ragged is None:
            raise
        raise BadRequest(f"The input to predict is a ragged array: {ragged}; every row must have the same length.") from None


def torch_predict_fn(data: Any, model: Any) -> Any:
    """``model.eval()`` then ``model(data)`` under ``torch.no_grad()``."""
    import torch

    model.eval()
    with torch.no_grad():
        return model(data)


def missing_predict_fn(framework: str, model: Any) -> StartupError:
    """The error for a model with no predict_fn and no framework default."""
    return StartupError(
        f"model_fn returned a {type(model).__module__}.{type(model).__name__}, which has no SageMaker "
        "default predict_fn (that needs an object with .predict or a PyTorch module); define "
        "predict_fn(input_data, model) or transform_fn in your inference script."
    )


# --- output_fn ------------------------------------------------------------------------------


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    """Encode with the first type of the Accept list that has an encoder (JSON, CSV, NPY)."""
    return codecs.encode_first_acceptable(prediction, ct.parse_accept(accept))


def defaults_for(framework: str) -> dict[str, Any]:
    """The default input/predict/output functions of a framework (predict_fn None = no default)."""
    if framework == "pytorch":
        return {"input_fn": torch_input_fn, "predict_fn": torch_predict_fn, "output_fn": default_output_fn}
    if framework == "sklearn":
        return {"input_fn": default_input_fn, "predict_fn": sklearn_predict_fn, "output_fn": default_output_fn}
    return {"input_fn": default_input_fn, "predict_fn": None, "output_fn": default_output_fn}
