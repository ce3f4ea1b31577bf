"""hosting's S3 API against real clients (boto3 here; the SDKs and the AWS CLI in test_sdk_*.py and
test_aws_cli_s3.py): buckets, objects, Range and conditions, listing, copy, multipart, digests checked as
S3 checks them, S3's XML errors, virtual-hosted style, persistence, and s3:// model data."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import zlib

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.hosting import clients, deploy, make_archive, start_hosting, token_for
from modelport.hosting.s3 import MAX_REQUEST_BODY, MAX_UPLOAD_BODY
from modelport.hosting.s3.errors import S3Error
from modelport.hosting.s3.integrity import AwsChunkedDecoder, Expected
from modelport.objectstore import ObjectStore
from tests.helpers.net import connect, hosting_server, read_response

PART = 5 * 1024 * 1024


def s3_client(url: str, token: str | None = None, **config):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=token or token_for(url),
                        aws_secret_access_key="modelport", config=Config(s3=config or None, retries={"max_attempts": 1}))


def signed(service: str, url: str) -> dict[str, str]:
    """An Authorization header whose credential scope names ``service`` (hosting checks no signature)."""
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={token_for(url)}/20260101/us-east-1/{service}/aws4_request, "
                             f"SignedHeaders=host, Signature=00"}


def code_of(exc: ClientError) -> tuple[str, int]:
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(fresh_hosting):
    client = s3_client(fresh_hosting.url)
    client.create_bucket(Bucket="models")
    return client


def test_buckets(fresh_hosting, s3):
    with pytest.raises(ClientError) as again:
        s3.create_bucket(Bucket="models")
    assert code_of(again.value) == ("BucketAlreadyOwnedByYou", 409)
    with pytest.raises(ClientError) as bad:
        s3.create_bucket(Bucket="Bad_Name")
    assert code_of(bad.value) == ("InvalidBucketName", 400)
    s3.create_bucket(Bucket="eu-models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["eu-models", "models"]
    assert s3.get_bucket_location(Bucket="eu-models")["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_location(Bucket="models")["LocationConstraint"] is None  # us-east-1, as S3 says it
    assert s3.head_bucket(Bucket="eu-models")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket="nothing-here")
    assert code_of(missing.value) == ("404", 404)
    s3.put_object(Bucket="models", Key="k", Body=b"x")
    with pytest.raises(ClientError) as full:
        s3.delete_bucket(Bucket="models")
    assert code_of(full.value) == ("BucketNotEmpty", 409)
    s3.delete_bucket(Bucket="eu-models")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["models"]


def test_objects_ranges_and_conditions(s3):
    body = bytes(range(256)) * 10
    put = s3.put_object(Bucket="models", Key="dir/blob.bin", Body=body, ContentType="application/x-thing",
                        Metadata={"owner": "me"}, CacheControl="no-cache")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket="models", Key="dir/blob.bin")
    assert got["Body"].read() == body and got["ContentType"] == "application/x-thing"
    assert got["Metadata"] == {"owner": "me"} and got["CacheControl"] == "no-cache" and got["ContentLength"] == len(body)
    head = s3.head_object(Bucket="models", Key="dir/blob.bin")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    for spec, expected in (("bytes=1-3", body[1:4]), ("bytes=2550-", body[2550:]), ("bytes=-4", body[-4:]),
                           ("bytes=10-99999", body[10:])):
        part = s3.get_object(Bucket="models", Key="dir/blob.bin", Range=spec)
        assert part["Body"].read() == expected and part["ResponseMetadata"]["HTTPStatusCode"] == 206, spec
        assert part["ContentRange"].endswith(f"/{len(body)}")
    with pytest.raises(ClientError) as unsatisfiable:
        s3.get_object(Bucket="models", Key="dir/blob.bin", Range=f"bytes={len(body)}-")
    assert code_of(unsatisfiable.value) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as changed:
        s3.get_object(Bucket="models", Key="dir/blob.bin", IfMatch='"0000"')
    assert code_of(changed.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as same:
        s3.get_object(Bucket="models", Key="dir/blob.bin", IfNoneMatch=put["ETag"])
    assert code_of(same.value)[1] == 304
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket="models", Key="dir/blob.bin", Body=b"new", IfNoneMatch="*")
    assert code_of(exists.value) == ("PreconditionFailed", 412)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="models", Key="dir/none")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_object(Bucket="no-bucket", Key="k")
    s3.delete_object(Bucket="models", Key="dir/blob.bin")
    s3.delete_object(Bucket="models", Key="dir/blob.bin")  # deleting a missing key succeeds, as on S3
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket="models", Key="dir/blob.bin")
    assert code_of(gone.value) == ("404", 404)


def test_errors_are_s3_xml(fresh_hosting, s3):
    response = httpx.get(f"{fresh_hosting.url}/models/missing.txt", headers=signed("s3", fresh_hosting.url))
    assert response.status_code == 404 and response.headers["content-type"] == "application/xml"
    assert "<Code>NoSuchKey</Code>" in response.text and "<Key>missing.txt</Key>" in response.text
    acl = httpx.get(f"{fresh_hosting.url}/models?acl", headers=signed("s3", fresh_hosting.url))
    assert acl.status_code == 501 and "<Code>NotImplemented</Code>" in acl.text
    assert "GET /models" in acl.text


def test_digests_are_checked(fresh_hosting, s3):
    body = b"model bytes"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket="models", Key="ok", Body=body, ContentMD5=md5)
    url, headers = f"{fresh_hosting.url}/models/k", signed("s3", fresh_hosting.url)
    wrong_md5 = httpx.put(url, content=body, headers={**headers, "Content-MD5": base64.b64encode(b"0" * 16).decode()})
    assert wrong_md5.status_code == 400 and "<Code>BadDigest</Code>" in wrong_md5.text
    invalid_md5 = httpx.put(url, content=body, headers={**headers, "Content-MD5": "not-base64!"})
    assert invalid_md5.status_code == 400 and "<Code>InvalidDigest</Code>" in invalid_md5.text
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert httpx.put(url, content=body, headers={**headers, "x-amz-checksum-crc32": crc}).status_code == 200
    bad_crc = httpx.put(url, content=body + b"!", headers={**headers, "x-amz-checksum-crc32": crc})
    assert bad_crc.status_code == 400 and "CRC32 you specified did not match" in bad_crc.text
    bad_sha = httpx.put(url, content=body, headers={**headers, "x-amz-content-sha256": "0" * 64})
    assert bad_sha.status_code == 400 and "<Code>XAmzContentSHA256Mismatch</Code>" in bad_sha.text
    # an aws-chunked body with a trailing checksum (how botocore sends over HTTPS)
    chunked = (b"5\r\nmodel\r\n6\r\n bytes\r\n0\r\nx-amz-checksum-crc32:" + base64.b64encode(
        zlib.crc32(body).to_bytes(4, "big")) + b"\r\n\r\n")
    ok = httpx.put(f"{fresh_hosting.url}/models/chunked", content=chunked, headers={
        **headers, "Content-Encoding": "aws-chunked", "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(body)), "x-amz-trailer": "x-amz-checksum-crc32"})
    assert ok.status_code == 200, ok.text
    assert s3.get_object(Bucket="models", Key="chunked")["Body"].read() == body
    assert s3.get_object(Bucket="models", Key="k")["Body"].read() == body  # the refused PUTs changed nothing


def test_listing_prefix_delimiter_and_pages(s3):
    keys = ["a/1", "a/2", "a/b/3", "a/b/4", "a/c/5", "b/6", "top", "ü space/7"]
    for key in keys:
        s3.put_object(Bucket="models", Key=key, Body=key.encode())
    everything = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket="models", PaginationConfig={"PageSize": 3}) for o in page.get("Contents", [])]
    assert everything == sorted(keys, key=lambda k: k.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="models", Prefix="a/", Delimiter="/",
                                                             PaginationConfig={"PageSize": 2}))
    assert [len(p.get("Contents", [])) + len(p.get("CommonPrefixes", [])) for p in pages] == [2, 2]
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["a/1", "a/2"]
    assert [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])] == ["a/b/", "a/c/"]
    top = s3.list_objects_v2(Bucket="models", Delimiter="/")
    assert [c["Prefix"] for c in top["CommonPrefixes"]] == ["a/", "b/", "ü space/"]
    assert [o["Key"] for o in top["Contents"]] == ["top"] and top["KeyCount"] == 4
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="models", StartAfter="b/6")["Contents"]] == ["top", "ü space/7"]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket="models", Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert [c["Prefix"] for p in v1 for c in p.get("CommonPrefixes", [])] == ["a/", "b/", "ü space/"]


def test_copy_and_delete_objects(fresh_hosting, s3):
    s3.put_object(Bucket="models", Key="src", Body=b"payload", ContentType="text/plain", Metadata={"v": "1"})
    s3.copy_object(Bucket="models", Key="kept", CopySource={"Bucket": "models", "Key": "src"})
    kept = s3.get_object(Bucket="models", Key="kept")
    assert kept["Body"].read() == b"payload" and kept["Metadata"] == {"v": "1"} and kept["ContentType"] == "text/plain"
    s3.copy_object(Bucket="models", Key="replaced", CopySource="models/src", MetadataDirective="REPLACE",
                   Metadata={"v": "2"}, ContentType="application/json")
    replaced = s3.head_object(Bucket="models", Key="replaced")
    assert replaced["Metadata"] == {"v": "2"} and replaced["ContentType"] == "application/json"
    with pytest.raises(ClientError) as to_itself:
        s3.copy_object(Bucket="models", Key="src", CopySource="models/src")
    assert code_of(to_itself.value) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as no_source:
        s3.copy_object(Bucket="models", Key="x", CopySource="models/none")
    assert code_of(no_source.value) == ("NoSuchKey", 404)
    deleted = s3.delete_objects(Bucket="models", Delete={"Objects": [{"Key": "kept"}, {"Key": "never-there"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["kept", "never-there"]
    unprotected = httpx.post(f"{fresh_hosting.url}/models?delete", headers=signed("s3", fresh_hosting.url),
                             content=b"<Delete><Object><Key>src</Key></Object></Delete>")
    assert unprotected.status_code == 400 and "Content-MD5" in unprotected.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="models")["Contents"]] == ["replaced", "src"]


def test_multipart_upload(s3):
    parts = [os.urandom(PART), os.urandom(PART), b"tail"]
    upload = s3.create_multipart_upload(Bucket="models", Key="big", ContentType="application/gzip")["UploadId"]
    etags = [s3.upload_part(Bucket="models", Key="big", UploadId=upload, PartNumber=n, Body=data)["ETag"]
             for n, data in enumerate(parts, 1)]
    listed = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
    with pytest.raises(ClientError) as order:
        s3.complete_multipart_upload(Bucket="models", Key="big", UploadId=upload,
                                     MultipartUpload={"Parts": [listed[1], listed[0]]})
    assert code_of(order.value) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as wrong:
        s3.complete_multipart_upload(Bucket="models", Key="big", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert code_of(wrong.value) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as small:
        s3.complete_multipart_upload(Bucket="models", Key="big", UploadId=upload,
                                     MultipartUpload={"Parts": [listed[2], {"PartNumber": 4, "ETag": etags[2]}]})
    assert code_of(small.value) == ("InvalidPart", 400)  # part 4 was never uploaded
    done = s3.complete_multipart_upload(Bucket="models", Key="big", UploadId=upload, MultipartUpload={"Parts": listed})
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-3"
    assert done["ETag"] == f'"{expected}"'
    got = s3.get_object(Bucket="models", Key="big")
    assert got["Body"].read() == b"".join(parts) and got["ContentType"] == "application/gzip"
    with pytest.raises(ClientError) as completed:
        s3.upload_part(Bucket="models", Key="big", UploadId=upload, PartNumber=1, Body=b"late")
    assert code_of(completed.value) == ("NoSuchUpload", 404)
    small_upload = s3.create_multipart_upload(Bucket="models", Key="small")["UploadId"]
    tiny = [s3.upload_part(Bucket="models", Key="small", UploadId=small_upload, PartNumber=n, Body=b"x")["ETag"]
            for n in (1, 2)]
    with pytest.raises(ClientError) as too_small:
        s3.complete_multipart_upload(Bucket="models", Key="small", UploadId=small_upload, MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(tiny, 1)]})
    assert code_of(too_small.value) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket="models", Key="small", UploadId=small_upload)
    with pytest.raises(ClientError) as aborted:
        s3.abort_multipart_upload(Bucket="models", Key="small", UploadId=small_upload)
    assert code_of(aborted.value) == ("NoSuchUpload", 404)


def test_virtual_hosted_style(fresh_hosting, s3, monkeypatch):
    port = fresh_hosting.port
    raw = httpx.put(f"{fresh_hosting.url}/from-host.txt", content=b"virtual", headers={
        **signed("s3", fresh_hosting.url), "Host": f"models.localhost:{port}"})
    assert raw.status_code == 200
    assert s3.get_object(Bucket="models", Key="from-host.txt")["Body"].read() == b"virtual"
    on_ip = httpx.get(f"{fresh_hosting.url}/from-host.txt", headers={**signed("s3", fresh_hosting.url), "Host": f"models.127.0.0.1:{port}"})
    assert on_ip.content == b"virtual"
    # botocore with a host name sends bucket.localhost: resolve *.localhost to loopback, as systemd-resolved does
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if str(host).endswith(".localhost") else host, *a, **k))
    virtual = s3_client(f"http://localhost:{port}", token_for(fresh_hosting.url), addressing_style="virtual")
    sent = []
    virtual.meta.events.register("before-send.s3.*", lambda request, **_: sent.append(request.url))
    virtual.put_object(Bucket="models", Key="v/boto.txt", Body=b"boto virtual")
    assert virtual.get_object(Bucket="models", Key="v/boto.txt")["Body"].read() == b"boto virtual"
    assert sent[0] == f"http://models.localhost:{port}/v/boto.txt"
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket="models", Prefix="v/")["Contents"]] == ["v/boto.txt"]


def test_objects_survive_a_restart_and_crash_leftovers_are_removed(tmp_path):
    home = tmp_path / "home"
    server = start_hosting(home)
    client = s3_client(server.url)
    client.create_bucket(Bucket="models")
    client.put_object(Bucket="models", Key="kept.bin", Body=b"still here")
    server.stop()
    # what a kill -9 between writing a body and committing its row leaves behind
    (home / "s3" / "tmp" / "half-written").write_bytes(b"partial")
    orphan = home / "s3" / "blobs" / "zz" / "orphan"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"never committed")
    server = start_hosting(home)
    try:
        client = s3_client(server.url)
        assert client.get_object(Bucket="models", Key="kept.bin")["Body"].read() == b"still here"
        assert not orphan.exists() and list((home / "s3" / "tmp").iterdir()) == []
    finally:
        server.stop()
    store = ObjectStore(home / "s3")
    assert store.head_object("models", "kept.bin").size == len(b"still here")
    store.close()


def test_s3_model_data_from_the_local_store(fresh_hosting, s3, tmp_path):
    archive = make_archive(tmp_path / "model", scale=4.0)
    s3.upload_file(str(archive), "models", "m/model.tar.gz")
    sm, rt = clients(fresh_hosting.url)
    with pytest.raises(ClientError) as missing:
        sm.create_model(ModelName="absent", ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
                        PrimaryContainer={"Image": "modelport", "ModelDataUrl": "s3://models/m/none.tar.gz"})
    assert "Could not find model data at s3://models/m/none.tar.gz" in str(missing.value)
    deploy(sm, "from-s3", "s3://models/m/model.tar.gz")
    answer = rt.invoke_endpoint(EndpointName="from-s3", Body=b'{"x": 2}', ContentType="application/json")
    assert b'"y": 8.0' in answer["Body"].read()


def test_sagemaker_payload_limit_still_holds(fresh_hosting):
    sm, rt = clients(fresh_hosting.url)
    with pytest.raises(ClientError) as large:
        rt.invoke_endpoint(EndpointName="anything", Body=b"0" * (6 * 1024 * 1024 + 1), ContentType="text/csv")
    assert code_of(large.value)[0] == "ValidationError"


def test_bodies_over_the_limit_are_refused_from_the_head_in_each_protocols_shape(fresh_hosting):
    """The server refuses from Content-Length, before the body is sent; the answer is in the protocol of the
    service the request is signed for (S3's XML, the query protocol's XML, SageMaker's JSON)."""
    sagemaker = 6 * 1024 * 1024 + 1
    cases = [("PUT /models/big.bin", "s3", MAX_UPLOAD_BODY + 1, 400, "EntityTooLarge"),
             ("PUT /models/big.bin?partNumber=1&uploadId=u", "s3", MAX_UPLOAD_BODY + 1, 400, "EntityTooLarge"),
             ("POST /models?delete", "s3", MAX_REQUEST_BODY + 1, 400, "MaxMessageLengthExceeded"),
             ("POST /", "sts", sagemaker, 413, "PayloadTooLarge"),
             ("POST /endpoints/x/invocations", "sagemaker", sagemaker, 413, "ValidationError"),
             ("POST /", "sagemaker", sagemaker, 413, "SerializationException")]
    for line, service, length, status, code in cases:
        headers = {**signed(service, fresh_hosting.url), "Host": fresh_hosting.url.split("//")[1], "Content-Length": str(length)}
        if line == "POST /" and service == "sagemaker":
            headers["X-Amz-Target"] = "SageMaker.ListModels"
        with connect(int(fresh_hosting.url.rsplit(":", 1)[1])) as sock:
            sock.sendall(f"{line} HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
                         + b"\r\n")
            answer, answer_headers, body = read_response(sock)  # without sending a byte of the body
        assert (answer, answer_headers["connection"]) == (status, "close"), (line, service, body)
        if service == "sagemaker":
            assert body.startswith(b"{") and answer_headers["x-amzn-errortype"] == code, body
        else:
            assert f"<Code>{code}</Code>".encode() in body, body
        if code == "EntityTooLarge":
            assert f"<MaxSizeAllowed>{MAX_UPLOAD_BODY}</MaxSizeAllowed>".encode() in body


def test_other_aws_apis(fresh_hosting):
    kw = dict(endpoint_url=fresh_hosting.url, region_name="us-east-1", aws_access_key_id=token_for(fresh_hosting.url),
              aws_secret_access_key="modelport")
    identity = boto3.client("sts", **kw).get_caller_identity()
    assert identity["Account"] == "123456789012"
    iam = boto3.client("iam", **kw)
    role = iam.get_role(RoleName="my-role")["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/my-role"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == "sagemaker.amazonaws.com"
    results = iam.simulate_principal_policy(PolicySourceArn=role["Arn"], ActionNames=["s3:GetObject", "sagemaker:*"])
    assert [r["EvalDecision"] for r in results["EvaluationResults"]] == ["allowed", "allowed"]
    with pytest.raises(ClientError) as iam_unknown:
        iam.list_users()
    assert code_of(iam_unknown.value) == ("InvalidAction", 400) and "ListUsers" in str(iam_unknown.value)
    with pytest.raises(ClientError) as logs:
        boto3.client("logs", **kw).filter_log_events(logGroupName="/aws/sagemaker/Endpoints/x")
    assert code_of(logs.value) == ("AccessDeniedException", 400)
    with pytest.raises(ClientError) as ecr:
        boto3.client("ecr", **kw).describe_repositories()
    assert code_of(ecr.value)[0] == "UnknownOperationException" and "DescribeRepositories" in str(ecr.value)


def test_an_upload_goes_to_disk_as_it_arrives_not_into_memory(tmp_path):
    """A 256 MiB PutObject in one request (over the 128 MiB hosting buffered before) through a `modelport
    hosting` process: stored whole and intact while the process's peak memory grows by far less than the body."""
    server = hosting_server(tmp_path).start()
    try:
        token = (tmp_path / "home" / "hosting" / "token").read_text().strip()
        s3 = s3_client(server.url, token)
        s3.create_bucket(Bucket="big")
        peak_before = _peak_rss(server.process.pid)
        size, piece = 256 * 1024 * 1024, os.urandom(1024 * 1024)

        def body():
            for _ in range(size // len(piece)):
                yield piece

        answer = httpx.put(f"{server.url}/big/model.tar.gz", content=body(), timeout=120, headers={
            **_signed_with(token, "s3"), "Content-Length": str(size), "Content-Type": "application/gzip"})
        assert answer.status_code == 200, answer.text
        grown = _peak_rss(server.process.pid) - peak_before
        assert grown < 64 * 1024 * 1024, f"peak memory grew by {grown / 2**20:.0f} MiB for a 256 MiB body"
        expected = hashlib.md5(piece * (size // len(piece))).hexdigest()
        head = s3.head_object(Bucket="big", Key="model.tar.gz")
        assert head["ContentLength"] == size and head["ETag"] == f'"{expected}"'
        got = hashlib.md5()
        for chunk in s3.get_object(Bucket="big", Key="model.tar.gz")["Body"].iter_chunks(1 << 20):
            got.update(chunk)
        assert got.hexdigest() == expected
    finally:
        server.stop()


def test_an_upload_refused_before_its_body_stores_nothing_and_the_answer_arrives(fresh_hosting, s3):
    """NoSuchBucket (and a wrong token) are answered before a streamed body is read; the client still
    sending its 20 MB body reads the answer (lingering close), and nothing is left on disk."""
    url = fresh_hosting.url
    blob = b"z" * (20 * 1024 * 1024)
    missing = httpx.put(f"{url}/no-such-bucket/k", content=blob, headers=signed("s3", url), timeout=30)
    assert missing.status_code == 404 and "<Code>NoSuchBucket</Code>" in missing.text
    wrong = httpx.put(f"{url}/models/k", content=blob, headers=_signed_with("not-the-token-000000", "s3"), timeout=30)
    assert wrong.status_code == 403 and "<Code>InvalidAccessKeyId</Code>" in wrong.text
    assert "Contents" not in s3.list_objects_v2(Bucket="models")
    temp = fresh_hosting.home / "s3" / "tmp"  # where bodies are written before they are renamed into place
    assert not temp.exists() or list(temp.iterdir()) == []


def aws_chunked(payload: bytes, sizes: list[int], trailer: bytes = b"") -> bytes:
    """``payload`` framed as aws-chunked with chunks of ``sizes`` (signature extensions included)."""
    out, at = b"", 0
    for size in sizes:
        out += b"%x;chunk-signature=%s\r\n%s\r\n" % (size, b"0" * 64, payload[at:at + size])
        at += size
    return out + b"0;chunk-signature=" + b"0" * 64 + b"\r\n" + trailer + b"\r\n"


def test_aws_chunked_bodies_decode_the_same_whatever_pieces_they_arrive_in():
    payload = os.urandom(5000)
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big"))
    body = aws_chunked(payload, [4096, 904], b"x-amz-checksum-crc32:" + crc + b"\r\n")
    for step in (1, 2, 7, 100, 4097, len(body)):
        expected = Expected()
        decoder = AwsChunkedDecoder(expected)
        decoded = b"".join(bytes(piece) for at in range(0, len(body), step) for piece in decoder.feed(body[at:at + step]))
        decoder.finish()
        assert decoded == payload and expected.checksums["crc32"] == zlib.crc32(payload).to_bytes(4, "big"), step
    for broken in (body[:-40], body[:100], b"zz\r\nab\r\n0\r\n\r\n", b"2\r\nabc\r\n0\r\n\r\n", b"1" * 5000):
        decoder = AwsChunkedDecoder(Expected())
        with pytest.raises(S3Error) as refused:
            for at in range(0, len(broken), 3):
                decoder.feed(broken[at:at + 3])
            decoder.finish()
        assert refused.value.code == "IncompleteBody", broken[:30]


def _signed_with(token: str, service: str) -> dict[str, str]:
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential={token}/20260101/us-east-1/{service}/aws4_request, "
                             f"SignedHeaders=host, Signature=00"}


def _peak_rss(pid: int) -> int:
    """A process's peak resident memory so far (VmHWM), in bytes."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
