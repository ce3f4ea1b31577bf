"""Encoders and decoders, as ``sagemaker_containers.beta.framework.encoders``."""

from modelport.runtime import codecs as _codecs
from modelport.runtime.errors import NotAcceptable as _NotAcceptable
from modelport.runtime.errors import UnsupportedMediaType as _Unsupported

from sagemaker_containers.beta.framework import errors as _errors


def decode(obj, content_type):
    """Decode ``obj`` of ``content_type`` to a NumPy array."""
    try:
        return _codecs.decode(obj, content_type)
    except _Unsupported:
        raise _errors.UnsupportedFormatError(content_type) from None


def encode(array_like, content_type):
    """Encode ``array_like`` as ``content_type`` bytes."""
    try:
        return _codecs.encode(array_like, content_type)
    except _NotAcceptable:
        raise _errors.UnsupportedFormatError(content_type) from None


def json_to_numpy(string_like, dtype=None):
    import numpy as np

    return np.array(_codecs.decode_json(string_like), dtype=dtype)


def csv_to_numpy(string_like, dtype=None):
    import numpy as np

    return np.array(_codecs.decode_csv(string_like), dtype=dtype)


def npy_to_numpy(npy_array):
    return _codecs.decode_npy(npy_array)


def array_to_json(array_like):
    return _codecs.encode_json(array_like).decode("utf-8")


def array_to_csv(array_like):
    return _codecs.encode_csv(array_like).decode("utf-8")


def array_to_npy(array_like):
    return _codecs.encode_npy(array_like)
