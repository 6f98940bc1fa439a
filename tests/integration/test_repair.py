"""Self-healing through real noded processes: repair after OUT, handoff return, rebalancing on join,
scrub and garbage collection, each checked with a cluster-wide fsck and byte-identical reads.

Every cluster here is started by `cluster_factory` and stopped by pid at teardown (conftest.py).
Polls have deadlines; nothing sleeps a fixed time and hopes.
"""

from __future__ import annotations

import itertools
import pathlib
import threading
import time

import grpc
import pytest
from click.testing import CliRunner

from cluster_checks import (MIB, REPAIR_DEADLINE_S, check_all, copies_repaired, fsck, metadata_homes, metric,
                            payload, put_mix, raw_channel, repair_status, replace_disk, wait_copies, wait_full)
from nodectl.cli import main
from nodectl.client import Client
from nodectl.errors import NotFound
from ringstore import frames
from ringstore.v1 import admin_pb2, admin_pb2_grpc, common_pb2, object_pb2


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

    # (3) two more losses: replicas=3 keeps a copy, ec=4+2 keeps four shares. Two nodes that leave
    # two metadata homes of the bucket and of the bucket directory live (with two of a partition's
    # three homes lost its reads are UNAVAILABLE, never stale: test_objects covers that).
    bucket_homes, directory_homes = metadata_homes(client, "mix")
    left = sorted(n for n in cluster.nodes if n != "node-5")
    lost = next(pair for pair in itertools.combinations(left, 2)
                if len(set(pair) & bucket_homes) <= 1 and len(set(pair) & directory_homes) <= 1)
    for node_id in lost:
        cluster.kill(node_id)
    client = Client(address=cluster.any_address(exclude=list(lost)), timeout_s=60.0)
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
    moved = copies_repaired(cluster.any_address())
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

    with raw_channel(cluster.any_address()) as channel:
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


def test_a_node_back_after_out_reuses_what_it_holds_and_collects_what_was_deleted(cluster_factory):
    """5 nodes, replicas=3 and ec=2+2 objects. node-3 is killed, turns OUT and repair restores full
    redundancy without it; two objects are deleted meanwhile. node-3 then comes back with its old data
    dir: it is a home again for exactly the chunks it held, so repair copies nothing to it, the copies
    that stood in for it are dropped as surplus, and its copies of the deleted objects are collected
    after the grace. The cluster ends with exactly one copy per slot of the live objects."""
    cluster = cluster_factory(nodes=5, settings={"repair.gc_grace_s": "3", "repair.gc_interval_s": "0.5"})
    client = Client(address=cluster.any_address(exclude=["node-3"]), timeout_s=60.0)
    objects = {f"obj-{i}": payload(5 * MIB + i * 1000, seed=900 + i) for i in range(6)}
    copies = put_mix(client, objects, ec=(2, 2))
    held = wait_copies(cluster, copies, "the objects' copies to be stored")["node-3"]
    assert held > 0

    cluster.kill("node-3")
    cluster.wait_state("node-3", "OUT", timeout_s=40)
    # `nodectl repair wait` returns only when a scan after it began found nothing left on every
    # node, so one fsck right after it (not a poll) must find every chunk full and at home.
    waited = CliRunner().invoke(main, ["--addr", cluster.any_address(exclude=["node-3"]), "repair", "wait",
                                       "--poll-s", "0.5", "--timeout-s", str(REPAIR_DEADLINE_S)])
    assert waited.exit_code == 0, waited.output
    assert waited.stdout.startswith("repair: all chunks at full redundancy\n")
    summary, findings = fsck(cluster.any_address(exclude=["node-3"]))
    assert (summary.chunks_full, summary.chunks_misplaced) == (summary.chunks_checked, 0), findings
    gone = ["obj-0", "obj-1"]  # one replicas=3 object and one ec=2+2 object, 2 chunks each
    for key in gone:
        client.delete("mix", key)
        del objects[key]
    live_copies = copies - (3 + 4) * 2
    before_return = copies_repaired(cluster.any_address())

    cluster.restart("node-3")
    cluster.wait_state("node-3", "ALIVE", timeout_s=15)
    wait_full(cluster, "node-3's copies to count again and the stand-ins to be dropped")
    spread = wait_copies(cluster, live_copies, "surplus stand-ins and deleted objects' copies to be dropped")
    assert 0 < spread["node-3"] <= held
    # node-3 is a home again for what it held: nothing is copied to it (its counter starts at its
    # restart). Copies repair makes on other nodes right after the return are a known limit, not
    # this claim (docs/design.md, "Known limits"): they are surplus the drop above already removed.
    assert metric(cluster, "node-3", "ringstore_peer_shares_received_total") == 0, \
        "repair copied chunks to node-3 that it already held"
    extra = copies_repaired(cluster.any_address()) - before_return
    print(f"copies repaired after node-3 came back (on other nodes): {extra}")
    check_all(client, objects)


