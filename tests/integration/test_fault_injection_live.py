"""Fault injection on real noded processes: partial and full partitions, and a slow disk.

Every cluster here runs with `fault_injection=True` (noded --allow-fault-injection). The false-DOWN
checks read `ringstore_member_down_total`, which counts every transition to DOWN a node saw, so a
verdict that came and went between two polls is still caught.
"""

from __future__ import annotations

import random
import time

import pytest

from cluster_checks import fsck, metadata_homes
from cluster_sim.cluster import LocalCluster
from node.config import GossipConfig
from nodectl.client import Client
from nodectl.errors import Unavailable

MIB = 1024 * 1024
LOCAL = GossipConfig.local()
# How long a silent node lasts before it is declared DOWN under the local profile: the watcher's
# silence window, one heartbeat of phase, and the indirect probe.
DOWN_TIME_S = LOCAL.down_after_s + LOCAL.heartbeat_interval_s + LOCAL.indirect_probe_timeout_s
# How long a partition that must not take anyone DOWN is watched.
NO_FALSE_DOWN_WINDOW_S = 3 * DOWN_TIME_S
# Deadline for verdicts that must happen (DOWN, and ALIVE again after a heal, which waits for a
# state sync to reach the other side).
VERDICT_DEADLINE_S = 30.0
DISK_DELAY_MS = 200


