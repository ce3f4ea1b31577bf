"""SageMaker's default decoders and encoders: JSON, CSV, NPY (and NPZ for input).

Decoders take the request body (``str`` for JSON/CSV, ``bytes`` otherwise) and return a NumPy
array; encoders take a prediction (array, list, tensor, scalar) and return bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
import orjson

from modelport.runtime import array_bounds
from modelport.runtime import content_types as ct
from modelport.runtime.errors import BadRequest, NotAcceptable, UnsupportedMediaType

DECODABLE = (ct.JSON, ct.CSV, ct.NPY, ct.NPZ)
ENCODABLE = (ct.JSON, ct.CSV, ct.NPY)


def _text(body: str | bytes | bytearray) -> str:
    if isinstance(body, str):
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The body is not valid UTF-8 text: {exc}") from None


def _bytes(body: str | bytes | bytearray) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def decode_json(body: str | bytes) -> np.ndarray:
    """JSON → ``np.array(json.loads(body))`` (as SageMaker's decoder); a ragged nested list is a 400."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None
    return as_array(value, "The JSON body")


def as_array(value: Any, what: str, dtype: Any = None) -> np.ndarray:
    """``np.asarray(value, dtype)``, or a 400 naming where a nested list is ragged or not numeric."""
    try:
        return np.asarray(value, dtype=dtype)
    except (ValueError, TypeError) as exc:
        ragged = ragged_where(value)
        if ragged is not None:
            raise BadRequest(
                f"{what} is a ragged array: {ragged}. Send nested lists whose rows all have the same "
                "length, e.g. [[1, 2], [3, 4]]."
            ) from None
        wanted = f" of {np.dtype(dtype).name}" if dtype is not None else ""
        raise BadRequest(f"{what} cannot be read as an array{wanted}: {exc}") from None


def ragged_where(value: Any) -> str | None:
    """Where a nested list stops being rectangular (``"[1] has 1 item where [0] has 2"``), or None.

    The expected shape is read along the first items; then every node is checked against it, depth
    first with a stack of iterators (memory grows with the depth, not with the size).
    """
    shape: list[int] = []
    node = value
    while isinstance(node, (list, tuple)):
        shape.append(len(node))
        if not node:
            break
        node = node[0]
    problem = _mismatch((), value, shape)
    pending = [((), enumerate(value))] if problem is None and shape else []
    while pending and problem is None:
        path, children = pending[-1]
        step = next(children, None)
        if step is None:
            pending.pop()
            continue
        child_path, child = path + (step[0],), step[1]
        problem = _mismatch(child_path, child, shape)
        if isinstance(child, (list, tuple)):
            pending.append((child_path, enumerate(child)))
    return problem


def _mismatch(path: tuple[int, ...], node: Any, shape: list[int]) -> str | None:
    depth, is_list = len(path), isinstance(node, (list, tuple))
    if depth < len(shape) and not is_list:
        return f"{_where(path)} is a single value where {_where((0,) * depth)} is a list of {shape[depth]}"
    if depth >= len(shape) and is_list:
        return f"{_where(path)} is a list where {_where((0,) * depth)} is a single value"
    if is_list and len(node) != shape[depth]:
        items = f"{len(node)} item{'s' * (len(node) != 1)}"
        return f"{_where(path)} has {items} where {_where((0,) * depth)} has {shape[depth]}"
    return None


def _where(path: tuple[int, ...]) -> str:
    return "".join(f"[{index}]" for index in path) or "the top level"


def decode_csv(body: str | bytes) -> np.ndarray:
    """CSV of numbers → a float array; one row gives a 1-D array, several rows a 2-D array."""
    text = _text(body).strip()
    if not text:
        raise BadRequest("The CSV body is empty; send rows of comma-separated numbers.")
    try:
        return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64)
    except ValueError as exc:
        raise BadRequest(f"The CSV body must hold rows of comma-separated numbers: {exc}") from None


def decode_npy(body: str | bytes) -> np.ndarray:
    """NPY bytes → array (pickles refused, as the patched SageMaker scikit-learn images do).

    The header is checked against the body, then the data read from it (``array_bounds.load_npy``).
    """
    data = _bytes(body)
    try:
        return array_bounds.load_npy(data)
    except ValueError as exc:  # a dtype numpy cannot view the data as
        raise BadRequest(f"The body is not a valid .npy array (object arrays are refused): {exc}") from None


def decode_npz(body: str | bytes) -> Any:
    """NPZ bytes → a SciPy sparse matrix (``scipy.sparse.load_npz``, as SageMaker's decoder).

    The zip and its members are checked against their declared sizes first (``array_bounds.check_npz``).
    """
    import scipy.sparse

    data = _bytes(body)
    array_bounds.check_npz(data)
    try:
        return scipy.sparse.load_npz(io.BytesIO(data))
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise BadRequest(f"The body is not a valid sparse .npz matrix: {exc}") from None


_DECODERS = {ct.JSON: decode_json, ct.CSV: decode_csv, ct.NPY: decode_npy, ct.NPZ: decode_npz}


def decode(body: str | bytes, content_type: str | None) -> Any:
    """Decode a request body by its (bare) content type, or raise 415 naming the supported types."""
    decoder = _DECODERS.get(content_type or "")
    if decoder is None:
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not supported by the default input_fn; "
            f"send one of: {', '.join(DECODABLE)} (or define input_fn in your inference script)."
        )
    return decoder(body)


def to_numpy(value: Any) -> Any:
    """Tensors (PyTorch and friends) → NumPy arrays; anything else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def encode_json(value: Any) -> bytes:
    """Prediction → JSON bytes (arrays become nested lists)."""
    value = to_numpy(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        # Non-contiguous arrays, NumPy scalars inside lists, objects with tolist(): the slow, sure way.
        return json.dumps(value, default=_tolist).encode("utf-8")


def _tolist(value: Any) -> Any:
    value = to_numpy(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_csv(value: Any) -> bytes:
    """Prediction → CSV bytes: one line per row, a 1-D array gives one value per line."""
    array = np.asarray(to_numpy(value))
    buffer = io.StringIO()
    np.savetxt(buffer, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
    return buffer.getvalue().encode("utf-8")


def encode_npy(value: Any) -> bytes:
    """Prediction → NPY bytes."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(to_numpy(value)), allow_pickle=False)
    return buffer.getvalue()


_ENCODERS = {ct.JSON: encode_json, ct.CSV: encode_csv, ct.NPY: encode_npy}


def encode(value: Any, content_type: str) -> bytes:
    """Encode a prediction as the given content type, or raise 406 naming the supported types."""
    encoder = _ENCODERS.get(content_type)
    if encoder is None:
        raise NotAcceptable(
            f"Accept {content_type!r} is not supported by the default output_fn; "
            f"ask for one of: {', '.join(ENCODABLE)} (or define output_fn in your inference script)."
        )
    return encoder(value)


def encode_first_acceptable(value: Any, accept_types: list[str]) -> tuple[bytes, str]:
    """Encode with the first type of an Accept list that has an encoder; 406 if none has."""
    for media in accept_types:
        if media in _ENCODERS:
            return _ENCODERS[media](value), media
    raise NotAcceptable(
        f"None of the accepted types {', '.join(accept_types) or '(none)'} is supported by the default "
        f"output_fn; ask for one of: {', '.join(ENCODABLE)}."
    )
