"""Quotas and usage with real noded processes: a bucket's and a tenant's quotas refuse the put that
would go over them (RESOURCE_EXHAUSTED naming the quota, the usage and the size asked), counters
follow puts, overwrites and deletes, fsck's audit agrees with them, and eight writers racing through
four nodes overshoot by no more than the documented bound."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from cluster_checks import in_force

from nodectl.errors import PermissionDenied, ResourceExhausted
from ringstore.auth.credentials import Credentials

CLUSTER_NODES = 4
NODECTL = os.path.join(os.path.dirname(sys.executable), "nodectl")
WRITERS = 8
# Overshoot allowed with WRITERS racing through every node of a steady cluster (docs/design.md,
# "Quotas"): the desk decides every put, so none in a steady cluster.
OVERSHOOT_OBJECTS_MAX = 0


@pytest.fixture(scope="module")
def setup(module_cluster):
    cluster = module_cluster
    keys = {}
    with cluster.client() as operator:
        for name in ("acme", "globex"):
            operator.create_tenant(name)
            made = operator.create_key(name)
            keys[name] = Credentials(made.key.key_id, made.secret)
    return cluster, keys


def _nodectl(cluster, *args: str, credentials: Credentials | None = None) -> subprocess.CompletedProcess:
    """nodectl as a user runs it: the operator's key from the session's credentials file, or a tenant's."""
    env = dict(os.environ, RINGSTORE_ADDR=cluster.any_address(), RINGSTORE_CA=cluster.ca_file)
    if credentials is not None:
        env.update(RINGSTORE_ACCESS_KEY_ID=credentials.key_id, RINGSTORE_SECRET_ACCESS_KEY=credentials.secret)
    return subprocess.run([NODECTL, *args], capture_output=True, text=True, timeout=60, env=env, input="data")


def test_a_bucket_quota_refuses_the_put_that_would_go_over_it_on_every_node(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["acme"]) as acme:
        acme.create_bucket("q-bucket")
    with cluster.client() as operator:
        quota = operator.set_quota(bucket="q-bucket", objects=3, bytes=10_000)
        assert (quota.objects, quota.bytes) == (3, 10_000)
    for i, node in enumerate(cluster.nodes.values()):
        with cluster.client(node.address, credentials=keys["acme"], retries_max=0) as acme:
            if i == 0:
                for name in ("a", "b"):
                    acme.put("q-bucket", name, b"x" * 4000)

            def refused(acme=acme) -> None:
                with pytest.raises(ResourceExhausted) as caught:
                    acme.put("q-bucket", "c", b"y" * 4000)
                assert ("bucket 'q-bucket' would go over its quota of 10,000 bytes: it holds 8,000 bytes "
                        "(counting puts in flight and unfinished uploads' parts) and this put adds 4,000") in str(caught.value)
            in_force(refused, f"the bytes quota through {node.node_id}")
            # An overwrite adds only its difference.
            acme.put("q-bucket", "a", b"z" * 5000)
            acme.put("q-bucket", "a", b"x" * 4000)
    with cluster.client(credentials=keys["acme"]) as acme:
        acme.put("q-bucket", "small", b"s")
        with pytest.raises(ResourceExhausted, match="bucket 'q-bucket' is at its quota of 3 objects"):
            acme.put("q-bucket", "one-more", b"s")
        acme.delete("q-bucket", "small")
        acme.put("q-bucket", "one-more", b"s")  # the delete made room at once
        usage = acme.usage(bucket="q-bucket")
        assert (usage.objects, usage.logical_bytes) == (3, 8001)
        assert usage.buckets[0].quota.objects == 3
    result = _nodectl(cluster, "put", "-", "q-bucket/cli", credentials=keys["acme"])
    assert result.returncode == 8, result.stderr
    assert "quota of 3 objects" in result.stderr and "Traceback" not in result.stderr


def test_a_tenant_quota_spans_its_buckets_and_spares_other_tenants(setup):
    cluster, keys = setup
    with cluster.client() as operator:
        operator.set_quota(tenant="globex", objects=3)
    with cluster.client(credentials=keys["globex"]) as globex:
        globex.create_bucket("globex-1")
        globex.create_bucket("globex-2")
        globex.put("globex-1", "a", b"1")
        globex.put("globex-2", "a", b"2")
        globex.put("globex-2", "b", b"3")
        with pytest.raises(ResourceExhausted, match="tenant 'globex' is at its quota of 3 objects"):
            globex.put("globex-1", "b", b"4")
        usage = globex.usage()
        assert (usage.tenant, usage.objects, usage.tenant_quota.objects) == ("globex", 3, 3)
        assert sorted(b.bucket for b in usage.buckets) == ["globex-1", "globex-2"]
        with pytest.raises(PermissionDenied):
            globex.usage(tenant="acme")
    with cluster.client() as operator:
        operator.set_quota(tenant="globex")  # removed
    with cluster.client(credentials=keys["globex"]) as globex:
        in_force(lambda: globex.put("globex-1", "b", b"4"), "the removed tenant quota")


