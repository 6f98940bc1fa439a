"""Unit tests of node/quota/desk.py: holds make racing puts count before their manifests are
written, given-back holds count until a usage read can show them, and refusals name the quota,
the usage and the size asked."""

from __future__ import annotations

import pytest

from ringstore.v1 import common_pb2, peer_pb2

from node.quota.desk import RELEASED_KEPT_S, USAGE_FRESH_S, QuotaDesk


class FakeCluster:
    """Committed usage per bucket, as the homes' counters would say, and a manual clock."""

    def __init__(self) -> None:
        self.now = 100.0
        self.committed: dict[str, tuple[int, int]] = {}
        self.reads = 0
        self.buckets: dict[str, list[str]] = {}

    def usage_of(self, bucket: str) -> common_pb2.UsageRecord:
        self.reads += 1
        objects, size = self.committed.get(bucket, (0, 0))
        return common_pb2.UsageRecord(objects=objects, logical_bytes=size)

    def commit(self, bucket: str, objects: int, size: int) -> None:
        old = self.committed.get(bucket, (0, 0))
        self.committed[bucket] = (old[0] + objects, old[1] + size)


@pytest.fixture()
def cluster():
    return FakeCluster()


@pytest.fixture()
def desk(cluster):
    return QuotaDesk(usage_of=cluster.usage_of, buckets_of=lambda owner: cluster.buckets.get(owner, []),
                     monotonic_s=lambda: cluster.now)


def _ask(hold_id: str, size: int, *, bucket: str = "b", objects: int = 0, quota_bytes: int = 0,
         tenant_objects: int = 0, tenant_bytes: int = 0, replaces: int | None = None) -> peer_pb2.ReserveQuotaRequest:
    return peer_pb2.ReserveQuotaRequest(
        hold_id=hold_id, owner="acme", bucket=bucket, key=hold_id, size_bytes=size,
        bucket_quota=common_pb2.Quota(bytes=quota_bytes, objects=objects),
        tenant_quota=common_pb2.Quota(bytes=tenant_bytes, objects=tenant_objects),
        replaces_bytes=replaces or 0, replaces_object=replaces is not None, ttl_s=60)


def test_puts_in_flight_count_so_racing_puts_cannot_both_take_the_last_room(desk, cluster):
    cluster.commit("b", 8, 800)
    assert desk.reserve(_ask("p1", 100, objects=10)).granted
    assert desk.reserve(_ask("p2", 100, objects=10)).granted
    refused = desk.reserve(_ask("p3", 100, objects=10))
    assert not refused.granted
    assert "bucket 'b' is at its quota of 10 objects (it holds 10, counting puts in flight)" in refused.message
    assert "nodectl admin quota set --bucket b --objects N" in refused.message


def test_a_given_back_hold_counts_until_a_read_can_show_its_manifest(desk, cluster):
    assert desk.reserve(_ask("p1", 600, quota_bytes=1000)).granted
    # The put's manifest is written, then the hold given back; the desk's last read predates both.
    cluster.commit("b", 1, 600)
    desk.release("p1")
    cluster.now += 0.01
    refused = desk.reserve(_ask("p2", 600, quota_bytes=1000))
    assert not refused.granted
    assert ("would go over its quota of 1,000 bytes: it holds 600 bytes (counting puts in flight and unfinished "
            "uploads' parts) and this put adds 600") in refused.message
    # The hold is gone once a read that started after it was given back has counted the manifest.
    assert desk.holds() == 0
    assert desk.reserve(_ask("p3", 400, quota_bytes=1000)).granted


def test_a_hold_given_back_for_a_failed_put_frees_its_room(desk, cluster):
    assert desk.reserve(_ask("p1", 900, quota_bytes=1000)).granted
    assert not desk.reserve(_ask("p2", 900, quota_bytes=1000)).granted
    desk.release("p1")  # the put failed: nothing committed
    cluster.now += 0.01
    assert desk.reserve(_ask("p3", 900, quota_bytes=1000)).granted


def test_a_refusal_is_decided_on_a_fresh_read(desk, cluster):
    """A delete made a moment ago (no hold involved) has made room: the desk reads again before it
    says no, while a grant may use a read up to USAGE_FRESH_S old."""
    cluster.commit("b", 10, 1000)
    assert not desk.reserve(_ask("p1", 1, objects=10)).granted
    cluster.commit("b", -1, -100)  # deleted through some node
    assert desk.reserve(_ask("p2", 1, objects=10)).granted
    reads = cluster.reads
    assert desk.reserve(_ask("p3", 1, objects=20)).granted
    assert cluster.reads == reads  # still fresh: no read
    cluster.now += USAGE_FRESH_S + 0.1
    assert desk.reserve(_ask("p4", 1, objects=20)).granted
    assert cluster.reads == reads + 1


def test_an_overwrite_adds_only_its_difference_and_shrinking_is_never_refused(desk, cluster):
    cluster.commit("b", 5, 1000)
    assert desk.reserve(_ask("p1", 500, objects=5, quota_bytes=1000, replaces=600)).granted
    assert not desk.reserve(_ask("p2", 800, objects=5, quota_bytes=1000, replaces=600)).granted
    cluster.commit("b", 0, 500)  # the cluster is over its quota (the quota was lowered)
    assert desk.reserve(_ask("p3", 10, objects=5, quota_bytes=1000, replaces=600)).granted


def test_a_tenant_quota_spans_its_buckets(desk, cluster):
    cluster.buckets["acme"] = ["b", "c"]
    cluster.commit("b", 2, 200)
    cluster.commit("c", 1, 100)
    assert desk.reserve(_ask("p1", 50, bucket="c", tenant_objects=4)).granted
    refused = desk.reserve(_ask("p2", 50, bucket="b", tenant_objects=4))
    assert not refused.granted
    assert "tenant 'acme' is at its quota of 4 objects" in refused.message
    assert "--tenant acme --objects N" in refused.message


def test_a_hold_never_given_back_lapses_at_its_ttl(desk, cluster):
    assert desk.reserve(_ask("p1", 900, quota_bytes=1000)).granted
    assert not desk.reserve(_ask("p2", 900, quota_bytes=1000)).granted
    cluster.now += 61
    assert desk.reserve(_ask("p3", 900, quota_bytes=1000)).granted
    desk.release("p3")
    cluster.now += RELEASED_KEPT_S + 1
    assert desk.reserve(_ask("p4", 0, quota_bytes=1000)).granted
    assert desk.holds() == 1


def test_a_retried_reserve_is_granted_once(desk, cluster):
    assert desk.reserve(_ask("p1", 900, quota_bytes=1000)).granted
    assert desk.reserve(_ask("p1", 900, quota_bytes=1000)).granted
    assert desk.holds() == 1


def test_a_long_put_renews_its_hold_so_it_does_not_lapse(desk, cluster):
    assert desk.reserve(_ask("p1", 900, quota_bytes=1000)).granted
    cluster.now += 50
    assert desk.reserve(_ask("p1", 900, quota_bytes=1000)).granted  # the renewal
    cluster.now += 50  # past the first TTL of 60 s, within the renewed one
    assert not desk.reserve(_ask("p2", 900, quota_bytes=1000)).granted
    assert desk.holds() == 1
