"""Decoders, as ``sagemaker_inference.decoder``."""

from modelport.runtime import codecs as _codecs
from modelport.runtime.errors import UnsupportedMediaType as _Unsupported

from sagemaker_inference import errors as _errors


def decode(obj, content_type):
    """Decode ``obj`` (str or bytes) of ``content_type`` to a NumPy array (or sparse matrix)."""
    try:
        return _codecs.decode(obj, content_type)
    except _Unsupported:
        raise _errors.UnsupportedFormatError(content_type) from None


def _json_to_numpy(string_like, dtype=None):
    import numpy as np

    return np.array(_codecs.decode_json(string_like), dtype=dtype)


def _csv_to_numpy(string_like, dtype=None):
    import numpy as np

    return np.array(_codecs.decode_csv(string_like), dtype=dtype)


def _npy_to_numpy(npy_array):
    return _codecs.decode_npy(npy_array)


def _npz_to_sparse(npz_bytes):
    return _codecs.decode_npz(npz_bytes)