def test_a_put_whose_coordinator_dies_leaves_nothing_after_the_grace(cluster_factory):
    """4 nodes. A replicas=3 put streams 10 MiB through node-2, whose first two chunks are stored on
    their holders, and node-2 is killed -9 before the put ends: the put fails, no object appears, and
    once node-2 is back every copy the torn put left (node-2's own included) is collected after the
    grace, while an object stored before it is untouched."""
    # The grace must outlast the wait for the torn put's first copies: past it, a stalled put's
    # copies are collected even with its coordinator alive (such a put is refused at its end anyway).
    cluster = cluster_factory(nodes=4, settings={"repair.gc_grace_s": "8", "repair.gc_interval_s": "0.5"})
    client = Client(address=cluster.any_address(exclude=["node-2"]), timeout_s=60.0)
    client.create_bucket("mix")
    keep = payload(1 * MIB, seed=11)
    client.put("mix", "keep", keep, replicas=3)
    wait_copies(cluster, 3, "the kept object's copies to be stored")

    torn = payload(10 * MIB, seed=12)  # distinct chunks: equal ones would be stored once
    release = threading.Event()
    failed: list[BaseException] = []

    def torn_put() -> None:
        with raw_channel(cluster.nodes["node-2"].address) as channel:
            put = channel.stream_unary("/ringstore.v1.ObjectService/PutObject", request_serializer=frames.encode,
                                       response_deserializer=object_pb2.PutObjectResponse.FromString)

            def requests():
                yield object_pb2.PutObjectRequest(header=object_pb2.PutObjectHeader(
                    bucket="mix", key="torn", policy=common_pb2.RedundancyPolicy(replication=common_pb2.Replication(replicas=3))))
                for i in range(10):  # two whole 4 MiB chunks, and half of a third
                    yield torn[i * MIB:(i + 1) * MIB]
                release.wait(REPAIR_DEADLINE_S)

            try:
                put(requests(), timeout=REPAIR_DEADLINE_S)
            except grpc.RpcError as err:
                failed.append(err)

    writer = threading.Thread(target=torn_put, daemon=True)
    writer.start()
    try:
        wait_copies(cluster, 3 + 2 * 3, "the torn put's first chunks to be stored")
        cluster.kill("node-2")
    finally:
        release.set()
        writer.join(timeout=30)
    assert failed and failed[0].code() == grpc.StatusCode.UNAVAILABLE, failed

    cluster.restart("node-2")
    cluster.wait_state("node-2", "ALIVE", timeout_s=15)
    with pytest.raises(NotFound):
        client.stat("mix", "torn")
    wait_copies(cluster, 3, "the torn put's copies to be collected after the grace")
    assert client.get_bytes("mix", "keep") == keep


def _node_status(address: str) -> admin_pb2.NodeStatus:
    with raw_channel(address) as channel:
        return admin_pb2_grpc.AdminServiceStub(channel).GetNodeStatus(admin_pb2.GetNodeStatusRequest(), timeout=30)


