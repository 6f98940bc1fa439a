"""The usage counters against a full fsck audit, after a random workload through real noded
processes: overwrites, deletes, versions kept and deleted for good, conversions and lifecycle expiry.
They agree exactly on every home, and the by-policy breakdown agrees with a listing."""

from __future__ import annotations

import random

from cluster_checks import fsck, wait_for
from nodectl.client import Client
from nodectl.errors import NotFound
from ringstore.v1 import common_pb2

KIB = 1024
SETTINGS = {"repair.lifecycle_day_s": "1", "repair.lifecycle_interval_s": "0.5"}


def test_counters_agree_with_an_fsck_audit_after_a_random_workload(cluster_factory):
    cluster = cluster_factory(nodes=4, settings=SETTINGS)
    rng = random.Random(17)
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
                    client.put(bucket, key, rng.randbytes(size), content_type=rng.choice(["text/plain", "image/png"]))
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

        summary, findings = fsck(cluster.any_address())
        assert summary.usage_counters_checked == 2 * 3 and summary.usage_counters_disagreeing == 0, findings
        for bucket in ("audit", "audit-v"):
            listed = [info for page in client.list(bucket) for info in page.objects]
            parts = client.usage(bucket=bucket, breakdown="policy").buckets[0].breakdown
            expected: dict[str, list[int]] = {}
            for info in listed:
                totals = expected.setdefault(info.policy, [0, 0])
                totals[0] += 1
                totals[1] += info.size_bytes
            assert {p.name: [p.objects, p.logical_bytes] for p in parts if p.objects} == expected, bucket


def _expire_tmp() -> common_pb2.LifecycleRule:
    return common_pb2.LifecycleRule(id="tmp", enabled=True, prefix="tmp/", expiration_days=1)
