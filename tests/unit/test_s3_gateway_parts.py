"""Pieces of the S3 gateway that need no cluster: addressing (path and virtual-hosted style), what
operation a request asks for, ranges and conditions."""

from __future__ import annotations

import types

import pytest

from node.s3 import gateway
from node.s3.errors import S3Error
from ringstore.v1 import common_pb2


def _gateway(domain: str = "") -> gateway.S3Gateway:
    return gateway.S3Gateway(objects=None, coordinator=None, metrics=None, lookup_key=None, region="ringstore",
                             domain=domain, health=lambda: (True, {}), object_size_bytes_max=1 << 30,
                             wall_ms=lambda: 0)


def _request(host: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(headers={"host": host})


def test_path_style_always_and_virtual_hosts_under_the_domain():
    plain = _gateway()
    assert plain._address(_request("127.0.0.1:7480"), "/photos/2026/a%20b.jpg") == ("photos", "2026/a b.jpg")
    assert plain._address(_request("photos.s3.example.com"), "/x") == ("x", "")
    hosted = _gateway("S3.Example.com")
    assert hosted._address(_request("photos.s3.example.com:7480"), "/2026/a.jpg") == ("photos", "2026/a.jpg")
    assert hosted._address(_request("s3.example.com"), "/photos/a.jpg") == ("photos", "a.jpg")
    assert hosted._address(_request("127.0.0.1:7480"), "/photos/a//b") == ("photos", "a//b")


@pytest.mark.parametrize(("method", "bucket", "key", "query", "headers", "operation"), [
    ("GET", "", "", {}, {}, "list_buckets"),
    ("GET", "b", "", {"list-type": "2", "prefix": "p"}, {}, "list_objects"),
    ("GET", "b", "", {"uploads": ""}, {}, "list_multipart_uploads"),
    ("GET", "b", "", {"policy": ""}, {}, "not_implemented"), ("GET", "b", "k", {"tagging": ""}, {}, "get_object_tagging"),
    ("POST", "b", "", {"delete": ""}, {}, "delete_objects"),
    ("PUT", "b", "k", {}, {"x-amz-copy-source": "/b/j"}, "copy_object"),
    ("PUT", "b", "k", {"partNumber": "2", "uploadId": "u"}, {}, "upload_part"),
    ("POST", "b", "k", {"uploads": ""}, {}, "create_multipart_upload"),
    ("POST", "b", "k", {"uploadId": "u"}, {}, "complete_multipart_upload"),
    ("GET", "b", "k", {"partNumber": "1"}, {}, "get_object"),
    ("PUT", "b", "k", {"partNumber": "1"}, {}, "not_implemented"),
    ("PUT", "b", "k", {"partNumber": "1", "uploadId": "u"}, {"x-amz-copy-source": "/b/j"}, "upload_part"),
    ("GET", "b", "k", {"X-Amz-Signature": "x", "response-content-type": "t"}, {}, "get_object"),
    ("PATCH", "b", "k", {}, {}, "not_implemented"),
])
def test_operations(method, bucket, key, query, headers, operation):
    assert gateway._operation(method, bucket, key, query, headers) == operation


def test_ranges():
    assert gateway._parse_range("bytes=0-9") == (0, 10)
    assert gateway._parse_range("bytes=10-") == (10, None)
    assert gateway._parse_range("bytes=-5") == (-5, None)
    assert gateway._parse_range("bytes=0-1,4-5") is None  # several ranges: the whole object, as S3
    assert gateway._parse_range("bytes=9-1") is None
    with pytest.raises(S3Error):
        gateway._parse_range("bytes=-0")


def test_conditions_in_rfc_7232_order():
    manifest = common_pb2.Manifest(md5=bytes(16), created_at_unix_ms=1_700_000_000_000)
    tag = '"' + "0" * 32 + '"'
    gateway._check_conditions({"if-match": tag}, manifest)
    with pytest.raises(S3Error) as info:
        gateway._check_conditions({"if-match": '"1"'}, manifest)
    assert info.value.code == "PreconditionFailed"
    with pytest.raises(S3Error) as info:
        gateway._check_conditions({"if-none-match": tag}, manifest)
    assert info.value.status == 304
    # If-Match passing makes If-Unmodified-Since moot; If-None-Match absent lets If-Modified-Since decide.
    gateway._check_conditions({"if-match": "*", "if-unmodified-since": "Mon, 01 Jan 2001 00:00:00 GMT"}, manifest)
    with pytest.raises(S3Error) as info:
        gateway._check_conditions({"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"}, manifest)
    assert info.value.status == 304


def test_copy_source_and_part_ranges():
    assert gateway._copy_source("/src-bucket/a%20b/c") == ("src-bucket", "a b/c", "")
    assert gateway._copy_source("src-bucket/k?versionId=null") == ("src-bucket", "k", "null")
    assert gateway._copy_source("src-bucket/k?versionId=" + "ab" * 16) == ("src-bucket", "k", "ab" * 16)
    for bad in ("/only-bucket", "src-bucket/k?versionId=", "src-bucket/k?other=1"):
        with pytest.raises(S3Error):
            gateway._copy_source(bad)
    manifest = common_pb2.Manifest(size_bytes=12, part_count=3)
    manifest.part_sizes_bytes.extend([5, 5, 2])
    assert gateway._part_range(manifest, 2) == (5, 5)
    with pytest.raises(S3Error) as info:
        gateway._part_range(manifest, 4)
    assert info.value.status == 416
