"""The S3 port with real noded processes and real S3 clients: boto3 (botocore's own signing, payload
modes and checksums) and plain urllib for presigned URLs and anonymous reads, through more than
one node of a TLS cluster."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import io
import http.client
import json
import os
import ssl
import time
import unittest.mock
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from node.s3 import sigv4
from ringstore.auth.credentials import Credentials

CLUSTER_NODES = 3
REGION = "ringstore"


def s3_client(node, credentials: Credentials, **config):
    config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
    s3 = config.pop("s3", {})
    s3.setdefault("addressing_style", "path")
    region = config.pop("region_name", REGION)
    return boto3.client("s3", endpoint_url=node.s3_address, aws_access_key_id=credentials.key_id,
                        aws_secret_access_key=credentials.secret, region_name=region,
                        verify=os.environ["RINGSTORE_CA"], config=Config(s3=s3, **config))


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ["RINGSTORE_CA"])


def error_code(info: pytest.ExceptionInfo) -> tuple[str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def s3(module_cluster, session_operator):
    """(cluster, one boto3 client per node, the operator's credentials), with bucket `s3-data`."""
    nodes = list(module_cluster.nodes.values())
    clients = [s3_client(node, session_operator) for node in nodes]
    clients[0].create_bucket(Bucket="s3-data")
    return module_cluster, clients, session_operator


def test_every_node_serves_s3_and_cluster_sim_lists_it(s3):
    cluster, clients, _ = s3
    for node in cluster.nodes.values():
        assert node.s3_address.startswith("https://127.0.0.1:"), node.s3_address
    assert all(entry["s3_address"] for entry in cluster.status().values())


def test_put_through_one_node_and_get_through_another(s3):
    _, clients, _ = s3
    data = os.urandom(3 * 1024 * 1024 + 17)
    put = clients[0].put_object(Bucket="s3-data", Key="dir/blob.bin", Body=data, ContentType="application/x-test",
                                Metadata={"colour": "blue"}, CacheControl="max-age=60",
                                ContentDisposition='attachment; filename="blob.bin"')
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = clients[1].get_object(Bucket="s3-data", Key="dir/blob.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"colour": "blue"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="blob.bin"'
    assert got["ContentLength"] == len(data)
    head = clients[2].head_object(Bucket="s3-data", Key="dir/blob.bin")
    assert head["ContentLength"] == len(data) and head["ETag"] == put["ETag"]


def test_native_stat_shows_the_etag_and_s3_shows_native_objects(s3):
    cluster, clients, operator = s3
    clients[0].put_object(Bucket="s3-data", Key="seen/natively", Body=b"abc", ContentEncoding="gzip")
    with cluster.client(credentials=operator) as native:
        stat = native.stat("s3-data", "seen/natively")
        assert stat.info.etag == hashlib.md5(b"abc").hexdigest()
        assert stat.info.headers == {"content-encoding": "gzip"}
        native.put("s3-data", "seen/from-grpc", b"native bytes")
        native_etag = native.stat("s3-data", "seen/from-grpc").info.etag
    got = clients[1].get_object(Bucket="s3-data", Key="seen/from-grpc")
    assert got["Body"].read() == b"native bytes"
    # Not an MD5 (native puts do not compute one): S3's multipart shape, so tools do not compare it.
    assert got["ETag"] == f'"{native_etag}"' and native_etag.endswith("-1") and len(native_etag) == 34


def test_small_and_empty_objects_and_odd_keys(s3):
    _, clients, _ = s3
    for key, data in [("empty", b""), ("tiny", b"x"), ("spaces and+plus/ü ñ 日本", b"unicode"),
                      ("a//double/./dots/../x", b"odd path"), ("q?x=1&y#z", b"query chars")]:
        clients[0].put_object(Bucket="s3-data", Key=key, Body=data)
        assert clients[1].get_object(Bucket="s3-data", Key=key)["Body"].read() == data, key


def test_ranges_and_conditions(s3):
    _, clients, _ = s3
    data = bytes(range(256)) * 40
    etag = clients[0].put_object(Bucket="s3-data", Key="ranged", Body=data)["ETag"]
    c = clients[1]
    part = c.get_object(Bucket="s3-data", Key="ranged", Range="bytes=10-19")
    assert part["Body"].read() == data[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(data)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert c.get_object(Bucket="s3-data", Key="ranged", Range="bytes=10000-")["Body"].read() == data[10000:]
    assert c.get_object(Bucket="s3-data", Key="ranged", Range="bytes=-7")["Body"].read() == data[-7:]
    with pytest.raises(ClientError) as info:
        c.get_object(Bucket="s3-data", Key="ranged", Range=f"bytes={len(data)}-")
    assert error_code(info) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as info:
        c.get_object(Bucket="s3-data", Key="ranged", IfNoneMatch=etag)
    assert error_code(info)[1] == 304
    with pytest.raises(ClientError) as info:
        c.get_object(Bucket="s3-data", Key="ranged", IfMatch='"0123"')
    assert error_code(info) == ("PreconditionFailed", 412)
    assert c.get_object(Bucket="s3-data", Key="ranged", IfMatch=etag)["Body"].read() == data
    overridden = c.get_object(Bucket="s3-data", Key="ranged", ResponseContentType="text/plain",
                              ResponseContentDisposition="inline")
    assert overridden["ContentType"] == "text/plain" and overridden["ContentDisposition"] == "inline"


def test_listing_with_delimiter_and_pages_over_thousands_of_keys(s3):
    cluster, clients, operator = s3
    c = clients[0]
    c.create_bucket(Bucket="s3-list")
    keys = [f"photos/{year}/{i:04d}.jpg" for year in (2024, 2025) for i in range(1100)]
    keys += [f"docs/{i}.txt" for i in range(30)] + ["top.txt", "ü/x"]
    with cluster.client(credentials=operator) as native:  # fill through the native client: faster
        for key in keys:
            native.put("s3-list", key, b"k")
    seen = []
    for page in c.get_paginator("list_objects_v2").paginate(Bucket="s3-list", PaginationConfig={"PageSize": 700}):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    top = c.list_objects_v2(Bucket="s3-list", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["docs/", "photos/", "ü/"]
    assert [o["Key"] for o in top["Contents"]] == ["top.txt"]
    years = clients[1].list_objects_v2(Bucket="s3-list", Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in years["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    # Version 1 with a marker, one common prefix per page.
    v1 = clients[2].list_objects(Bucket="s3-list", Delimiter="/", MaxKeys=1)
    assert v1["IsTruncated"] and [p["Prefix"] for p in v1["CommonPrefixes"]] == ["docs/"]
    v1 = clients[2].list_objects(Bucket="s3-list", Delimiter="/", MaxKeys=1, Marker=v1["NextMarker"])
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["photos/"]
    after = c.list_objects_v2(Bucket="s3-list", StartAfter="photos/2025/1098.jpg")
    assert [o["Key"] for o in after["Contents"]] == ["photos/2025/1099.jpg", "top.txt", "ü/x"]


def test_buckets(s3):
    _, clients, _ = s3
    c = clients[0]
    c.create_bucket(Bucket="s3-made", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert "s3-made" in [b["Name"] for b in clients[1].list_buckets()["Buckets"]]
    clients[1].head_bucket(Bucket="s3-made")
    assert clients[2].get_bucket_location(Bucket="s3-made")["LocationConstraint"] == REGION
    with pytest.raises(ClientError) as info:
        c.create_bucket(Bucket="s3-made")
    assert error_code(info) == ("BucketAlreadyOwnedByYou", 409)
    c.put_object(Bucket="s3-made", Key="k", Body=b"v")
    with pytest.raises(ClientError) as info:
        c.delete_bucket(Bucket="s3-made")
    assert error_code(info) == ("BucketNotEmpty", 409)
    c.delete_object(Bucket="s3-made", Key="k")
    c.delete_object(Bucket="s3-made", Key="never-there")  # S3: deleting what is absent succeeds
    c.delete_bucket(Bucket="s3-made")
    with pytest.raises(ClientError) as info:
        clients[1].head_bucket(Bucket="s3-made")
    assert error_code(info)[1] == 404
    with pytest.raises(ClientError) as info:
        clients[1].list_objects_v2(Bucket="s3-made")
    assert error_code(info) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as info:
        c.create_bucket(Bucket="Bad_Name")
    assert error_code(info) == ("InvalidBucketName", 400)


def test_delete_objects_quiet_and_verbose(s3):
    _, clients, _ = s3
    c = clients[0]
    for i in range(5):
        c.put_object(Bucket="s3-data", Key=f"multi/{i}", Body=b"x")
    verbose = c.delete_objects(Bucket="s3-data", Delete={"Objects": [{"Key": "multi/0"}, {"Key": "multi/1"}]})
    assert sorted(d["Key"] for d in verbose["Deleted"]) == ["multi/0", "multi/1"]
    quiet = c.delete_objects(Bucket="s3-data", Delete={"Objects": [{"Key": f"multi/{i}"} for i in range(2, 5)],
                                                        "Quiet": True})
    assert not quiet.get("Deleted") and not quiet.get("Errors")
    assert clients[1].list_objects_v2(Bucket="s3-data", Prefix="multi/")["KeyCount"] == 0


@pytest.mark.parametrize("mode", ["default-trailer-crc32", "trailer-crc32c", "signed-sha256", "unsigned-header-md5"])
def test_payload_modes_as_botocore_sends_them(s3, mode):
    cluster, _, operator = s3
    node = list(cluster.nodes.values())[1]
    data = os.urandom(200_000)
    if mode == "default-trailer-crc32":
        client, extra = s3_client(node, operator), {}
    elif mode == "trailer-crc32c":
        client, extra = s3_client(node, operator), {"ChecksumAlgorithm": "CRC32C"}
    elif mode == "signed-sha256":
        client = s3_client(node, operator, s3={"payload_signing_enabled": True},
                           request_checksum_calculation="when_required")
        extra = {}
    else:
        client = s3_client(node, operator, request_checksum_calculation="when_required")
        extra = {"ContentMD5": base64.b64encode(hashlib.md5(data).digest()).decode()}
    client.put_object(Bucket="s3-data", Key=f"mode/{mode}", Body=data, **extra)
    assert client.get_object(Bucket="s3-data", Key=f"mode/{mode}")["Body"].read() == data


def test_a_wrong_content_md5_stores_nothing(s3):
    _, clients, _ = s3
    c = clients[0]
    with pytest.raises(ClientError) as info:
        c.put_object(Bucket="s3-data", Key="bad-md5", Body=b"hello",
                     ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert error_code(info) == ("BadDigest", 400)
    with pytest.raises(ClientError) as info:
        c.head_object(Bucket="s3-data", Key="bad-md5")
    assert error_code(info)[1] == 404


def test_credentials_errors(s3):
    cluster, clients, operator = s3
    node = next(iter(cluster.nodes.values()))
    wrong = s3_client(node, Credentials(operator.key_id, operator.secret + "x"))
    with pytest.raises(ClientError) as info:
        wrong.list_buckets()
    assert error_code(info) == ("SignatureDoesNotMatch", 403)
    unknown = s3_client(node, Credentials("RK" + "A" * 18, operator.secret))
    with pytest.raises(ClientError) as info:
        unknown.list_buckets()
    assert error_code(info) == ("InvalidAccessKeyId", 403)
    # Signed for another region: the answer names the expected one (as S3's Region element, which
    # botocore follows: a client configured for us-east-1 still works, by re-signing).
    request = AWSRequest(method="GET", url=f"{node.s3_address}/s3-data?list-type=2")
    S3SigV4Auth(BotoCredentials(operator.key_id, operator.secret), "s3", "us-east-1").add_auth(request)
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(urllib.request.Request(request.url, headers=dict(request.headers.items())),
                               context=tls_context(), timeout=30)
    body = raw.value.read().decode()
    assert raw.value.code == 400 and "<Code>AuthorizationHeaderMalformed</Code>" in body
    assert "<Region>ringstore</Region>" in body and "'ringstore'" in body
    assert "KeyCount" in s3_client(node, operator, region_name="us-east-1").list_objects_v2(Bucket="s3-data")
    with pytest.raises(ClientError) as info:
        clients[0].get_object(Bucket="s3-data", Key="no/such/key")
    assert error_code(info) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as info:
        clients[0].get_bucket_policy(Bucket="s3-data")
    assert error_code(info) == ("NotImplemented", 501)


def test_presigned_get_and_put_with_plain_urllib(s3):
    _, clients, _ = s3
    c = clients[0]
    put_url = c.generate_presigned_url("put_object", Params={"Bucket": "s3-data", "Key": "presigned"}, ExpiresIn=300)
    request = urllib.request.Request(put_url, data=b"from urllib", method="PUT")
    with urllib.request.urlopen(request, context=tls_context(), timeout=30) as answer:
        assert answer.status == 200
    get_url = clients[1].generate_presigned_url("get_object", Params={"Bucket": "s3-data", "Key": "presigned"},
                                                ExpiresIn=300)
    with urllib.request.urlopen(get_url, context=tls_context(), timeout=30) as answer:
        assert answer.read() == b"from urllib"
    tampered = get_url.replace("presigned", "presigneX", 1)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(tampered, context=tls_context(), timeout=30)
    assert info.value.code == 403 and b"SignatureDoesNotMatch" in info.value.read()


def test_anonymous_reads_only_what_a_public_bucket_allows(s3):
    cluster, clients, _ = s3
    c = clients[0]
    c.create_bucket(Bucket="s3-public", ACL="public-read")
    c.put_object(Bucket="s3-public", Key="hello.txt", Body=b"hello world")
    acl = c.get_bucket_acl(Bucket="s3-public")
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") and g["Permission"] == "READ" for g in acl["Grants"])
    base = next(iter(cluster.nodes.values())).s3_address
    with urllib.request.urlopen(f"{base}/s3-public/hello.txt", context=tls_context(), timeout=30) as answer:
        assert answer.read() == b"hello world"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base}/s3-data/ranged", context=tls_context(), timeout=30)
    assert info.value.code == 403 and b"AccessDenied" in info.value.read()
    request = urllib.request.Request(f"{base}/s3-public/new", data=b"x", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, context=tls_context(), timeout=30)
    assert info.value.code == 403
    c.put_bucket_acl(Bucket="s3-public", ACL="private")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{base}/s3-public/hello.txt", context=tls_context(), timeout=30)
    assert info.value.code == 403


def test_health_answers_without_credentials(s3):
    cluster, _, _ = s3
    for node in cluster.nodes.values():
        with urllib.request.urlopen(f"{node.s3_address}/health", context=tls_context(), timeout=30) as answer:
            body = json.loads(answer.read())
        assert answer.status == 200
        assert body["node"] == node.node_id and body["state"] == "ALIVE" and body["repair_debt"] >= 0


def _aws_chunked_put(node, credentials: Credentials, bucket: str, key: str, data: bytes, *,
                     tamper: bool = False, chunk_bytes: int = 64 * 1024) -> tuple[int, bytes]:
    """A put with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, each chunk signed as the AWS SDKs for Java and
    Go send it (botocore never does): (status, body)."""
    chunks = [data[i:i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] + [b""]
    encoded_bytes = sum(len(f"{len(c):x};chunk-signature=") + 64 + 2 + len(c) + 2 for c in chunks)
    request = AWSRequest(method="PUT", url=f"{node.s3_address}/{bucket}/{key}", headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "Content-Length": str(encoded_bytes), "x-amz-content-sha256": sigv4.STREAMING_SIGNED})

    class StreamingSigner(S3SigV4Auth):
        def payload(self, request):
            return sigv4.STREAMING_SIGNED

    StreamingSigner(BotoCredentials(credentials.key_id, credentials.secret), "s3", REGION).add_auth(request)
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    signing_key = sigv4.sign_request_key(credentials.secret, amz_date[:8], REGION)
    previous = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = bytearray()
    for index, chunk in enumerate(chunks):
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, hashlib.sha256(b"").hexdigest(),
                             hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = bytes([chunk[0] ^ 1]) + chunk[1:] if tamper and index == 1 else chunk
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    host, port = node.s3_address.removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=60)
    try:
        connection.request("PUT", f"/{bucket}/{key}", body=bytes(body), headers=dict(request.headers.items()))
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_signed_aws_chunked_put_checks_every_chunk(s3):
    cluster, clients, operator = s3
    node = list(cluster.nodes.values())[2]
    data = os.urandom(300_000)
    status, body = _aws_chunked_put(node, operator, "s3-data", "chunked/good", data)
    assert status == 200, body
    assert clients[0].get_object(Bucket="s3-data", Key="chunked/good")["Body"].read() == data
    status, body = _aws_chunked_put(node, operator, "s3-data", "chunked/forged", data, tamper=True)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    with pytest.raises(ClientError) as info:
        clients[0].head_object(Bucket="s3-data", Key="chunked/forged")
    assert error_code(info)[1] == 404


def test_an_insecure_cluster_serves_plain_http_s3(cluster_factory):
    cluster = cluster_factory(nodes=3, insecure=True)
    nodes = list(cluster.nodes.values())
    assert all(node.s3_address.startswith("http://") for node in nodes)
    anyone = Credentials("RK" + "B" * 18, "not-checked-on-an-insecure-node")
    first, second = (boto3.client("s3", endpoint_url=node.s3_address, aws_access_key_id=anyone.key_id,
                                  aws_secret_access_key=anyone.secret, region_name=REGION,
                                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
                     for node in nodes[:2])
    first.create_bucket(Bucket="plain")
    data = os.urandom(2 * 1024 * 1024)
    first.put_object(Bucket="plain", Key="k", Body=data)
    assert second.get_object(Bucket="plain", Key="k")["Body"].read() == data


MIB = 1024 * 1024


def _parts(data: bytes, part_bytes: int) -> list[bytes]:
    return [data[i:i + part_bytes] for i in range(0, len(data), part_bytes)]


def test_boto3_multipart_transfer_and_part_reads(s3):
    """boto3's own transfer manager splits a 22 MiB file into parts, in parallel; the object reads
    back whole, by range and by part, and its ETag is S3's md5-of-md5s-N."""
    from boto3.s3.transfer import TransferConfig

    _, clients, _ = s3
    data = os.urandom(22 * MIB)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    clients[0].upload_fileobj(io.BytesIO(data), "s3-data", "mp/boto3", Config=config)
    head = clients[1].head_object(Bucket="s3-data", Key="mp/boto3")
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in _parts(data, 5 * MIB))).hexdigest()
    assert head["ETag"] == f'"{expected}-5"' and head["ContentLength"] == len(data)
    assert clients[2].get_object(Bucket="s3-data", Key="mp/boto3")["Body"].read() == data
    second = clients[2].get_object(Bucket="s3-data", Key="mp/boto3", PartNumber=2)
    assert second["Body"].read() == data[5 * MIB:10 * MIB] and second["PartsCount"] == 5
    assert clients[1].get_object(Bucket="s3-data", Key="mp/boto3", Range="bytes=10485750-10485769")[
        "Body"].read() == data[10485750:10485770]
    out = io.BytesIO()
    clients[1].download_fileobj("s3-data", "mp/boto3", out, Config=config)
    assert out.getvalue() == data
    # The upload's records are gone: nothing is listed as unfinished.
    assert not clients[0].list_multipart_uploads(Bucket="s3-data").get("Uploads")


def test_multipart_errors_listing_and_abort(s3):
    _, clients, _ = s3
    c = clients[0]
    upload = c.create_multipart_upload(Bucket="s3-data", Key="mp/errors")["UploadId"]
    small = [c.upload_part(Bucket="s3-data", Key="mp/errors", UploadId=upload, PartNumber=n, Body=b"x" * 10)["ETag"]
             for n in (1, 2)]
    listed = clients[1].list_multipart_uploads(Bucket="s3-data", Prefix="mp/")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [("mp/errors", upload)]
    rolled = clients[1].list_multipart_uploads(Bucket="s3-data", Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["mp/"] and not rolled.get("Uploads")
    parts = clients[2].list_parts(Bucket="s3-data", Key="mp/errors", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, small[0], 10), (2, small[1], 10)]

    def complete(parts):
        return c.complete_multipart_upload(Bucket="s3-data", Key="mp/errors", UploadId=upload,
                                           MultipartUpload={"Parts": parts})

    for parts, code in [
        ([{"PartNumber": 1, "ETag": small[0]}, {"PartNumber": 2, "ETag": small[1]}], "EntityTooSmall"),
        ([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}], "InvalidPart"),
        ([{"PartNumber": 3, "ETag": small[0]}], "InvalidPart"),
        ([{"PartNumber": 2, "ETag": small[1]}, {"PartNumber": 1, "ETag": small[0]}], "InvalidPartOrder"),
    ]:
        with pytest.raises(ClientError) as info:
            complete(parts)
        assert error_code(info) == (code, 400), parts
    clients[1].abort_multipart_upload(Bucket="s3-data", Key="mp/errors", UploadId=upload)
    with pytest.raises(ClientError) as info:
        c.upload_part(Bucket="s3-data", Key="mp/errors", UploadId=upload, PartNumber=3, Body=b"late")
    assert error_code(info) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as info:
        complete([{"PartNumber": 1, "ETag": small[0]}])
    assert error_code(info) == ("NoSuchUpload", 404)
    assert not c.list_multipart_uploads(Bucket="s3-data").get("Uploads")
    with pytest.raises(ClientError) as info:
        c.head_object(Bucket="s3-data", Key="mp/errors")
    assert error_code(info)[1] == 404


def test_a_multipart_upload_outlives_the_node_it_started_on(cluster_factory, session_operator):
    """100 MiB in 5 MiB parts: half through node-1, which is then killed -9; the rest, and the
    completion, through node-2; every byte reads back through node-3."""
    cluster = cluster_factory(nodes=4)
    nodes = list(cluster.nodes.values())
    first = s3_client(nodes[0], session_operator)
    second = s3_client(nodes[1], session_operator, retries={"max_attempts": 8, "mode": "standard"})
    first.create_bucket(Bucket="resume")
    data = os.urandom(100 * MIB)
    parts = _parts(data, 5 * MIB)
    upload = first.create_multipart_upload(Bucket="resume", Key="big.bin")["UploadId"]
    etags = {}
    for number, part in enumerate(parts[:10], start=1):
        etags[number] = first.upload_part(Bucket="resume", Key="big.bin", UploadId=upload, PartNumber=number,
                                          Body=part)["ETag"]
    cluster.kill(nodes[0].node_id)
    cluster.wait_state(nodes[0].node_id, "DOWN", observers=[n.node_id for n in nodes[1:]], timeout_s=30)
    listed = second.list_parts(Bucket="resume", Key="big.bin", UploadId=upload)["Parts"]
    assert {p["PartNumber"]: p["ETag"] for p in listed} == etags
    for number, part in enumerate(parts[10:], start=11):
        etags[number] = second.upload_part(Bucket="resume", Key="big.bin", UploadId=upload, PartNumber=number,
                                           Body=part)["ETag"]
    done = second.complete_multipart_upload(
        Bucket="resume", Key="big.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]})
    assert done["ETag"].endswith('-20"')
    body = s3_client(nodes[2], session_operator).get_object(Bucket="resume", Key="big.bin")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()


def test_an_abandoned_upload_is_aborted_after_its_age(cluster_factory, session_operator):
    cluster = cluster_factory(nodes=3, settings={"repair.upload_max_age_s": "2"})
    client = s3_client(next(iter(cluster.nodes.values())), session_operator)
    client.create_bucket(Bucket="abandoned")
    upload = client.create_multipart_upload(Bucket="abandoned", Key="left")["UploadId"]
    client.upload_part(Bucket="abandoned", Key="left", UploadId=upload, PartNumber=1, Body=os.urandom(MIB))
    deadline = time.monotonic() + 60
    while client.list_multipart_uploads(Bucket="abandoned").get("Uploads"):
        assert time.monotonic() < deadline, "the abandoned upload was not aborted within 60 s"
        time.sleep(0.5)
    with pytest.raises(ClientError) as info:
        client.list_parts(Bucket="abandoned", Key="left", UploadId=upload)
    assert error_code(info) == ("NoSuchUpload", 404)


def test_copy_object_shares_or_restores_chunks_and_keeps_its_conditions(s3):
    cluster, clients, operator = s3
    c = clients[0]
    data = os.urandom(9 * MIB)
    put = c.put_object(Bucket="s3-data", Key="copy/src", Body=data, ContentType="text/x-src", Metadata={"a": "1"})
    same = clients[1].copy_object(Bucket="s3-data", Key="copy/same", CopySource="s3-data/copy/src")
    assert same["CopyObjectResult"]["ETag"] == put["ETag"]
    head = clients[2].head_object(Bucket="s3-data", Key="copy/same")
    assert head["ContentType"] == "text/x-src" and head["Metadata"] == {"a": "1"}
    replaced = c.copy_object(Bucket="s3-data", Key="copy/replaced", CopySource={"Bucket": "s3-data", "Key": "copy/src"},
                             MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/x-new")
    assert replaced["CopyObjectResult"]["ETag"] == put["ETag"]
    head = clients[1].head_object(Bucket="s3-data", Key="copy/replaced")
    assert head["ContentType"] == "text/x-new" and head["Metadata"] == {"b": "2"}
    with cluster.client(credentials=operator) as native:
        native.create_bucket("s3-ec", ec=(2, 1))
    # Into a bucket of another policy: the chunks are read and stored again under ec=2+1.
    c.copy_object(Bucket="s3-ec", Key="moved", CopySource="s3-data/copy/src")
    with cluster.client(credentials=operator) as native:
        assert native.stat("s3-ec", "moved").info.policy == "ec=2+1"
    for bucket, key in [("s3-data", "copy/same"), ("s3-data", "copy/replaced"), ("s3-ec", "moved")]:
        assert clients[2].get_object(Bucket=bucket, Key=key)["Body"].read() == data, key
    with pytest.raises(ClientError) as info:
        c.copy_object(Bucket="s3-data", Key="copy/src", CopySource="s3-data/copy/src")
    assert error_code(info) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as info:
        c.copy_object(Bucket="s3-data", Key="copy/x", CopySource="s3-data/copy/src", CopySourceIfMatch='"ffff"')
    assert error_code(info) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as info:
        c.copy_object(Bucket="s3-data", Key="copy/x", CopySource="s3-data/copy/nothing")
    assert error_code(info) == ("NoSuchKey", 404)


def _metric_total(cluster, name: str) -> float:
    total = 0.0
    for node in cluster.nodes.values():
        with urllib.request.urlopen(f"http://{node.metrics_address}/metrics", timeout=10) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    total += float(line.rsplit(" ", 1)[1])
    return total


def test_garbage_collection_keeps_what_a_completed_upload_and_a_copy_share(cluster_factory, session_operator):
    """The parts' records and the copy's source are deleted; once collection has released every
    reference they held, no copy was deleted and both objects read back whole."""
    cluster = cluster_factory(nodes=3, settings={"repair.gc_grace_s": "8"})
    client = s3_client(next(iter(cluster.nodes.values())), session_operator)
    client.create_bucket(Bucket="kept")
    parts = [os.urandom(5 * MIB), os.urandom(MIB)]
    upload = client.create_multipart_upload(Bucket="kept", Key="stitched")["UploadId"]
    etags = [client.upload_part(Bucket="kept", Key="stitched", UploadId=upload, PartNumber=n, Body=part)["ETag"]
             for n, part in enumerate(parts, start=1)]
    client.complete_multipart_upload(Bucket="kept", Key="stitched", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]})
    source = os.urandom(3 * MIB)
    client.put_object(Bucket="kept", Key="source", Body=source)
    client.copy_object(Bucket="kept", Key="copy", CopySource="kept/source")
    client.delete_object(Bucket="kept", Key="source")
    # 5 MiB + 1 MiB of parts in 4 MiB chunks (3 chunks) and the 3 MiB source (1 chunk), 3 copies each.
    wanted = (3 + 1) * 3
    deadline = time.monotonic() + 120
    while _metric_total(cluster, "ringstore_gc_references_released_total") < wanted:
        assert time.monotonic() < deadline, "garbage collection released too few references within 120 s"
        time.sleep(1)
    assert _metric_total(cluster, "ringstore_gc_copies_deleted_total") == 0
    assert client.get_object(Bucket="kept", Key="stitched")["Body"].read() == b"".join(parts)
    assert client.get_object(Bucket="kept", Key="copy")["Body"].read() == source


def _raw(node, method: str, path: str, credentials: Credentials, *, body: bytes = b"", signed_sha256: str | None = None,
         when=None) -> tuple[int, str]:
    """A request signed by botocore's signer, sent with http.client: (status, body). `signed_sha256`
    overrides the payload hash it signs; `when` the signing time."""
    request = AWSRequest(method=method, url=f"{node.s3_address}{path}", data=body)

    class Signer(S3SigV4Auth):
        def payload(self, request):
            return signed_sha256 if signed_sha256 is not None else super().payload(request)

    signer = Signer(BotoCredentials(credentials.key_id, credentials.secret), "s3", REGION)
    if when is None:
        signer.add_auth(request)
    else:
        with unittest.mock.patch("botocore.auth.get_current_datetime", lambda: when):
            signer.add_auth(request)
    host, port = node.s3_address.removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=tls_context(), timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(request.headers.items()))
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def test_each_error_code_on_purpose(s3):
    cluster, clients, operator = s3
    node = next(iter(cluster.nodes.values()))
    # A clock 20 minutes behind.
    status, body = _raw(node, "GET", "/s3-data?list-type=2", operator,
                        when=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20))
    assert status == 403 and "<Code>RequestTimeTooSkewed</Code>" in body and "clock" in body
    # A body that is not the one the signature covers.
    status, body = _raw(node, "PUT", "/s3-data/sha-mismatch", operator, body=b"what was sent",
                        signed_sha256=hashlib.sha256(b"what was signed").hexdigest())
    assert status == 400 and "<Code>XAmzContentSHA256Mismatch</Code>" in body
    with pytest.raises(ClientError) as info:
        clients[0].head_object(Bucket="s3-data", Key="sha-mismatch")
    assert error_code(info)[1] == 404
    # A presigned URL past its expiry.
    url = clients[0].generate_presigned_url("get_object", Params={"Bucket": "s3-data", "Key": "ranged"}, ExpiresIn=1)
    time.sleep(2.2)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(url, context=tls_context(), timeout=30)
    assert expired.value.code == 403 and b"<Code>AccessDenied</Code>" in expired.value.read()
    with pytest.raises(ClientError) as info:
        clients[0].list_objects_v2(Bucket="s3-data", EncodingType="bogus")
    assert error_code(info) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as info:
        clients[0].put_object(Bucket="s3-data", Key="k" * 1025, Body=b"x")
    assert error_code(info) == ("KeyTooLongError", 400)


def test_a_tenant_sees_its_own_buckets_only(s3):
    cluster, clients, operator = s3
    with cluster.client(credentials=operator) as native:
        native.create_tenant("carol")
        made = native.create_key("carol")
    carol = s3_client(list(cluster.nodes.values())[1], Credentials(made.key.key_id, made.secret))
    carol.create_bucket(Bucket="carol-s3")
    carol.put_object(Bucket="carol-s3", Key="mine", Body=b"carol's")
    assert [b["Name"] for b in carol.list_buckets()["Buckets"]] == ["carol-s3"]
    with pytest.raises(ClientError) as info:
        carol.get_object(Bucket="s3-data", Key="ranged")
    assert error_code(info) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as info:
        carol.create_bucket(Bucket="s3-data")
    assert error_code(info) == ("BucketAlreadyExists", 409)
    assert clients[0].get_object(Bucket="carol-s3", Key="mine")["Body"].read() == b"carol's"  # the operator
    with cluster.client(credentials=operator) as native:
        native.revoke_key(made.key.key_id)
    deadline = time.monotonic() + 15
    while True:  # in force on every node within the credential cache's 2 s
        try:
            carol.list_buckets()
        except ClientError as err:
            assert err.response["Error"]["Code"] == "InvalidAccessKeyId"
            assert "revoked" in err.response["Error"]["Message"]
            break
        assert time.monotonic() < deadline, "a revoked key still worked on the S3 port after 15 s"
        time.sleep(0.3)


def test_size_limit_and_quota(cluster_factory, session_operator):
    cluster = cluster_factory(nodes=3, settings={"storage.object_size_bytes_max": str(2 * MIB)})
    client = s3_client(next(iter(cluster.nodes.values())), session_operator)
    client.create_bucket(Bucket="limited")
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket="limited", Key="too-big", Body=os.urandom(2 * MIB + 1))
    assert error_code(info) == ("EntityTooLarge", 400)
    with cluster.client(credentials=session_operator) as native:
        native.set_quota(bucket="limited", bytes=MIB)
    client.put_object(Bucket="limited", Key="fits", Body=os.urandom(MIB // 2))
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket="limited", Key="over", Body=os.urandom(MIB))
    assert error_code(info) == ("QuotaExceeded", 403)
    assert "quota" in info.value.response["Error"]["Message"]


def test_unfinished_uploads_count_against_byte_quotas_and_completion_against_object_quotas(s3):
    """Parts of an upload never completed are stored bytes: the bucket's usage shows them and its
    byte quota counts them, so parts cannot go past it; aborting gives the room back at once. A
    completed upload is one more object under an object quota (its bytes were counted as parts')."""
    cluster, clients, operator = s3
    c = clients[1]
    c.create_bucket(Bucket="upload-quota")
    with cluster.client(credentials=operator) as native:
        native.set_quota(bucket="upload-quota", objects=2, bytes=12 * MIB)
        upload = c.create_multipart_upload(Bucket="upload-quota", Key="big")["UploadId"]
        for number in (1, 2):
            c.upload_part(Bucket="upload-quota", Key="big", UploadId=upload, PartNumber=number,
                          Body=os.urandom(5 * MIB))
        usage = native.usage(bucket="upload-quota").buckets[0]
        assert (usage.objects, usage.logical_bytes, usage.upload_bytes) == (0, 0, 10 * MIB)
        assert usage.physical_bytes >= 3 * 10 * MIB  # three copies of every part's chunks
        with pytest.raises(ClientError) as info:
            clients[2].put_object(Bucket="upload-quota", Key="over", Body=os.urandom(3 * MIB))
        assert error_code(info) == ("QuotaExceeded", 403)
        assert "unfinished uploads' parts" in info.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as info:  # a third part goes over as well
            c.upload_part(Bucket="upload-quota", Key="big", UploadId=upload, PartNumber=3, Body=os.urandom(3 * MIB))
        assert error_code(info) == ("QuotaExceeded", 403)
        c.abort_multipart_upload(Bucket="upload-quota", Key="big", UploadId=upload)
        assert native.usage(bucket="upload-quota").buckets[0].upload_bytes == 0
        clients[2].put_object(Bucket="upload-quota", Key="a", Body=os.urandom(3 * MIB))
        clients[2].put_object(Bucket="upload-quota", Key="b", Body=b"b")

        def complete(key: str) -> None:
            started = c.create_multipart_upload(Bucket="upload-quota", Key=key)["UploadId"]
            etag = c.upload_part(Bucket="upload-quota", Key=key, UploadId=started, PartNumber=1,
                                 Body=b"one small part")["ETag"]
            c.complete_multipart_upload(Bucket="upload-quota", Key=key, UploadId=started,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})

        with pytest.raises(ClientError) as info:
            complete("c")
        assert error_code(info) == ("QuotaExceeded", 403)
        assert "at its quota of 2 objects" in info.value.response["Error"]["Message"]
        complete("b")  # replaces an object: adds none
        assert c.get_object(Bucket="upload-quota", Key="b")["Body"].read() == b"one small part"
        usage = native.usage(bucket="upload-quota").buckets[0]
        assert (usage.objects, usage.logical_bytes) == (2, 3 * MIB + len(b"one small part"))


def test_a_removed_bucket_takes_its_unfinished_uploads_with_it(s3):
    """As in S3, removing a bucket that holds no objects succeeds even with uploads unfinished, and
    they go with it: a bucket made again under the name starts with none, and no bytes."""
    cluster, clients, operator = s3
    c = clients[0]
    c.create_bucket(Bucket="gone-uploads")
    upload = c.create_multipart_upload(Bucket="gone-uploads", Key="half")["UploadId"]
    c.upload_part(Bucket="gone-uploads", Key="half", UploadId=upload, PartNumber=1, Body=os.urandom(MIB))
    clients[1].delete_bucket(Bucket="gone-uploads")
    clients[2].create_bucket(Bucket="gone-uploads")
    assert not c.list_multipart_uploads(Bucket="gone-uploads").get("Uploads")
    with pytest.raises(ClientError) as info:
        c.list_parts(Bucket="gone-uploads", Key="half", UploadId=upload)
    assert error_code(info) == ("NoSuchUpload", 404)
    with cluster.client(credentials=operator) as native:
        assert native.usage(bucket="gone-uploads").buckets[0].upload_bytes == 0


def test_nodectl_presign_prints_urls_curl_can_use(s3):
    from click.testing import CliRunner

    from nodectl.cli import main

    cluster, clients, _ = s3
    endpoint = list(cluster.nodes.values())[1].s3_address
    put = CliRunner().invoke(main, ["presign", "s3-data/presigned by nodectl ü", "--method", "PUT",
                                    "--expires-in", "5m", "--endpoint", endpoint])
    assert put.exit_code == 0, put.output
    request = urllib.request.Request(put.output.strip(), data=b"via nodectl presign", method="PUT")
    with urllib.request.urlopen(request, context=tls_context(), timeout=30) as answer:
        assert answer.status == 200
    get = CliRunner().invoke(main, ["presign", "s3-data/presigned by nodectl ü", "--endpoint", endpoint])
    with urllib.request.urlopen(get.output.strip(), context=tls_context(), timeout=30) as answer:
        assert answer.read() == b"via nodectl presign"
    missing = CliRunner().invoke(main, ["presign", "s3-data/x"], env={"RINGSTORE_S3_ENDPOINT": ""})
    assert missing.exit_code == 2 and "--endpoint" in missing.output
    too_long = CliRunner().invoke(main, ["presign", "s3-data/x", "--endpoint", endpoint, "--expires-in", "8d"])
    assert too_long.exit_code == 2 and "7 days" in too_long.output


def test_share_links_are_urls_on_the_s3_port(s3):
    from click.testing import CliRunner

    from nodectl.cli import main

    cluster, clients, _ = s3
    data = bytes(range(256)) * 64
    clients[0].put_object(Bucket="s3-data", Key="shared/file.bin", Body=data)
    endpoint = list(cluster.nodes.values())[2].s3_address
    addr = ["--addr", cluster.any_address()]
    made = CliRunner().invoke(main, [*addr, "share", "create", "s3-data/shared/file.bin", "--json", "--endpoint",
                                     endpoint])
    assert made.exit_code == 0, made.output
    url = json.loads(made.output)["url"]
    with urllib.request.urlopen(url, context=tls_context(), timeout=30) as answer:
        assert answer.read() == data
    ranged = CliRunner().invoke(main, [*addr, "share", "create", "s3-data/shared/file.bin", "--range", "100-199", "--json",
                                       "--endpoint", endpoint])
    part_url = json.loads(ranged.output)["url"]
    with urllib.request.urlopen(part_url, context=tls_context(), timeout=30) as answer:
        assert answer.status == 206 and answer.read() == data[100:200]
    outside = urllib.request.Request(part_url, headers={"Range": "bytes=0-10"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(outside, context=tls_context(), timeout=30)
    assert info.value.code == 403
    other = url.replace("shared/file.bin", "ranged", 1)  # the link's token on another object
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(other, context=tls_context(), timeout=30)
    assert info.value.code == 403 and b"AccessDenied" in info.value.read()
    put = urllib.request.Request(url, data=b"overwrite", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(put, context=tls_context(), timeout=30)
    assert info.value.code == 403
    link_id = json.loads(made.output)["link_id"]
    assert CliRunner().invoke(main, [*addr, "share", "revoke", link_id]).exit_code == 0
    deadline = time.monotonic() + 30
    while True:  # a revocation is in force on every node within a few seconds (the records' cache)
        try:
            urllib.request.urlopen(url, context=tls_context(), timeout=30).close()
        except urllib.error.HTTPError as err:
            assert err.code == 403
            break
        assert time.monotonic() < deadline, "the revoked link still reads after 30 s"
        time.sleep(0.5)


def test_nodectl_put_of_a_large_file_resumes_through_another_node(s3, tmp_path):
    """A 70 MiB file goes in 16 MiB parts; a put stopped after two parts leaves them stored, and
    `nodectl put --resume` through another node sends only the rest. S3 reads the result."""
    from click.testing import CliRunner

    from nodectl.cli import main
    from nodectl.client import resumable

    cluster, clients, operator = s3
    nodes = list(cluster.nodes.values())
    data = os.urandom(70 * MIB)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}

    class Stop(Exception):
        pass

    def stop_after_two_parts(sent: int) -> None:
        if sent > 2 * resumable.PART_BYTES:  # in the third part: the first two are stored
            raise Stop

    with cluster.client(nodes[0].address, credentials=operator) as client, pytest.raises(Stop):
        resumable.put_resumable(client, "s3-data", "resumed.bin", path, resume=False, progress=stop_after_two_parts,
                                state_dir=resumable.default_state_dir(env))
    states = list((tmp_path / "cache" / "ringstore" / "uploads").glob("*.json"))
    assert len(states) == 1 and oct(states[0].stat().st_mode & 0o777) == "0o600"
    upload_id = json.loads(states[0].read_text())["upload_id"]
    with cluster.client(nodes[1].address, credentials=operator) as client:
        assert [p.part_number for p in client.list_upload_parts("s3-data", "resumed.bin", upload_id)] == [1, 2]
    put_before = _metric_total(cluster, "ringstore_put_bytes_total")
    resumed = CliRunner().invoke(main, ["--addr", nodes[1].address, "put", "--resume", str(path),
                                        "s3-data/resumed.bin"], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert _metric_total(cluster, "ringstore_put_bytes_total") - put_before == len(data) - 2 * resumable.PART_BYTES
    assert "(5 parts)" in resumed.output
    assert not states[0].exists()
    assert clients[2].get_object(Bucket="s3-data", Key="resumed.bin")["Body"].read() == data
    again = CliRunner().invoke(main, ["--addr", nodes[1].address, "put", "--resume", str(path), "s3-data/resumed.bin"],
                               env=env)
    assert again.exit_code != 0 and "no interrupted put" in again.output


def test_upload_part_copy_takes_a_range_of_another_object(s3):
    _, clients, _ = s3
    c = clients[1]
    source = os.urandom(9 * MIB)
    c.put_object(Bucket="s3-data", Key="partcopy/source", Body=source)
    upload = c.create_multipart_upload(Bucket="s3-data", Key="partcopy/target")["UploadId"]
    first = c.upload_part_copy(Bucket="s3-data", Key="partcopy/target", UploadId=upload, PartNumber=1,
                               CopySource="s3-data/partcopy/source", CopySourceRange=f"bytes=1000-{1000 + 6 * MIB - 1}")
    etag = first["CopyPartResult"]["ETag"]
    assert etag == f'"{hashlib.md5(source[1000:1000 + 6 * MIB]).hexdigest()}"'
    tail = c.upload_part(Bucket="s3-data", Key="partcopy/target", UploadId=upload, PartNumber=2, Body=b"tail")["ETag"]
    c.complete_multipart_upload(Bucket="s3-data", Key="partcopy/target", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 2, "ETag": tail}]})
    assert clients[2].get_object(Bucket="s3-data", Key="partcopy/target")["Body"].read() == \
        source[1000:1000 + 6 * MIB] + b"tail"


def test_health_turns_503_while_a_node_drains(cluster_factory, session_operator):
    cluster = cluster_factory(nodes=4)
    nodes = list(cluster.nodes.values())
    with cluster.client(nodes[0].address, credentials=session_operator) as native:
        native.drain_node(nodes[3].node_id)
    url = f"{nodes[3].s3_address}/health"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, context=tls_context(), timeout=10).close()
        except urllib.error.HTTPError as err:
            body = json.loads(err.read())
            assert err.code == 503 and body["draining"] and "draining" in body["not_serving"]
            break
        assert time.monotonic() < deadline, "a draining node's /health still answered 200 after 30 s"
        time.sleep(0.3)
    with urllib.request.urlopen(f"{nodes[0].s3_address}/health", context=tls_context(), timeout=10) as answer:
        assert answer.status == 200 and json.loads(answer.read())["members"]
