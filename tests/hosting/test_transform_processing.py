"""DataProcessing's pieces without hosting: SageMaker's JSONPath subset, CSV / JSON records, the join."""

from __future__ import annotations

import pytest

from modelport.hosting.transform.jsonpath import JsonPathError, NoMatch, parse
from modelport.hosting.transform.processing import DataProcessing

ROW = ["id7", "1.5", "2", "3", "4", "5"]
DOC = {"id": 1, "features": [1, 2, 3], "meta": {"a": "x"}}


@pytest.mark.parametrize("path, value, expected", [
    ("$", ROW, ROW),
    ("$[0]", ROW, "id7"),
    ("$[-1]", ROW, "5"),
    ("$[0,-1]", ROW, ["id7", "5"]),
    ("$[1:]", ROW, ROW[1:]),
    ("$[1:4]", ROW, ROW[1:5]),  # SageMaker: "second through fifth": the end is inclusive
    ("$[:2]", ROW, ROW[:3]),
    ("$[*]", ROW, ROW),
    ("$.features", DOC, [1, 2, 3]),
    ("$.features[1:]", DOC, [2, 3]),
    ("$['id','meta']", DOC, {"id": 1, "meta": {"a": "x"}}),
    ("$['meta'].a", DOC, "x"),
    ("$.*", {"a": 1, "b": 2}, [1, 2]),
])
def test_jsonpath_subset(path, value, expected):
    assert parse(path).apply(value) == expected


@pytest.mark.parametrize("path", ["features", "$..deep", "$[a]", "$[1:x]", "$.", "$['unterminated]"])
def test_jsonpath_refuses_what_sagemaker_does_not_document(path):
    with pytest.raises(JsonPathError) as refused:
        parse(path)
    assert "accepted:" in str(refused.value)


@pytest.mark.parametrize("path, value", [("$.missing", DOC), ("$[9]", ROW), ("$.id", ROW)])
def test_jsonpath_no_match(path, value):
    with pytest.raises(NoMatch):
        parse(path).apply(value)


def test_csv_filter_join_and_output_filter():
    dp = DataProcessing(parse("$[1:]"), parse("$[0,-2]"), True, "text/csv", "text/csv")
    kept, sent = dp.filter_input(b'id7,1.5,"2,5",3\n')
    assert kept == ["id7", "1.5", "2,5", "3"] and sent == b'1.5,"2,5",3\n'
    assert dp.finish(kept, b"9.0,3\n") == b"id7,9.0"


def test_json_join_of_an_object_and_of_a_non_object():
    dp = DataProcessing(parse("$.features"), parse("$"), True, "application/jsonlines", "application/jsonlines")
    kept, sent = dp.filter_input(b'{"id": 1, "features": [1, 2]}\n')
    assert sent == b"[1,2]\n"
    assert dp.finish(kept, b'{"y": 3}') == b'{"id":1,"features":[1,2],"SageMakerOutput":{"y":3}}'
    plain = DataProcessing(parse("$"), parse("$['SageMakerInput']"), True, "application/json", "application/json")
    kept, _ = plain.filter_input(b"[1, 2]")
    assert plain.finish(kept, b"7") == b"[1,2]"


def test_without_processing_bytes_pass_through():
    dp = DataProcessing(parse(None), parse("$"), False, "text/csv", "text/csv")
    assert not dp.active
    assert dp.filter_input(b"a,b\n") == (None, b"a,b\n")
