"""Object and bucket tags through real noded processes: at put time and afterwards, natively, from
nodectl and through the S3 port (PutObjectTagging and x-amz-tagging as boto3 sends them), per
version, surviving a conversion; S3's limits refused in one line; and a lifecycle rule that
filters by tag."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from nodectl.cli import main
from nodectl.client import Client
from nodectl.errors import InvalidArgument, NotFound
from test_s3_live import error_code, s3_client

KIB = 1024


def test_tags_natively_per_version_and_through_a_conversion(cluster_factory):
    cluster = cluster_factory(nodes=3)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        client.create_bucket("tagged")
        client.set_versioning("tagged", "enabled")
        first = client.put("tagged", "photo", b"x" * (300 * KIB), tags={"kind": "raw", "year": "2026"})
        assert first.tags == {"kind": "raw", "year": "2026"}
        second = client.put("tagged", "photo", b"y" * (300 * KIB))
        assert client.stat("tagged", "photo").info.tags == {}
        client.set_tags("tagged", "photo", {"kind": "edited"})
        client.set_tags("tagged", "photo", {"kind": "archived"}, version=first.version_id)
        assert client.stat("tagged", "photo").info.tags == {"kind": "edited"}
        info = client.stat("tagged", "photo", version=first.version_id).info
        assert info.tags == {"kind": "archived"} and info.version_id == first.version_id
        assert client.get_bytes("tagged", "photo") == b"y" * (300 * KIB)  # tags changed no bytes
        client.convert("tagged", "photo", replicas=2)
        after = client.stat("tagged", "photo").info
        assert after.tags == {"kind": "edited"} and after.policy == "replicas=2"
        assert after.version_id == second.version_id
        client.set_bucket_tags("tagged", {"owner": "ops"})
        assert client.bucket_info("tagged").bucket.tags == {"owner": "ops"}
        with pytest.raises(InvalidArgument, match="at most 10"):
            client.set_tags("tagged", "photo", {f"k{i}": "v" for i in range(11)})
        with pytest.raises(InvalidArgument, match="give 1 to 128"):
            client.set_tags("tagged", "photo", {"k" * 129: "v"})
        with pytest.raises(InvalidArgument, match="the limit is 256"):
            client.put("tagged", "other", b"z", tags={"k": "v" * 257})
        with pytest.raises(NotFound):
            client.set_tags("tagged", "missing", {"a": "b"})

    runner = CliRunner()

    def cli(*args):
        return runner.invoke(main, ["--addr", cluster.any_address(), *args], catch_exceptions=False)

    assert cli("tag", "set", "tagged/photo", "kind=final", "stars=5").exit_code == 0
    assert cli("tag", "get", "tagged/photo").output.splitlines() == ["kind=final", "stars=5"]
    assert "tags        kind=final, stars=5" in cli("stat", "tagged/photo").output
    assert cli("tag", "rm", "tagged/photo").exit_code == 0
    assert cli("tag", "get", "tagged/photo").output == ""
    assert cli("tag", "get", "tagged").output.strip() == "owner=ops"
    bad = cli("tag", "set", "tagged/photo", "novalue")
    assert bad.exit_code == 2 and "is not NAME=VALUE" in bad.output and "Traceback" not in bad.output


def test_s3_tagging_and_a_lifecycle_rule_filtered_by_tag(cluster_factory, session_operator):
    cluster = cluster_factory(nodes=3, settings={"repair.lifecycle_day_s": "1", "repair.lifecycle_interval_s": "0.5"})
    s3 = s3_client(next(iter(cluster.nodes.values())), session_operator)
    s3.create_bucket(Bucket="s3-tags")
    s3.put_object(Bucket="s3-tags", Key="a", Body=b"a", Tagging="temp=yes&team=x")
    assert {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket="s3-tags", Key="a")["TagSet"]} == {
        "temp": "yes", "team": "x"}
    assert s3.head_object(Bucket="s3-tags", Key="a")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    s3.put_object(Bucket="s3-tags", Key="b", Body=b"b")
    s3.put_object_tagging(Bucket="s3-tags", Key="b", Tagging={"TagSet": [{"Key": "temp", "Value": "no"}]})
    s3.copy_object(Bucket="s3-tags", Key="c", CopySource={"Bucket": "s3-tags", "Key": "a"})
    assert len(s3.get_object_tagging(Bucket="s3-tags", Key="c")["TagSet"]) == 2
    s3.copy_object(Bucket="s3-tags", Key="d", CopySource={"Bucket": "s3-tags", "Key": "a"},
                   TaggingDirective="REPLACE", Tagging="temp=no")
    assert s3.get_object_tagging(Bucket="s3-tags", Key="d")["TagSet"] == [{"Key": "temp", "Value": "no"}]
    with pytest.raises(ClientError) as info:
        s3.put_object_tagging(Bucket="s3-tags", Key="b", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert error_code(info) == ("InvalidTag", 400)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_tagging(Bucket="s3-tags")
    assert error_code(info) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket="s3-tags", Tagging={"TagSet": [{"Key": "cost", "Value": "lab"}]})
    assert s3.get_bucket_tagging(Bucket="s3-tags")["TagSet"] == [{"Key": "cost", "Value": "lab"}]
    s3.delete_object_tagging(Bucket="s3-tags", Key="c")
    assert s3.get_object_tagging(Bucket="s3-tags", Key="c")["TagSet"] == []

    # Only objects tagged temp=yes expire (a and nothing else: c's tags were removed).
    s3.put_bucket_lifecycle_configuration(Bucket="s3-tags", LifecycleConfiguration={"Rules": [
        {"ID": "temp", "Filter": {"Tag": {"Key": "temp", "Value": "yes"}}, "Status": "Enabled",
         "Expiration": {"Days": 1}}]})
    rule = s3.get_bucket_lifecycle_configuration(Bucket="s3-tags")["Rules"][0]
    assert rule["Filter"]["And"]["Tags"] == [{"Key": "temp", "Value": "yes"}]
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        cluster.wait_until(lambda: sorted(o.key for page in client.list("s3-tags") for o in page.objects)
                           == ["b", "c", "d"], timeout_s=60, interval_s=0.25,
                           what="only the object tagged temp=yes to expire")
