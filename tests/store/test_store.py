"""The artifact store: plain paths, file:// URIs, and s3:// through boto3 against moto's S3 server."""

from __future__ import annotations

import pytest

from tests.helpers.hosting import MotoS3
from modelport import store


@pytest.fixture
def moto_s3(monkeypatch):
    server = MotoS3(monkeypatch)
    server.client.create_bucket(Bucket="models")
    yield server
    server.stop()


def test_parse_uri_forms(tmp_path):
    assert store.parse_uri("s3://bucket/a/b.tar.gz") == store.ParsedUri("s3", bucket="bucket", key="a/b.tar.gz")
    assert store.parse_uri(f"file://{tmp_path}/x").path == tmp_path / "x"
    assert store.parse_uri("rel/x.tar.gz").path.as_posix() == "rel/x.tar.gz"
    assert store.local_path("s3://b/k") is None
    with pytest.raises(store.StoreError, match="unsupported scheme 'gs'"):
        store.parse_uri("gs://bucket/key")
    with pytest.raises(store.StoreError, match="has no bucket"):
        store.parse_uri("s3:///key")


def test_local_files_round_trip(tmp_path):
    target = tmp_path / "deep" / "dir" / "a.bin"
    store.write_bytes(f"file://{target}", b"abc")
    assert store.read_bytes(str(target)) == b"abc"
    assert store.exists(target) and not store.exists(tmp_path / "missing")
    copy = store.download(target, tmp_path / "copy.bin")
    assert copy.read_bytes() == b"abc"
    assert store.upload(copy, tmp_path / "up" / "b.bin") == str(tmp_path / "up" / "b.bin")
    assert (tmp_path / "up" / "b.bin").read_bytes() == b"abc"
    assert [p.name for p in (tmp_path / "up").iterdir()] == ["b.bin"]  # no temporary files left
    with pytest.raises(store.StoreError, match="no such file"):
        store.download(tmp_path / "missing", tmp_path / "x")


def test_s3_round_trip_through_an_s3_compatible_server(moto_s3, tmp_path):
    source = tmp_path / "model.tar.gz"
    source.write_bytes(b"\x1f\x8b" + b"x" * 1000)
    store.upload(source, "s3://models/v1/model.tar.gz")
    assert moto_s3.client.get_object(Bucket="models", Key="v1/model.tar.gz")["Body"].read() == source.read_bytes()
    assert store.exists("s3://models/v1/model.tar.gz")
    assert not store.exists("s3://models/v1/other.tar.gz")
    fetched = store.download("s3://models/v1/model.tar.gz", tmp_path / "out" / "model.tar.gz")
    assert fetched.read_bytes() == source.read_bytes()
    store.write_bytes("s3://models/notes.txt", b"hello")
    assert store.read_bytes("s3://models/notes.txt") == b"hello"
    with pytest.raises(store.StoreError, match="cannot download s3://models/missing"):
        store.download("s3://models/missing", tmp_path / "missing")
    assert not list(tmp_path.glob("*.part"))
