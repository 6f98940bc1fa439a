"""The InitCluster MAC (ringstore/auth/bootstrap.py) and the resource a one-message request signs."""

from __future__ import annotations

import pytest

from ringstore.auth import bootstrap, signing
from ringstore.v1 import admin_pb2, object_pb2

KEY = b"0123456789abcdef0123456789abcdef"


def test_an_init_mac_holds_only_for_its_cluster_key_key_id_and_time():
    mac = bootstrap.init_mac(KEY, 1_000_000, "RKAAAAAAAAAAAAAAAAAA")
    assert bootstrap.check_init_mac(KEY, 1_000_000, "RKAAAAAAAAAAAAAAAAAA", mac, now_ms=1_000_000) is None
    wrong_key = bootstrap.check_init_mac(b"x" * 32, 1_000_000, "RKAAAAAAAAAAAAAAAAAA", mac, now_ms=1_000_000)
    assert wrong_key == "the request is not signed with this cluster's key: give the cluster's --cluster-secret-file"
    assert bootstrap.check_init_mac(KEY, 1_000_000, "RKBBBBBBBBBBBBBBBBBB", mac, now_ms=1_000_000) == wrong_key
    assert bootstrap.check_init_mac(KEY, 1_000_001, "RKAAAAAAAAAAAAAAAAAA", mac, now_ms=1_000_001) == wrong_key
    late = bootstrap.check_init_mac(KEY, 1_000_000, "RKAAAAAAAAAAAAAAAAAA", mac, now_ms=1_000_000 + 301_000)
    assert late.startswith("the request was signed 301 s away from this node's clock (limit 300 s)")


def test_the_init_subkey_is_not_the_cluster_key_or_another_purposes():
    from ringstore.auth.keys import SecretBox

    assert bootstrap.init_key(KEY) not in (KEY, SecretBox(KEY).link_key())


@pytest.mark.parametrize("request_message, expected", [
    (object_pb2.StatObjectRequest(bucket="photos", key="2026/cat.jpg"), "photos/2026/cat.jpg"),
    (object_pb2.DeleteBucketRequest(bucket="photos"), "photos"),
    (object_pb2.StatObjectRequest(bucket="", key="orphan"), ""),  # refused by the node; signs nothing
    (admin_pb2.GetClusterStatusRequest(), ""),
    (object_pb2.StatObjectRequest(bucket="a", key="100%/x"), "a/100%25/x"),
    (object_pb2.PutSmallObjectRequest(header=object_pb2.PutObjectHeader(bucket="photos", key="cat.jpg"),
                                      data=b"x"), "photos/cat.jpg"),
])
def test_resource_of_reads_bucket_and_key_as_client_and_node_both_do(request_message, expected):
    assert signing.resource_of(request_message) == expected
