"""Unit tests of nodectl/cli/usage.py: sizes as users type them, and the usage table."""

from __future__ import annotations

import click
import pytest

from nodectl.cli.usage import CountParam, SizeParam, format_usage, quota_text
from nodectl.client import BucketUsage, Quota, Usage


@pytest.mark.parametrize("text,size", [("0", 0), ("none", 0), ("1500", 1500), ("10KB", 10_000), ("10k", 10_000),
                                       ("10KiB", 10_240), ("2 GiB", 2 << 30), ("500GB", 500 * 10**9),
                                       ("1TiB", 1 << 40), ("3b", 3)])
def test_sizes_as_users_type_them(text, size):
    assert SizeParam().convert(text, None, None) == size


@pytest.mark.parametrize("text", ["-1", "12ZB", "1.5GB", "ten", ""])
def test_a_size_that_is_not_one_is_a_usage_error(text):
    with pytest.raises(click.BadParameter, match="is not a size"):
        SizeParam().convert(text, None, None)


def test_object_counts():
    assert CountParam().convert("none", None, None) == 0
    assert CountParam().convert("25", None, None) == 25
    with pytest.raises(click.BadParameter):
        CountParam().convert("-3", None, None)


def test_the_usage_table_shows_each_bucket_against_its_quota_and_the_tenant_total():
    usage = Usage(buckets=[
        BucketUsage(bucket="photos", owner="acme", objects=3, logical_bytes=5000, physical_bytes=15000, tombstones=1,
                    quota=Quota(bytes=10000, objects=0)),
        BucketUsage(bucket="logs", owner="acme", objects=7, logical_bytes=70, physical_bytes=210, tombstones=0,
                    quota=Quota())],
        objects=10, logical_bytes=5070, physical_bytes=15210, tenant="acme", tenant_quota=Quota(objects=20))
    assert format_usage(usage) == [
        "BUCKET  OWNER  OBJECTS                BYTES  IN UPLOADS  OLD VERSIONS  PHYSICAL BYTES  DEDUP SAVED  DELETED",
        "photos  acme         3  5000 of 10000 (50%)           0             0           15000            0        1",
        "logs    acme         7                   70           0             0             210            0        0",
        "total: 10 objects, 5.0 KiB logical (5070 bytes), 14.9 KiB stored",
        "tenant acme quota: 20 objects; 50% of its objects used"]


def test_parts_of_unfinished_uploads_and_old_versions_count_in_the_bytes_a_quota_sees():
    usage = Usage(buckets=[
        BucketUsage(bucket="video", owner="acme", objects=1, logical_bytes=1000, physical_bytes=9000, tombstones=0,
                    quota=Quota(bytes=10000), upload_bytes=2000, noncurrent_versions=2, noncurrent_bytes=500)],
        objects=1, logical_bytes=1000, physical_bytes=9000, tenant="acme", tenant_quota=Quota(bytes=7000))
    assert format_usage(usage) == [
        "BUCKET  OWNER  OBJECTS                BYTES  IN UPLOADS  OLD VERSIONS  PHYSICAL BYTES  DEDUP SAVED  DELETED",
        "video   acme         1  3500 of 10000 (35%)        2000           500            9000            0        0",
        "total: 1 objects, 1000 B logical (1000 bytes), 8.8 KiB stored, 2.0 KiB in unfinished uploads (2000 bytes), "
        "500 B in old versions (500 bytes)",
        "tenant acme quota: 6.8 KiB (7000 bytes); 50% of its bytes used"]
    assert quota_text(Quota(bytes=1 << 30, objects=5)) == "1.0 GiB (1073741824 bytes), 5 objects"
    assert quota_text(Quota()) == "none"


def test_what_deduplication_saves_is_shown_and_taken_off_what_is_stored():
    usage = Usage(buckets=[
        BucketUsage(bucket="backups", owner="", objects=4, logical_bytes=4096, physical_bytes=12288, tombstones=0,
                    quota=Quota(), dedup_saved_bytes=9216)],
        objects=4, logical_bytes=4096, physical_bytes=12288, dedup_saved_bytes=9216, dedup_nodes_missing=1)
    assert format_usage(usage) == [
        "BUCKET   OWNER  OBJECTS  BYTES  IN UPLOADS  OLD VERSIONS  PHYSICAL BYTES  DEDUP SAVED  DELETED",
        "backups  -            4   4096           0             0           12288         9216        0",
        "total: 4 objects, 4.0 KiB logical (4096 bytes), 3.0 KiB stored (9.0 KiB saved by deduplication, 9216 bytes)",
        "deduplication figures leave out 1 node(s) that did not answer (down or unreachable): what their copies save "
        "is not counted"]
