"""The default codecs and header parsers behave as SageMaker's toolkit (with the stated leniencies)."""

import io

import numpy as np
import pytest
import scipy.sparse

from modelport.runtime import codecs
from modelport.runtime import content_types as ct
from modelport.runtime.errors import BadRequest, NotAcceptable, UnsupportedMediaType


def test_media_type_strips_parameters_and_reads_charset():
    assert ct.media_type("Application/JSON; charset=UTF-8") == ("application/json", "utf-8")
    assert ct.media_type("text/csv;charset=latin-1") == ("text/csv", "latin-1")
    assert ct.media_type(None) == (None, "utf-8")


def test_parse_accept_keeps_order_and_skips_wildcards():
    assert ct.parse_accept("text/csv, */*, application/json;q=0.5") == ["text/csv", "application/json"]
    assert ct.parse_accept("*/*") == []


def test_decode_json_csv_npy_npz():
    assert codecs.decode("[[1, 2], [3, 4]]", ct.JSON).tolist() == [[1, 2], [3, 4]]
    assert codecs.decode("1,2,3\n4,5,6\n", ct.CSV).tolist() == [[1, 2, 3], [4, 5, 6]]
    assert codecs.decode("1,2,3", ct.CSV).shape == (3,)
    buffer = io.BytesIO()
    np.save(buffer, np.arange(6).reshape(2, 3))
    assert codecs.decode(buffer.getvalue(), ct.NPY).tolist() == [[0, 1, 2], [3, 4, 5]]
    sparse = io.BytesIO()
    scipy.sparse.save_npz(sparse, scipy.sparse.csr_matrix(np.eye(3)))
    assert codecs.decode(sparse.getvalue(), ct.NPZ).toarray().tolist() == np.eye(3).tolist()


def test_decode_errors_are_client_errors_that_say_what_is_accepted():
    with pytest.raises(UnsupportedMediaType, match="application/json, text/csv, application/x-npy"):
        codecs.decode(b"x", "image/png")
    with pytest.raises(BadRequest, match="not valid JSON"):
        codecs.decode("{nope", ct.JSON)
    with pytest.raises(BadRequest, match="comma-separated numbers"):
        codecs.decode("a,b,c", ct.CSV)
    with pytest.raises(BadRequest, match="npy"):
        codecs.decode(b"not an array", ct.NPY)
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(BadRequest, match="object arrays are refused"):
        codecs.decode(pickled.getvalue(), ct.NPY)


def test_encoders_match_sagemaker_shapes():
    array = np.array([[1, 2, 3], [4, 5, 6]])
    assert codecs.encode(array, ct.JSON) == b"[[1,2,3],[4,5,6]]"
    assert codecs.encode(array, ct.CSV) == b"1,2,3\n4,5,6\n"
    assert codecs.encode(np.array([1, 2]), ct.CSV) == b"1\n2\n"
    assert np.load(io.BytesIO(codecs.encode(array, ct.NPY))).tolist() == array.tolist()
    assert codecs.encode({"a": np.float32(0.5)}, ct.JSON) == b'{"a":0.5}'
    with pytest.raises(NotAcceptable, match="application/json, text/csv, application/x-npy"):
        codecs.encode(array, "image/png")


def test_first_acceptable_type_wins():
    body, chosen = codecs.encode_first_acceptable(np.array([1.5]), ["text/html", "text/csv", "application/json"])
    assert (body, chosen) == (b"1.5\n", "text/csv")
    with pytest.raises(NotAcceptable):
        codecs.encode_first_acceptable(np.array([1]), ["text/html"])


def test_torch_tensors_encode_like_arrays():
    import torch

    assert codecs.encode(torch.tensor([[1.0, 2.0]]), ct.JSON) == b"[[1.0,2.0]]"
