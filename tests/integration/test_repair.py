"""Self-healing through real noded processes: repair after OUT, handoff return, rebalancing on join,
scrub and garbage collection, each checked with a cluster-wide fsck and byte-identical reads.

Every cluster here is started by `cluster_factory` and stopped by pid at teardown (conftest.py).
Polls have deadlines; nothing sleeps a fixed time and hopes.
"""

from __future__ import annotations

import pathlib
import time

import grpc

from cluster_checks import (MIB, REPAIR_DEADLINE_S, check_all, metric, payload, put_mix, repair_status,
                            wait_copies, wait_full)
from nodectl.client import Client
from ringstore.v1 import admin_pb2, admin_pb2_grpc


def test_handoff_returns_then_out_is_repaired_then_two_more_losses_are_survived(cluster_factory):
    """7 nodes, replicas=3 and ec=4+2 objects. (1) A node killed and restarted before OUT gets its
    handoff copies back and no copy stays surplus. (2) A node killed for good turns OUT and repair
    restores full redundancy on the other six (ec=4+2 needs six distinct nodes, hence seven to start
    with). (3) Two more nodes killed: every object still reads back identical."""
    cluster = cluster_factory(nodes=7)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    objects = {f"obj-{i}": payload(6 * MIB + i * 1000, seed=i) for i in range(4)}
    copies = put_mix(client, objects)
    wait_copies(cluster, copies, "the first objects' copies to be stored")

    # (1) handoff return: node-3 is DOWN while more objects are written, then comes back before OUT.
    cluster.kill("node-3")
    cluster.wait_state("node-3", "DOWN", timeout_s=15)
    client = Client(address=cluster.any_address(exclude=["node-3"]), timeout_s=60.0)
    during = {f"during-{i}": payload(5 * MIB + i, seed=100 + i) for i in range(4)}
    for index, (key, data) in enumerate(sorted(during.items())):
        client.put("mix", key, data, **({"ec": (4, 2)} if index % 2 else {"replicas": 3}))
        copies += (6 if index % 2 else 3) * 2
    objects.update(during)
    cluster.restart("node-3")
    cluster.wait_state("node-3", "ALIVE", timeout_s=15)
    wait_full(cluster, "handoff copies to return home after node-3 restarted")
    spread = wait_copies(cluster, copies, "surplus handoff copies to be dropped")
    assert spread["node-3"] > 0
    check_all(client, objects)

    # (2) a node lost for good: OUT, then repair to full redundancy on the six left.
    cluster.kill("node-5")
    cluster.wait_state("node-5", "OUT", timeout_s=40)
    wait_full(cluster, "repair to restore full redundancy after node-5 turned OUT")
    wait_copies(cluster, copies, "repair to leave exactly one copy per slot")
    status = repair_status(cluster.any_address())
    assert sum(n.bytes_repaired_total for n in status.nodes) > 0
    assert all(n.chunks_below_full == 0 for n in status.nodes)

    # (3) two more losses: replicas=3 keeps a copy, ec=4+2 keeps four shares.
    cluster.kill("node-1")
    cluster.kill("node-6")
    client = Client(address=cluster.any_address(exclude=["node-1", "node-6"]), timeout_s=60.0)
    check_all(client, objects)


def test_a_joining_node_receives_about_a_seventh_and_fsck_stays_clean(cluster_factory):
    cluster = cluster_factory(nodes=6)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    objects = {f"obj-{i}": payload(8 * MIB, seed=200 + i) for i in range(8)}
    copies = put_mix(client, objects)
    wait_copies(cluster, copies, "the objects' copies to be stored")

    cluster.add_node(node_id="node-7")
    wait_full(cluster, "rebalancing onto node-7 to finish")
    spread = wait_copies(cluster, copies, "moved copies to be dropped from their old holders")
    share = spread["node-7"] / copies
    assert 0.05 < share < 0.3, f"node-7 holds {spread['node-7']} of {copies} copies ({share:.2f}); ideal 1/7"
    status = repair_status(cluster.any_address())
    moved = sum(n.copies_repaired_total for n in status.nodes)
    assert moved == spread["node-7"], f"{moved} copies were written, node-7 holds {spread['node-7']}"
    check_all(client, objects)


def test_scrub_finds_a_flipped_byte_and_repair_rebuilds_it(cluster_factory):
    cluster = cluster_factory(nodes=5)
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    client.create_bucket("mix")
    data = payload(3 * MIB, seed=7)
    client.put("mix", "victim", data, replicas=3)
    chunk_files = sorted(pathlib.Path(cluster.directory).glob("node-*/store/chunks/*/*/*.r"))
    assert len(chunk_files) == 3
    victim = chunk_files[0]
    original = victim.read_bytes()
    raw = bytearray(original)
    raw[len(raw) // 2] ^= 0x40
    victim.write_bytes(bytes(raw))

    with grpc.insecure_channel(cluster.any_address()) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(channel)
        started = stub.StartScrub(admin_pb2.StartScrubRequest(), timeout=30)
        assert len(started.node_ids) == 5

        def found() -> bool:
            status = stub.GetScrubStatus(admin_pb2.GetScrubStatusRequest(), timeout=30)
            return sum(n.corrupt_found_total for n in status.nodes) == 1

        cluster.wait_until(found, timeout_s=30, interval_s=0.3, what="scrub to find the flipped byte")
    assert sum(metric(cluster, n, "ringstore_scrub_corrupt_total") for n in cluster.running()) == 1
    cluster.wait_until(lambda: victim.exists() and victim.read_bytes() == original, timeout_s=REPAIR_DEADLINE_S,
                       interval_s=0.3, what="repair to rebuild the quarantined copy")
    wait_full(cluster, "fsck to see the chunk at full redundancy again")
    assert client.get_bytes("mix", "victim") == data


def test_deleted_objects_space_is_reclaimed_after_the_grace(cluster_factory):
    cluster = cluster_factory(nodes=4, settings={"repair.gc_grace_s": "3", "repair.gc_interval_s": "0.5"})
    client = Client(address=cluster.any_address(), timeout_s=60.0)
    client.create_bucket("mix")
    keep = payload(2 * MIB, seed=1)
    client.put("mix", "keep", keep, replicas=3)
    client.put("mix", "gone", payload(9 * MIB, seed=2), ec=(2, 1))
    client.put("mix", "replaced", payload(5 * MIB, seed=3), replicas=2)
    replaced = payload(1 * MIB, seed=4)
    client.put("mix", "replaced", replaced, replicas=2)
    deleted_at = time.monotonic()
    client.delete("mix", "gone")
    # Left: keep (1 chunk x 3) + the new "replaced" (1 chunk x 2).
    wait_copies(cluster, 3 + 2, "garbage collection to reclaim deleted and overwritten objects")
    assert time.monotonic() - deleted_at >= 3 * 0.5, "collected well before the grace could pass"
    assert sum(metric(cluster, n, "ringstore_gc_copies_deleted_total") for n in cluster.running()) == 9 + 4
    assert client.get_bytes("mix", "keep") == keep
    assert client.get_bytes("mix", "replaced") == replaced