def test_quota_values_are_checked_and_only_the_operator_sets_them(setup):
    cluster, keys = setup
    result = _nodectl(cluster, "admin", "quota", "set", "--bucket", "q-bucket", "--bytes", "12ZB")
    assert result.returncode == 2 and "is not a size" in result.stderr
    result = _nodectl(cluster, "admin", "quota", "set", "--tenant", "nobody-here", "--objects", "5")
    assert result.returncode == 3 and "tenant 'nobody-here' does not exist" in result.stderr
    result = _nodectl(cluster, "admin", "quota", "set", "--bucket", "q-bucket", "--objects", "5",
                      credentials=keys["acme"])
    assert result.returncode == 11, result.stderr
    result = _nodectl(cluster, "admin", "quota", "set", "--bucket", "q-bucket", "--bytes", "1GiB", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"bytes": 1 << 30, "objects": 0}


def test_counters_follow_puts_overwrites_and_deletes_and_fsck_agrees(setup):
    cluster, keys = setup
    with cluster.client(credentials=keys["acme"]) as acme:
        acme.create_bucket("counted")
        for i in range(6):
            acme.put("counted", f"small-{i}", b"s" * (100 + i))
        acme.put("counted", "big", os.urandom(300_000), replicas=3)
        acme.put("counted", "big", os.urandom(200_000), replicas=3)
        acme.put("counted", "small-0", b"o" * 50)
        acme.delete("counted", "small-1")
        usage = acme.usage(bucket="counted")
        bucket = usage.buckets[0]
        logical = 50 + sum(100 + i for i in range(2, 6)) + 200_000
        assert (bucket.objects, bucket.logical_bytes, bucket.tombstones) == (6, logical, 1)
        assert bucket.physical_bytes == 3 * 200_000 + 3 * (logical - 200_000)  # chunks x3, inline x3 homes
    result = _nodectl(cluster, "fsck", "counted", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert (summary["objects_checked"], summary["bytes_checked"]) == (6, logical)
    assert (summary["usage_counters_checked"], summary["usage_counters_disagreeing"]) == (3, 0)
    result = _nodectl(cluster, "usage", "--bucket", "counted")
    assert result.returncode == 0 and "counted" in result.stdout and f"{logical}" in result.stdout


@pytest.mark.parametrize("limit", ["objects", "bytes"])
def test_eight_writers_through_four_nodes_overshoot_no_more_than_the_bound(setup, limit):
    """Every writer puts new objects until refused; what the bucket holds after is within the bound."""
    cluster, keys = setup
    bucket = f"race-{limit}"
    size = 2000
    quota_objects = 40
    with cluster.client(credentials=keys["acme"]) as acme:
        acme.create_bucket(bucket)
    with cluster.client() as operator:
        if limit == "objects":
            operator.set_quota(bucket=bucket, objects=quota_objects)
        else:
            operator.set_quota(bucket=bucket, bytes=quota_objects * size)
    addresses = [node.address for node in cluster.nodes.values()]
    stored = []
    lock = threading.Lock()

    def writer(i: int) -> int:
        refused = 0
        with cluster.client(addresses[i % len(addresses)], credentials=keys["acme"], retries_max=0) as client:
            n = 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    client.put(bucket, f"w{i}-{n}", b"r" * size)
                    with lock:
                        stored.append((i, n))
                except ResourceExhausted:
                    refused += 1
                    if refused >= 3:  # refused three times: the quota holds, not a stale cache
                        return n
                n += 1
        raise AssertionError(f"writer {i} was never refused in 60 s")

    # Every node shows the quota through the cache its puts are admitted by: then race.
    expected = (quota_objects, 0) if limit == "objects" else (0, quota_objects * size)
    for address in addresses:
        with cluster.client(address, credentials=keys["acme"]) as client:
            def visible(client=client) -> None:
                quota = client.bucket_info(bucket).usage.quota
                assert (quota.objects, quota.bytes) == expected
            in_force(visible, f"the quota of {bucket} at {address}")
    with cf.ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    with cluster.client(credentials=keys["acme"]) as acme:
        usage = acme.usage(bucket=bucket).buckets[0]
    held = usage.objects if limit == "objects" else usage.logical_bytes // size
    overshoot = held - quota_objects
    print(f"quota race ({limit}): {WRITERS} writers through {len(addresses)} nodes, quota {quota_objects} objects' "
          f"worth, stored {len(stored)} puts, bucket holds {held}, overshoot {overshoot}")
    assert len(stored) == usage.objects
    assert overshoot <= OVERSHOOT_OBJECTS_MAX
    assert held >= quota_objects - 1  # the quota is used, not refused early
