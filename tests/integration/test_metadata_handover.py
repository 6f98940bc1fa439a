"""Metadata handover through real noded processes: after a ring change every member pushes the
metadata partitions it holds to their homes on the new ring, and says so (`nodectl status`, the
client's `handover()`, the `ringstore_metadata_handover_*` metrics).

The cluster is started by `cluster_factory` and stopped by pid at teardown (conftest.py); every
wait polls with a deadline.
"""

from __future__ import annotations

import json
import threading
import time

from click.testing import CliRunner

from cluster_checks import metric
from nodectl.cli import main
from nodectl.client import Client, Handover

BUCKETS = [f"handover-{i}" for i in range(6)]
HANDOVER_DEADLINE_S = 60.0


def _wait_done(cluster, client: Client, members: int, what: str, *, not_ring: int = 0,
               buckets: int = len(BUCKETS)) -> Handover:
    """The handover done on one ring (not `not_ring`) by `members` members, on passes that saw
    every bucket's metadata: each partition (the buckets and the tenant's bucket list) on at least
    its three homes."""
    answers: list[Handover] = []

    def done() -> bool:
        answers.append(client.handover())
        latest = answers[-1]
        return (latest.done and len(latest.nodes) == members and latest.rings[0] != not_ring
                and sum(n.partitions_held for n in latest.nodes) >= 3 * (buckets + 1))

    cluster.wait_until(done, timeout_s=HANDOVER_DEADLINE_S, what=what, detail=lambda: repr(answers[-1:]))
    return answers[-1]


def test_every_member_hands_metadata_to_the_new_homes_when_a_node_joins(cluster_factory):
    """4 nodes, six buckets with one object each: the handover is done on one ring everywhere. A
    fifth node joins: the ring's fingerprint changes, every member (the new one too) reports the
    handover done on the new ring, the new node holds the metadata records of the partitions it now
    homes, every object still reads, and `nodectl status` and the metrics say the same."""
    cluster = cluster_factory(nodes=4)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    for bucket in BUCKETS:
        client.create_bucket(bucket)
        client.put(bucket, "key", f"value of {bucket}".encode(), replicas=3)
    before = _wait_done(cluster, client, 4, "the handover to be done on the first ring")
    assert all(n.partitions_pending == n.partitions_waiting == 0 for n in before.nodes)

    cluster.add_node(node_id="node-5")
    after = _wait_done(cluster, client, 5, "the handover to be done on the ring with node-5",
                       not_ring=before.rings[0])
    joined = next(n for n in after.nodes if n.node_id == "node-5")
    assert joined.synced_ring_fingerprint == after.rings[0]
    # Six buckets and the tenant's bucket list: node-5 is among the three homes of some of them, and
    # the others pushed those to it (its own count of partitions is as of its last pass).
    assert client.node_status("node-5").metadata_records > 0
    for bucket in BUCKETS:
        assert client.get_bytes(bucket, "key") == f"value of {bucket}".encode()

    status = CliRunner().invoke(main, ["--addr", cluster.any_address(), "status"], catch_exceptions=False)
    assert status.exit_code == 0, status.output
    assert f"metadata handover: done (ring {after.rings[0]:016x}, 5 live members)" in status.output
    document = CliRunner().invoke(main, ["--addr", cluster.any_address(), "status", "--json"],
                                  catch_exceptions=False)
    handover = json.loads(document.stdout)["metadata_handover"]
    assert handover["done"] and {n["node_id"] for n in handover["nodes"]} == {f"node-{i}" for i in range(1, 6)}
    for node_id in ("node-1", "node-5"):
        assert metric(cluster, node_id, "ringstore_metadata_handover_synced") == 1
        assert metric(cluster, node_id, "ringstore_metadata_handover_pending_partitions") == 0


def test_reads_ask_a_quorum_only_on_a_settled_ring_and_never_go_back_in_time_across_a_join(cluster_factory):
    """4 nodes. Once the handover is done, gets ask a read quorum of homes (the metric says so).
    Then, while node-5 joins and the metadata moves, one key is overwritten again and again through
    one node and read back through the others after each acknowledged put: every read returns the
    value just acknowledged. After the join settles, reads ask a quorum only again."""
    cluster = cluster_factory(nodes=4)
    writer = Client(address=cluster.nodes["node-1"].address, timeout_s=60.0)
    readers = [Client(address=cluster.nodes[n].address, timeout_s=60.0) for n in ("node-2", "node-3", "node-4")]
    writer.create_bucket("flow")
    writer.put("flow", "k", b"v0", replicas=3)
    _wait_done(cluster, writer, 4, "the handover to be done on the first ring", buckets=1)

    def quorum_reads() -> float:
        return sum(metric(cluster, n, 'ringstore_manifest_reads_total{homes="quorum"}') for n in cluster.nodes)

    def read_by_quorum() -> bool:
        before = quorum_reads()
        for reader in readers:
            assert reader.get_bytes("flow", "k") == b"v0"
        return quorum_reads() >= before + len(readers)

    cluster.wait_until(read_by_quorum, timeout_s=HANDOVER_DEADLINE_S, what="gets to ask a read quorum only")

    joined = threading.Thread(target=cluster.add_node, kwargs={"node_id": "node-5"})
    joined.start()
    rounds = 0
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and (joined.is_alive() or rounds < 40 or not writer.handover().done):
            rounds += 1
            value = f"v{rounds}".encode()
            writer.put("flow", "k", value, replicas=3)
            for reader in readers:
                assert reader.get_bytes("flow", "k") == value, f"round {rounds}: a read went back in time"
    finally:
        joined.join(60)
    assert rounds >= 40 and "node-5" in cluster.nodes
    last = f"v{rounds}".encode()

    def read_by_quorum_again() -> bool:
        before = quorum_reads()
        assert readers[0].get_bytes("flow", "k") == last
        return quorum_reads() > before

    cluster.wait_until(read_by_quorum_again, timeout_s=HANDOVER_DEADLINE_S,
                       what="gets to ask a read quorum only after the join")
