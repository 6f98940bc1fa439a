"""Object versions through the S3 port, as boto3 speaks it: PutBucketVersioning and
GetBucketVersioning, x-amz-version-id on puts, GET/HEAD/DELETE/CopyObject with versionId, delete
markers, ListObjectVersions with prefix, delimiter and markers, DeleteObjects with versions; and the
error codes S3 answers (NoSuchVersion, MethodNotAllowed on a delete marker, MalformedXML)."""

from __future__ import annotations

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from test_s3_live import error_code, s3_client

CLUSTER_NODES = 3
KIB = 1024


@pytest.fixture(scope="module")
def s3(module_cluster, session_operator):
    nodes = list(module_cluster.nodes.values())
    return module_cluster, [s3_client(node, session_operator) for node in nodes]


def test_versioning_round_trip_through_two_nodes(s3):
    _, (first, second, _) = s3
    first.create_bucket(Bucket="s3-ver")
    assert "Status" not in first.get_bucket_versioning(Bucket="s3-ver")
    unversioned = first.put_object(Bucket="s3-ver", Key="doc", Body=b"one")
    assert "VersionId" not in unversioned  # the null version is not named
    first.put_bucket_versioning(Bucket="s3-ver", VersioningConfiguration={"Status": "Enabled"})
    assert second.get_bucket_versioning(Bucket="s3-ver")["Status"] == "Enabled"
    body = os.urandom(200 * KIB)
    v2 = first.put_object(Bucket="s3-ver", Key="doc", Body=body)["VersionId"]
    v3 = second.put_object(Bucket="s3-ver", Key="doc", Body=b"three")["VersionId"]
    assert len({v2, v3, "null"}) == 3
    got = second.get_object(Bucket="s3-ver", Key="doc")
    assert got["Body"].read() == b"three" and got["VersionId"] == v3
    old = first.get_object(Bucket="s3-ver", Key="doc", VersionId=v2)
    assert old["Body"].read() == body and old["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert second.get_object(Bucket="s3-ver", Key="doc", VersionId="null")["Body"].read() == b"one"
    assert first.head_object(Bucket="s3-ver", Key="doc", VersionId=v2)["ContentLength"] == len(body)

    deleted = first.delete_object(Bucket="s3-ver", Key="doc")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] not in (v2, v3)
    with pytest.raises(ClientError) as info:
        second.get_object(Bucket="s3-ver", Key="doc")
    assert error_code(info) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as info:
        second.get_object(Bucket="s3-ver", Key="doc", VersionId=deleted["VersionId"])
    assert error_code(info) == ("MethodNotAllowed", 405)

    listed = second.list_object_versions(Bucket="s3-ver", Prefix="doc")
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [deleted["VersionId"]]
    assert listed["DeleteMarkers"][0]["IsLatest"] is True
    assert [v["VersionId"] for v in listed["Versions"]] == [v3, v2, "null"]
    assert [v["Size"] for v in listed["Versions"]] == [5, len(body), 3]
    assert not any(v["IsLatest"] for v in listed["Versions"])

    # Copying an old version makes it current again; deleting the marker for good would too.
    copied = first.copy_object(Bucket="s3-ver", Key="doc", CopySource={"Bucket": "s3-ver", "Key": "doc",
                                                                        "VersionId": v2})
    assert copied["CopySourceVersionId"] == v2 and copied["VersionId"] not in (v2, v3)
    assert second.get_object(Bucket="s3-ver", Key="doc")["Body"].read() == body
    # Deleting one version for good: gone from reads and listings, the others stay.
    gone = second.delete_object(Bucket="s3-ver", Key="doc", VersionId=v3)
    assert gone["VersionId"] == v3
    with pytest.raises(ClientError) as info:
        first.get_object(Bucket="s3-ver", Key="doc", VersionId=v3)
    assert error_code(info) == ("NoSuchVersion", 404)
    ids = [v["VersionId"] for v in first.list_object_versions(Bucket="s3-ver")["Versions"]]
    assert ids == [copied["VersionId"], v2, "null"]
    # Suspended: a put replaces the null version.
    first.put_bucket_versioning(Bucket="s3-ver", VersioningConfiguration={"Status": "Suspended"})
    assert first.get_bucket_versioning(Bucket="s3-ver")["Status"] == "Suspended"
    assert first.put_object(Bucket="s3-ver", Key="doc", Body=b"null again")["VersionId"] == "null"
    got = second.get_object(Bucket="s3-ver", Key="doc", VersionId="null")
    assert got["Body"].read() == b"null again" and got["VersionId"] == "null"
    assert len(first.list_object_versions(Bucket="s3-ver")["Versions"]) == 3
    # A suspended bucket's delete writes the null delete marker (replacing the null version).
    marker = second.delete_object(Bucket="s3-ver", Key="doc")
    assert (marker["DeleteMarker"], marker["VersionId"]) == (True, "null")
    listed = first.list_object_versions(Bucket="s3-ver", Prefix="doc")
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [
        ("null", True), (deleted["VersionId"], False)]
    assert [v["VersionId"] for v in listed["Versions"]] == [copied["VersionId"], v2]


