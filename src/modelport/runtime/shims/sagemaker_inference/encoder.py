"""Encoders, as ``sagemaker_inference.encoder``."""

from modelport.runtime import codecs as _codecs
from modelport.runtime.errors import NotAcceptable as _Unsupported

from sagemaker_inference import errors as _errors


def encode(array_like, content_type):
    """Encode ``array_like`` as ``content_type`` (JSON, CSV or NPY) bytes."""
    try:
        return _codecs.encode(array_like, content_type)
    except _Unsupported:
        raise _errors.UnsupportedFormatError(content_type) from None


def _array_to_json(array_like):
    return _codecs.encode_json(array_like).decode("utf-8")


def _array_to_npy(array_like):
    return _codecs.encode_npy(array_like)


def _array_to_csv(array_like):
    return _codecs.encode_csv(array_like).decode("utf-8")