def _repair_cli(cluster, *args: str):
    return CliRunner().invoke(main, ["--addr", cluster.any_address(), "repair", *args])


def test_a_replaced_disk_is_refilled_and_the_tools_agree_until_it_is(cluster_factory):
    """5 nodes, replicas=3 and ec=2+1 objects. node-4 is killed -9, its data dir removed and it is
    started again under the same id (a disk replaced in the same host), before it could turn OUT.
    While repair is held to a trickle, fsck finds chunks below full redundancy, `repair status`
    counts chunks below full on some node, and `repair wait` does not exit 0. Once repair runs
    freely, `repair wait` exits 0, one fsck right after finds every chunk full and at home, and
    node-4 holds again the chunk copies, placement records and metadata records it held before."""
    cluster = cluster_factory(nodes=5, settings={"gossip.repair_after_down_s": "600"})
    client = Client(address=cluster.any_address(exclude=["node-4"]), timeout_s=60.0)
    objects = {f"obj-{i}": payload(6 * MIB + i * 1000, seed=1200 + i) for i in range(14)}
    copies = put_mix(client, objects, ec=(2, 1))
    held = wait_copies(cluster, copies, "the objects' copies to be stored")["node-4"]
    before = _node_status(cluster.nodes["node-4"].address)
    assert held > 0 and before.metadata_records > 0 and before.placement_records > 0

    held_back = _repair_cli(cluster, "set", "--bandwidth-bytes-per-s", "1")
    assert held_back.exit_code == 0, held_back.output
    replace_disk(cluster, "node-4")
    _repair_cli(cluster, "set", "--bandwidth-bytes-per-s", "1")  # node-4 started with its configured rate
    # It learned at join that its id had an earlier life: its empty metadata answers nothing until
    # refilled from every other home (a quorum read must not take its "absent" for the truth).
    assert "this node id was a member before" in pathlib.Path(cluster.nodes["node-4"].log_path).read_text()

    # Held to a trickle (each node's burst lets about one copy through), repair cannot have refilled
    # node-4; every tool must say so, about the same chunks: fsck's count of chunks below full and the
    # sum of the nodes' `chunks_below_full` agree (polled: a scan or a copy may be under way).
    seen: list = []

    def tools_agree() -> bool:
        summary, findings = fsck(cluster.any_address())
        counted = sum(n.chunks_below_full for n in repair_status(cluster.any_address()).nodes)
        seen[:] = [summary, counted, findings[:3]]
        below = summary.chunks_degraded + summary.chunks_unreadable
        return below > 0 and counted == below

    cluster.wait_until(tools_agree, timeout_s=REPAIR_DEADLINE_S, interval_s=0.5,
                       what="repair status to count exactly the chunks fsck finds below full redundancy",
                       detail=lambda: f"fsck {seen[0] if seen else None}, repair status counts {seen[1:]}")
    waited = _repair_cli(cluster, "wait", "--poll-s", "0.5", "--timeout-s", "5")
    assert waited.exit_code != 0, waited.output

    released = _repair_cli(cluster, "set", "--bandwidth-bytes-per-s", "0")
    assert released.exit_code == 0, released.output
    waited = _repair_cli(cluster, "wait", "--poll-s", "0.5", "--timeout-s", str(REPAIR_DEADLINE_S))
    assert waited.exit_code == 0, waited.output
    summary, findings = fsck(cluster.any_address())
    assert (summary.chunks_full, summary.chunks_misplaced) == (summary.chunks_checked, 0), findings[:5]
    spread = wait_copies(cluster, copies, "surplus copies to be dropped")
    assert spread["node-4"] == held
    after = _node_status(cluster.nodes["node-4"].address)
    assert (after.placement_records, after.metadata_records) == (before.placement_records, before.metadata_records)
    check_all(client, objects)