def test_deleting_a_key_with_no_current_version_still_writes_a_marker(s3):
    """As S3 does: in a versioned bucket every delete without a version id writes a delete marker,
    even of a key that never existed or whose current version is already a marker; in an
    unversioned bucket it writes nothing and succeeds."""
    _, (first, second, _) = s3
    first.create_bucket(Bucket="s3-marks")
    first.put_bucket_versioning(Bucket="s3-marks", VersioningConfiguration={"Status": "Enabled"})
    never = first.delete_object(Bucket="s3-marks", Key="never-put")
    assert never["DeleteMarker"] is True and never["VersionId"] != "null"
    again = second.delete_object(Bucket="s3-marks", Key="never-put")
    assert again["DeleteMarker"] is True and again["VersionId"] != never["VersionId"]
    listed = first.list_object_versions(Bucket="s3-marks")
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [again["VersionId"], never["VersionId"]]
    assert "Versions" not in listed
    batch = second.delete_objects(Bucket="s3-marks", Delete={"Objects": [{"Key": "also-never"}]})
    assert batch["Deleted"][0]["DeleteMarker"] is True and batch["Deleted"][0]["DeleteMarkerVersionId"]
    first.create_bucket(Bucket="s3-plain")
    assert "DeleteMarker" not in first.delete_object(Bucket="s3-plain", Key="never-put")
    assert "DeleteMarkers" not in first.list_object_versions(Bucket="s3-plain")


def test_list_object_versions_pages_and_rolls_up_prefixes(s3):
    _, (client, other, _) = s3
    client.create_bucket(Bucket="s3-ver-list")
    client.put_bucket_versioning(Bucket="s3-ver-list", VersioningConfiguration={"Status": "Enabled"})
    expected = []
    for key in ("a", "b/1", "b/2", "c"):
        ids = [client.put_object(Bucket="s3-ver-list", Key=key, Body=key.encode() * n)["VersionId"] for n in (1, 2, 3)]
        expected += [(key, vid) for vid in reversed(ids)]
    seen, kwargs = [], {}
    while True:
        page = other.list_object_versions(Bucket="s3-ver-list", MaxKeys=4, **kwargs)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 4
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected
    rolled = client.list_object_versions(Bucket="s3-ver-list", Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/"]
    assert sorted({v["Key"] for v in rolled["Versions"]}) == ["a", "c"]


def test_delete_objects_with_versions_and_bad_input(s3):
    _, (client, _, _) = s3
    client.create_bucket(Bucket="s3-ver-del")
    client.put_bucket_versioning(Bucket="s3-ver-del", VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket="s3-ver-del", Key="k", Body=b"1")["VersionId"]
    client.put_object(Bucket="s3-ver-del", Key="k", Body=b"2")
    result = client.delete_objects(Bucket="s3-ver-del", Delete={"Objects": [
        {"Key": "k", "VersionId": first}, {"Key": "k"}, {"Key": "missing", "VersionId": first}]})
    by = {(d["Key"], d.get("VersionId", "")): d for d in result["Deleted"]}
    assert ("k", first) in by and by[("k", "")]["DeleteMarker"] is True
    assert by[("k", "")]["DeleteMarkerVersionId"]
    versions = client.list_object_versions(Bucket="s3-ver-del")
    assert first not in [v["VersionId"] for v in versions["Versions"]]
    assert len(versions["DeleteMarkers"]) == 1
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket="s3-ver-del", Key="k", VersionId="not-a-version")
    assert error_code(info) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as info:
        client.put_bucket_versioning(Bucket="s3-ver-del", VersioningConfiguration={"Status": "Off"})
    assert error_code(info) == ("MalformedXML", 400)
