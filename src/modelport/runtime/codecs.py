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
    """JSON → ``np.array(json.loads(body))`` (as SageMaker's decoder)."""
    try:
        return np.array(orjson.loads(body))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}") from None


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

    The header is checked against the body first (``array_bounds.check_npy``).
    """
    data = _bytes(body)
    array_bounds.check_npy(data)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
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
