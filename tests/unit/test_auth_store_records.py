"""Unit tests of node/auth/store.py records. Quotas: cached, tied to a bucket's incarnation, removed
when unlimited, and when their homes cannot be read a put is not failed for a quota it may not have.
Grants: one record each, so concurrent changes of different tenants' grants all hold."""

from __future__ import annotations

import pytest

from ringstore.v1 import common_pb2

from node import errors
from node.auth.store import CACHE_TTL_S, STALE_MAX_S, SYSTEM_TENANT, Access, CredentialStore, QuotaRecord


class FakeRecords:
    """The auth bucket as a dict of inline manifests; `down` makes every read UNAVAILABLE."""

    tenant = SYSTEM_TENANT

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.down = False
        self.reads = 0

    def bucket(self, name: str) -> common_pb2.BucketRecord:
        if self.down:
            raise errors.Unavailable("homes down")
        return common_pb2.BucketRecord(name=name)

    def current_manifest(self, bucket: str, key: str) -> common_pb2.Manifest:
        self.reads += 1
        if self.down:
            raise errors.Unavailable("homes down")
        if key not in self.objects:
            raise errors.NotFound(key)
        return common_pb2.Manifest(key=key, inline=True, inline_data=self.objects[key])

    def put_object(self, header, frames) -> None:
        self.objects[header.key] = b"".join(bytes(f) for f in frames)

    def list_objects(self, bucket: str, prefix: str, page_size: int, token: str):
        keys = sorted(k for k in self.objects if k.startswith(prefix))
        return [common_pb2.Manifest(key=k, inline=True, inline_data=self.objects[k]) for k in keys], ""

    def delete_object(self, bucket: str, key: str) -> None:
        if key not in self.objects:
            raise errors.NotFound(key)
        del self.objects[key]


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def parts():
    records, clock, unread = FakeRecords(), Clock(), []
    store = CredentialStore(records, metadata_replicas=3, live_count=lambda: 3, monotonic_s=clock,
                            on_quota_unread=lambda: unread.append(1))
    return store, records, clock, unread


def test_a_quota_is_read_once_per_cache_lifetime_and_a_change_shows_after_it(parts):
    store, records, clock, _ = parts
    store.put_quota(QuotaRecord(kind="tenant", name="acme", objects=5))
    other = CredentialStore(records, metadata_replicas=3, live_count=lambda: 3, monotonic_s=clock)
    assert other.quota("tenant", "acme").objects == 5
    reads = records.reads
    store.put_quota(QuotaRecord(kind="tenant", name="acme", objects=9))
    assert other.quota("tenant", "acme").objects == 5 and records.reads == reads  # cached
    clock.now += CACHE_TTL_S
    assert other.quota("tenant", "acme").objects == 9


def test_a_bucket_quota_belongs_to_one_incarnation_and_unlimited_removes_the_record(parts):
    store, records, _, _ = parts
    store.put_quota(QuotaRecord(kind="bucket", name="photos", bytes=100, bucket_created_at_unix_ms=7))
    assert store.quota("bucket", "photos", 7).bytes == 100
    assert store.quota("bucket", "photos", 8).unlimited  # the bucket was removed and made again
    store.put_quota(QuotaRecord(kind="bucket", name="photos", bucket_created_at_unix_ms=7))
    assert "quotas/bucket/photos" not in records.objects
    assert store.quota("bucket", "photos", 7).unlimited


def test_unreadable_records_keep_the_last_quota_read_and_never_fail_the_put(parts):
    store, records, clock, unread = parts
    store.put_quota(QuotaRecord(kind="tenant", name="acme", objects=5))
    assert store.quota("tenant", "acme", fresh=True).objects == 5
    records.down = True
    clock.now += CACHE_TTL_S + 1
    assert store.quota("tenant", "acme").objects == 5  # stale but kept
    assert not unread
    clock.now += STALE_MAX_S
    assert store.quota("tenant", "acme").unlimited  # too old to trust: unchecked, and counted
    assert store.quota("tenant", "nobody").unlimited
    assert len(unread) == 2


def test_two_owners_granting_different_tenants_at_once_both_hold(parts):
    """Each node read the grants before either wrote: with one record per grant neither write
    undoes the other, as one record of every grant (read, change, write back) would."""
    store, records, clock, _ = parts
    other = CredentialStore(records, metadata_replicas=3, live_count=lambda: 3, monotonic_s=clock)
    assert store.access("photos", 7).grants == () == other.access("photos", 7).grants
    store.change_access("photos", 7, grant=("bob", "read"))
    after = other.change_access("photos", 7, grant=("carol", "write"))
    assert after.grants == (("bob", "read"), ("carol", "write"))
    assert other.change_access("photos", 7, grant=("bob", "")).grants == (("carol", "write"),)
    assert other.change_access("photos", 7, public_read=True).public_read
    clock.now += CACHE_TTL_S
    assert store.access("photos", 7) == Access(bucket="photos", bucket_created_at_unix_ms=7,
                                               grants=(("carol", "write"),), public_read=True)
    assert store.access("photos", 8).grants == ()  # a bucket made again under the name starts with none


def test_a_format_1_record_is_read_underneath_the_grants_made_since(parts):
    store, records, _, _ = parts
    records.objects["access/photos"] = Access(bucket="photos", bucket_created_at_unix_ms=7,
                                              grants=(("bob", "read"), ("dan", "owner")), public_read=True).to_json()
    assert store.access("photos", 7, fresh=True).grants == (("bob", "read"), ("dan", "owner"))
    changed = store.change_access("photos", 7, grant=("bob", ""))
    assert (changed.grants, changed.public_read) == ((("dan", "owner"),), True)
