"""The usage counters against a full fsck audit, after a random workload through real noded
processes: overwrites, deletes, versions kept and deleted for good, rollbacks, the same bytes put
under many keys and in both buckets, conversions and lifecycle expiry. They agree exactly on every
home, the by-policy breakdown agrees with a listing, and what deduplication saves (summed over every
node's copies) is what the versions' chunk lists say it must be, per bucket and across both."""

from __future__ import annotations

import random
from collections import Counter

from cluster_checks import fsck, wait_for
from node.store.usage import _copy_bytes
from nodectl.client import Client
from nodectl.errors import NotFound
from ringstore.v1 import common_pb2

KIB = 1024
SETTINGS = {"repair.lifecycle_day_s": "1", "repair.lifecycle_interval_s": "0.5", "repair.gc_grace_s": "3",
            "repair.gc_interval_s": "0.5"}


def test_counters_agree_with_an_fsck_audit_after_a_random_workload(cluster_factory):
    cluster = cluster_factory(nodes=4, settings=SETTINGS)
    rng = random.Random(17)
    shared = [rng.randbytes(200 * KIB) for _ in range(3)]  # put again and again: deduplicated
    with Client(address=cluster.any_address(), timeout_s=60.0) as client:
        client.create_bucket("audit")
        client.create_bucket("audit-v")
        client.set_versioning("audit-v", "enabled")
        keys = [f"{prefix}/{i}" for prefix in ("a", "b", "tmp") for i in range(6)]
        for step in range(120):
            bucket, key = rng.choice(["audit", "audit-v"]), rng.choice(keys)
            roll = rng.random()
            try:
                if roll < 0.55:
                    size = rng.choice((100, 3000, 200 * KIB))
                    data = rng.choice(shared) if rng.random() < 0.5 else rng.randbytes(size)
                    client.put(bucket, key, data, content_type=rng.choice(["text/plain", "image/png"]))
                elif roll < 0.6 and bucket == "audit-v":
                    versions = [v for v in client.versions(bucket, key) if not v.is_latest and not v.delete_marker]
                    if versions:
                        client.rollback(bucket, key, rng.choice(versions).version_id)
                elif roll < 0.7:
                    client.delete(bucket, key)
                elif roll < 0.8:
                    client.convert(bucket, key, **rng.choice([{"replicas": 2}, {"ec": "2+1"}, {"replicas": 3}]))
                elif roll < 0.9 and bucket == "audit-v":
                    versions = [v for v in client.versions(bucket, key) if not v.is_latest]
                    if versions:
                        client.delete(bucket, key, version=rng.choice(versions).version_id)
                else:
                    client.put(bucket, key, b"short-lived", expires_in_s=1)
            except NotFound:
                continue  # deleting or converting what is not there
        client.set_lifecycle("audit", [_expire_tmp()])
        wait_for("tmp/ to expire", lambda: not any(True for _ in client.find("audit", prefix="tmp/")))
        wait_for("every TTL object to be deleted", lambda: client.usage(bucket="audit").buckets[0].objects ==
                 sum(1 for page in client.list("audit") for _ in page.objects) and
                 client.usage(bucket="audit-v").buckets[0].objects ==
                 sum(1 for page in client.list("audit-v") for _ in page.objects))

        expected = _expected_savings(client, ("audit", "audit-v"))
        assert expected["audit"] and expected["audit-v"] and expected[""] > expected["audit"] + expected["audit-v"]

        def saved() -> dict[str, int]:
            usage = client.usage()
            return {**{b.bucket: b.dedup_saved_bytes for b in usage.buckets}, "": usage.dedup_saved_bytes}

        # Garbage collection releases what deleted and overwritten versions referenced a few
        # seconds after they go.
        wait_for(f"the dedup counters to settle at {expected}", lambda: saved() == expected)
        summary, findings = fsck(cluster.any_address())
        assert summary.usage_counters_checked == 2 * 3 and summary.usage_counters_disagreeing == 0, findings
        # Each shared copy has at least 2 holders (replicas or shares), each with a bucket and its own record.
        assert summary.dedup_counters_checked >= 2 * 2 and summary.dedup_counters_disagreeing == 0, findings
        assert summary.dedup_saved_bytes == expected[""]
        for bucket in ("audit", "audit-v"):
            listed = [info for page in client.list(bucket) for info in page.objects]
            parts = client.usage(bucket=bucket, breakdown="policy").buckets[0].breakdown
            expected: dict[str, list[int]] = {}
            for info in listed:
                totals = expected.setdefault(info.policy, [0, 0])
                totals[0] += 1
                totals[1] += info.size_bytes
            assert {p.name: [p.objects, p.logical_bytes] for p in parts if p.objects} == expected, bucket


def _policy(text: str) -> common_pb2.RedundancyPolicy:
    kind, value = text.split("=")
    if kind == "replicas":
        return common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=int(value)))
    data, parity = value.split("+")
    return common_pb2.RedundancyPolicy(erasure_coding=common_pb2.ErasureCoding(data_shares=int(data),
                                                                                parity_shares=int(parity)))


def _expected_savings(client: Client, buckets: tuple[str, ...]) -> dict[str, int]:
    """What deduplication must save, from every version's chunk list: each chunk layout (chunk id
    and policy) stored once, so each version beyond the first using it saves all its copies' bytes;
    counted within each bucket, and across them all under ""."""
    users: dict[str, Counter] = {bucket: Counter() for bucket in buckets}
    copy_bytes: dict[tuple[str, str], int] = {}
    for bucket in buckets:
        for info in client.versions(bucket, prefix=""):
            if info.delete_marker:
                continue
            stat = client.stat(bucket, info.key, version=info.version_id)
            layouts = {(chunk.chunk_id_hex, stat.info.policy): chunk.size_bytes for chunk in stat.chunks}
            for layout, size in layouts.items():
                users[bucket][layout] += 1
                copy_bytes[layout] = _copy_bytes(_policy(layout[1]), size)
    everything: Counter = sum(users.values(), Counter())
    expected = {bucket: sum((n - 1) * copy_bytes[layout] for layout, n in counts.items())
                for bucket, counts in users.items()}
    expected[""] = sum((n - 1) * copy_bytes[layout] for layout, n in everything.items())
    return expected


def _expire_tmp() -> common_pb2.LifecycleRule:
    return common_pb2.LifecycleRule(id="tmp", enabled=True, prefix="tmp/", expiration_days=1)
