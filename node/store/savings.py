"""Deduplication savings: what content addressing saves among the copies one node holds.

A chunk is stored once per layout however many object versions use it: a second put of the same
bytes, a rollback, a copy or an old version sharing chunks with the current one adds a reference
row to the copy already there (node/store/store.py) instead of a second copy. Each copy therefore
saves its size once for every reference beyond its first. Counted two ways, as nested scopes:

    bucket      references of one bucket's object versions beyond the first of that bucket
    everything  references beyond the first whoever holds them (chunks shared between buckets
                and tenants count too): the node's own figure, a Prometheus gauge

so a bucket's savings never depend on what other buckets hold, and a tenant's are the sum of its
buckets'. `nodectl usage` sums each record over every node: a bucket's `physical_bytes` counts every
version's chunks in full, so physical minus saved is what its data takes. A chunk repeated inside one
object version has one reference row and is not counted as saved (the version lists it twice, the
holder keeps one copy and one row). Rejected: a per-tenant scope. Reference rows name the
storage tenant of the manifests (every user bucket is in one), not the access tenant owning the
bucket, so it would only restate the node's figure.

The records live in the `savings` db, keyed `tenant \\0 bucket \\0` (a bucket) and `\\xff` (everything:
no UTF-8 name starts with that byte). Every transaction that
changes a copy's reference rows or its index entry moves them by the difference between the copy's
contribution before and after (`contribution`, `moved`), in that same transaction, so the records
always equal the sum over the copies indexed here with their reference rows, never a scan. A copy
without an index entry (quarantined, to be rebuilt) contributes nothing: its size is unknown. The
one recount (`NodeStore.recount_savings`, a walk of every reference row) runs when a chunks, refs or
savings record is quarantined, since what it contributed is unknown then; fsck's audit runs it
without writing and compares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ringstore.v1 import common_pb2

from node.store.keys import manifest_key_prefix

DEDUP_RECORD_FORMAT_VERSION = 1
EVERYTHING_KEY = b"\xff"

Owner = tuple[str, str]  # (tenant, bucket) of one reference row
Contribution = dict[bytes, tuple[int, int]]  # savings key -> (saved bytes, shared references)


def tenant_key(tenant: str) -> bytes:
    """The prefix of a storage tenant's bucket records."""
    return tenant.encode("utf-8") + b"\0"


def bucket_key(tenant: str, bucket: str) -> bytes:
    return manifest_key_prefix(tenant, bucket)


def contribution(owners: Iterable[Owner], size_bytes: int | None) -> Contribution:
    """What one copy of `size_bytes` (None: not indexed here) with reference rows of `owners`
    saves, per savings key."""
    owners = list(owners)
    if size_bytes is None or len(owners) < 2:
        return {}
    found: Contribution = {}
    scopes = (Counter(bucket_key(t, b) for t, b in owners), Counter({EVERYTHING_KEY: len(owners)}))
    for scope in scopes:
        for key, count in scope.items():
            if count > 1:
                found[key] = ((count - 1) * size_bytes, count - 1)
    return found


def moved(before: Contribution, after: Contribution) -> Contribution:
    """after - before, per key, leaving out keys that do not move."""
    delta: Contribution = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key, (0, 0)), after.get(key, (0, 0))
        if old != new:
            delta[key] = (new[0] - old[0], new[1] - old[1])
    return delta


def applied(record: common_pb2.DedupRecord | None, delta: tuple[int, int], where: str
            ) -> common_pb2.DedupRecord | None:
    """`record` moved by `delta`; None when nothing is left (the record is deleted then)."""
    saved = (record.saved_bytes if record else 0) + delta[0]
    shared = (record.shared_references if record else 0) + delta[1]
    assert saved >= 0 and shared >= 0, f"{where} went negative: {saved} bytes, {shared} references"
    if not shared:
        return None
    return common_pb2.DedupRecord(format_version=DEDUP_RECORD_FORMAT_VERSION, saved_bytes=saved,
                                  shared_references=shared)


def summed(contributions: Iterable[Contribution]) -> Contribution:
    """Several copies' contributions added up (a recount)."""
    total: dict[bytes, list[int]] = {}
    for found in contributions:
        for key, (saved, shared) in found.items():
            slot = total.setdefault(key, [0, 0])
            slot[0] += saved
            slot[1] += shared
    return {key: (saved, shared) for key, (saved, shared) in total.items()}


def entry_of(key: bytes, record: common_pb2.DedupRecord) -> common_pb2.DedupEntry:
    """The wire form of one savings record."""
    if key == EVERYTHING_KEY:
        return common_pb2.DedupEntry(everything=True, record=record)
    tenant, bucket, _ = key.split(b"\0")
    return common_pb2.DedupEntry(tenant=tenant.decode("utf-8"), bucket=bucket.decode("utf-8"), record=record)
