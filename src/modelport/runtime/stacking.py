"""Stacking decoded inputs for one predict call of SageMaker's default scikit-learn / PyTorch handlers.

Only arrays go together: NumPy arrays (scikit-learn) or tensors (PyTorch) of numbers whose rows have the
same trailing shape and the same dtype are concatenated along axis 0, the batch axis; anything else
(lists, data frames, scalars, a 1-D tensor whose axis 0 may not be a batch axis) is predicted on its own.
A 1-D NumPy array is one row, as the default scikit-learn predict_fn reshapes it. The prediction is split
back by each input's row count; one that does not have one row per input row cannot be split, and the
caller predicts those inputs one by one instead.
"""

from __future__ import annotations

from typing import Any, Hashable

import numpy as np

_NUMERIC = "biuf"


def group_key(framework: str, data: Any) -> Hashable | None:
    """Which inputs may share a predict call with ``data`` (None: predict it alone)."""
    if framework == "sklearn":
        if isinstance(data, np.ndarray) and data.dtype.kind in _NUMERIC and data.ndim in (1, 2):
            row = data.shape if data.ndim == 1 else data.shape[1:]
            return ("numpy", row, data.dtype.str)
        return None
    if framework == "pytorch" and type(data).__name__ == "Tensor" and type(data).__module__.startswith("torch"):
        import torch  # (imported already: data is a tensor)

        if data.ndim >= 2 and data.layout == torch.strided and not data.is_complex():
            return ("torch", tuple(data.shape[1:]), str(data.dtype), str(data.device))
    return None


def rows(data: Any) -> int:
    """How many rows ``data`` adds to a stack (a 1-D NumPy array is one row)."""
    return 1 if data.ndim == 1 else int(data.shape[0])


def stack(inputs: list[Any]) -> Any:
    """One array (or tensor) of all inputs' rows, in order."""
    first = inputs[0]
    if isinstance(first, np.ndarray):
        return np.concatenate([x.reshape(1, -1) if x.ndim == 1 else x for x in inputs], axis=0)
    import torch

    return torch.cat(inputs, dim=0)


def split(prediction: Any, counts: list[int]) -> list[Any] | None:
    """``prediction`` cut back into one piece per input (None: it does not have one row per input row)."""
    total = sum(counts)
    try:
        length = prediction.shape[0] if hasattr(prediction, "shape") else len(prediction)
    except (TypeError, IndexError):
        return None
    if length != total or isinstance(prediction, (str, bytes, dict)):
        return None
    pieces, start = [], 0
    for count in counts:
        pieces.append(prediction[start : start + count])
        start += count
    return pieces