def downs_seen(cluster: LocalCluster, observer: str, member: str) -> float:
    """ringstore_member_down_total{member=...} on `observer` (0 when it never saw one)."""
    prefix = f'ringstore_member_down_total{{member="{member}"}} '
    lines = [line for line in cluster.metrics_text(observer).splitlines() if line.startswith(prefix)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_a_node_cut_off_from_two_peers_is_reached_through_the_others_and_never_declared_down(cluster_factory):
    """node-3 loses its links to node-1 and node-2 only: their indirect probes reach it through
    node-4 or node-5, so over three DOWN times nobody declares anyone DOWN, and puts and gets
    through node-4 keep working."""
    cluster = cluster_factory(nodes=5, fault_injection=True)
    nodes = sorted(cluster.nodes)
    print("cutting node-3 off from node-1 and node-2, both ways")
    cluster.partition("node-3", ["node-1", "node-2"])
    print(f"watching every view for {NO_FALSE_DOWN_WINDOW_S:.2f} s (3 x {DOWN_TIME_S:.2f} s to DOWN)")
    end_s = time.monotonic() + NO_FALSE_DOWN_WINDOW_S
    while time.monotonic() < end_s:
        for observer in nodes:
            view = cluster.view(observer)
            assert all(state == "ALIVE" for state in view.values()), (observer, view)
        time.sleep(0.2)  # bounded window: asserting that something does NOT happen
    for observer in nodes:
        for member in nodes:
            assert downs_seen(cluster, observer, member) == 0, f"{observer} once saw {member} DOWN"
    print("storing and reading back an object through node-4")
    data = random.Random(1).randbytes(2 * MIB)
    with Client(address=cluster.nodes["node-4"].address, timeout_s=60.0) as client:
        client.create_bucket("partition")
        client.put("partition", "k", data)
        assert client.get_bytes("partition", "k") == data
    cluster.heal()


def test_a_node_cut_off_from_everyone_is_down_everywhere_and_refutes_after_the_heal(cluster_factory):
    """node-3 loses every link: the other four see it DOWN; after the heal it refutes and every node
    sees every node ALIVE again, and each of the four counted exactly one DOWN of node-3."""
    cluster = cluster_factory(nodes=5, fault_injection=True)
    others = [n for n in sorted(cluster.nodes) if n != "node-3"]
    print("cutting node-3 off from all four others")
    cluster.partition("node-3", others)
    elapsed_s = cluster.wait_state("node-3", "DOWN", observers=others, timeout_s=VERDICT_DEADLINE_S)
    print(f"all four see node-3 DOWN after {elapsed_s:.2f} s; healing")
    cluster.heal()
    elapsed_s = cluster.wait_state("node-3", "ALIVE", observers=others, timeout_s=VERDICT_DEADLINE_S)
    for other in others:
        cluster.wait_state(other, "ALIVE", observers=["node-3"], timeout_s=VERDICT_DEADLINE_S)
    print(f"node-3 ALIVE everywhere {elapsed_s:.2f} s after the heal, and it sees everyone ALIVE")
    assert cluster.member_views(others[0])["node-3"].incarnation >= 1, "it came back by refuting"
    for other in others:
        assert downs_seen(cluster, other, "node-3") == 1, other


def test_a_coordinator_cut_off_from_two_metadata_homes_cannot_acknowledge_a_write_others_would_miss(
        cluster_factory):
    """The coordinator of a put reaches only one of the three metadata homes of its bucket (a partial
    partition: the other two are ALIVE and reachable by everyone else). It must not acknowledge the
    put on that home plus stand-ins: a read through the other two homes would then return the older
    value. The put fails UNAVAILABLE saying so, and reads on the far side return the acknowledged
    value; after the heal the same put succeeds and is read back everywhere."""
    cluster = cluster_factory(nodes=5, fault_injection=True)
    with Client(address=cluster.any_address(), timeout_s=30.0) as client:
        # A bucket sharing at most one home with the bucket directory, so a coordinator cut from
        # two of the bucket's homes still reaches two directory homes: it finds the bucket, and
        # the manifest write itself is what must fail.
        bucket, homes, directory = next((name, *metadata_homes(client, name)) for name in
                                        (f"quorum-{i}" for i in range(100))
                                        if len(metadata_homes(client, name)[0] & metadata_homes(client, name)[1]) <= 1)
        client.create_bucket(bucket)
        client.put(bucket, "k", b"first")
    coordinator = next(n for n in sorted(cluster.nodes) if n not in homes)
    far = sorted(homes - directory)[:2]
    print(f"{bucket}: homes {sorted(homes)}, directory homes {sorted(directory)}; cutting {coordinator} off from {far}")
    cluster.partition(coordinator, far)
    with Client(address=cluster.nodes[coordinator].address, timeout_s=30.0, retries_max=0) as client:
        with pytest.raises(Unavailable, match="write quorum not met: 1 of 2 home acks"):
            client.put(bucket, "k", b"second")
    for reader in far:
        with Client(address=cluster.nodes[reader].address, timeout_s=30.0) as client:
            assert client.get_bytes(bucket, "k") in (b"first", b"second"), reader
    cluster.heal()
    with Client(address=cluster.nodes[coordinator].address, timeout_s=30.0) as client:
        client.put(bucket, "k", b"third")
    for reader in sorted(cluster.nodes):
        with Client(address=cluster.nodes[reader].address, timeout_s=30.0) as client:
            assert client.get_bytes(bucket, "k") == b"third", reader


def test_a_put_waits_for_a_slow_disk_and_still_succeeds(cluster_factory):
    """With delay_disk_ms=200 on node-2 of three (replicas=3: it holds every chunk), a one-chunk put
    is acknowledged only after node-2's delayed fsync, so it takes more than 0.2 s, and node-2 holds
    the copy."""
    cluster = cluster_factory(nodes=3, fault_injection=True)
    cluster.set_faults("node-2", delay_disk_ms=DISK_DELAY_MS)
    data = random.Random(2).randbytes(1 * MIB)
    with Client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as client:
        client.create_bucket("slow")
        start_s = time.monotonic()
        client.put("slow", "k", data)
        put_s = time.monotonic() - start_s
        assert client.get_bytes("slow", "k") == data
    print(f"one-chunk put took {put_s:.3f} s with node-2's disk {DISK_DELAY_MS} ms slow")
    assert put_s > DISK_DELAY_MS / 1000
    text = cluster.metrics_text("node-2")
    assert "ringstore_chunks_stored 1.0" in text.splitlines()
    cluster.heal()


def test_fsck_names_a_holder_it_cannot_reach_and_counts_its_chunks_degraded(cluster_factory):
    """fsck through node-1, whose calls to one holder of every chunk are dropped: that holder's copies
    cannot be confirmed, so each of those chunks is reported degraded (never full, never silently
    skipped) with "<holder> did not answer"; once the fault is cleared fsck is clean again."""
    cluster = cluster_factory(nodes=4, fault_injection=True)
    with Client(address=cluster.nodes["node-1"].address, timeout_s=60.0) as client:
        client.create_bucket("audit")
        for i in range(6):
            client.put("audit", f"k{i}", random.Random(i).randbytes(5 * MIB), replicas=3)  # 2 chunks each
        chunk_holders = [{h.node_id for h in chunk.holders} for i in range(6)
                         for chunk in client.stat("audit", f"k{i}").chunks]
    cut = sorted(set().union(*chunk_holders) - {"node-1"})[0]
    cluster.set_faults("node-1", drop_to=[cut])
    try:
        summary, findings = fsck(cluster.nodes["node-1"].address)
    finally:
        cluster.set_faults("node-1")
    assert summary.chunks_checked == 12
    assert summary.chunks_unreadable == 0
    assert summary.chunks_degraded == len(findings) == sum(cut in held for held in chunk_holders) > 0
    assert all(f"{cut} did not answer" in f.detail for f in findings), [f.detail for f in findings]
    summary, findings = fsck(cluster.nodes["node-1"].address)
    assert (summary.chunks_full, findings) == (12, [])
