"""Operator actions through real noded processes: drain (with its ring plan first), maintenance
during a restart, and a node whose disk fills up.

Every cluster here is started by `cluster_factory` and stopped by pid at teardown (conftest.py).
Polls have deadlines; the one wait that checks something does NOT happen (a node in maintenance
must not turn OUT) polls the state for a bounded window longer than the OUT timer.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cluster_checks import (MIB, REPAIR_DEADLINE_S, check_all, copies_repaired, metric, payload, put_mix,
                            wait_copies, wait_full)
from cluster_sim.errors import ClusterTimeout
from nodectl.cli import main
from nodectl.client import Client
from nodectl.errors import ResourceExhausted


def nodectl(cluster, *args):
    return CliRunner().invoke(main, ["--addr", cluster.any_address(), *args], catch_exceptions=False)


def test_ring_plan_then_drain_moves_everything_away_and_the_node_ends_left(cluster_factory):
    """5 nodes. `ring plan drain node-2` predicts moving exactly the copies node-2 holds; `node drain
    node-2` waits until node-2 is LEFT; then node-2 holds nothing, fsck is clean with every chunk at
    home, no copy is surplus, every object reads back identical (also with node-2 stopped), and a
    second drain that would leave too few ring members for ec=2+2 and metadata is refused."""
    cluster = cluster_factory(nodes=5)
    client = Client(address=cluster.any_address(exclude=["node-2"]), timeout_s=60.0)
    objects = {f"obj-{i}": payload(5 * MIB + i * 777, seed=300 + i) for i in range(6)}
    copies = put_mix(client, objects, ec=(2, 2))  # both policies fit on the four nodes left
    held = wait_copies(cluster, copies, "the objects' copies to be stored")["node-2"]
    assert held > 0

    plan = nodectl(cluster, "ring", "plan", "drain", "node-2", "--json")
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["copies_moved"] == held, planned
    assert planned["copies_total"] == copies
    assert {m["source_node_id"] for m in planned["moves"]} <= {"node-2", ""}
    assert "node-2" not in {m["target_node_id"] for m in planned["moves"]}

    drained = nodectl(cluster, "node", "drain", "node-2", "--timeout-s", str(REPAIR_DEADLINE_S))
    assert drained.exit_code == 0, drained.output
    assert "LEFT" in drained.output
    cluster.wait_state("node-2", "LEFT", timeout_s=15)
    assert not cluster.member_views("node-1")["node-2"].draining
    status = client.node_status("node-2")
    assert (status.shares_stored, status.placement_records, status.metadata_records) == (0, 0, 0)
    wait_full(cluster, "fsck to be clean after the drain")
    spread = wait_copies(cluster, copies, "no surplus copy left after the drain")
    assert spread["node-2"] == 0
    moved = copies_repaired(cluster.any_address(exclude=["node-2"]))
    assert moved == held, f"repair wrote {moved} copies, node-2 held {held}"
    cluster.kill("node-2", "TERM")
    check_all(client, objects)

    refused = nodectl(cluster, "node", "drain", "node-4", "--no-wait")
    assert refused.exit_code != 0
    assert "would leave 3 ring members" in refused.output and "ec=2+2" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_maintenance_holds_off_out_so_a_restart_costs_only_the_handoff_return(cluster_factory):
    """4 nodes, replicas=3. node-2 goes into maintenance and is stopped with SIGTERM, which inside the
    window is not a graceful leave; it stays DOWN (never LEFT or OUT)
    for twice the OUT timer while puts continue on handoff copies; restarted, it still shows its
    window (kept in its data dir), the handoff copies come home, and repair wrote only those: nothing
    node-2 held before was rebuilt elsewhere."""
    out_after_s = 10.0  # the local profile's repair_after_down_s
    cluster = cluster_factory(nodes=4)
    client = Client(address=cluster.any_address(exclude=["node-2"]), timeout_s=60.0)
    client.create_bucket("mix")
    before = {f"before-{i}": payload(4 * MIB, seed=400 + i) for i in range(4)}
    for key, data in before.items():
        client.put("mix", key, data, replicas=3)
    held_before = wait_copies(cluster, 3 * len(before), "the first copies to be stored")["node-2"]

    started = nodectl(cluster, "node", "maintenance", "node-2", "--for-s", "600")
    assert started.exit_code == 0, started.output
    window_ms = client.node_status("node-2").member.maintenance_until_unix_ms
    assert window_ms > 0
    cluster.wait_until(lambda: all(cluster.member_views(o)["node-2"].maintenance_until_unix_ms == window_ms
                                   for o in ("node-1", "node-3", "node-4")),
                       timeout_s=10, interval_s=0.2, what="every node to learn node-2's maintenance window")
    cluster.kill("node-2", "TERM")  # a planned stop: inside the window it must not announce LEFT
    cluster.wait_state("node-2", "DOWN", timeout_s=15)
    during = {f"during-{i}": payload(3 * MIB, seed=500 + i) for i in range(3)}
    for key, data in during.items():
        client.put("mix", key, data, replicas=3)
    states: list[str] = []

    def turned_out() -> bool:
        states.extend(cluster.view(o).get("node-2", "?") for o in ("node-1", "node-3", "node-4"))
        return "OUT" in states

    with pytest.raises(ClusterTimeout):
        cluster.wait_until(turned_out, timeout_s=2 * out_after_s, interval_s=0.5, what="node-2 to stay DOWN")
    assert set(states) == {"DOWN"}, states

    cluster.restart("node-2")
    cluster.wait_state("node-2", "ALIVE", timeout_s=15)
    assert client.node_status("node-2").member.maintenance_until_unix_ms == window_ms
    copies = 3 * (len(before) + len(during))
    wait_full(cluster, "handoff copies to return to node-2")
    held_after = wait_copies(cluster, copies, "surplus handoff copies to be dropped")["node-2"]
    repaired = copies_repaired(cluster.any_address())
    assert repaired == held_after - held_before <= len(during), (
        f"repair wrote {repaired} copies; node-2 went from {held_before} to {held_after}: only handoff copies "
        "of the puts made while it was down should have moved")
    check_all(client, {**before, **during})

    ended = nodectl(cluster, "node", "maintenance", "node-2", "--end")
    assert ended.exit_code == 0, ended.output
    assert client.node_status("node-2").member.maintenance_until_unix_ms == 0


def test_a_full_node_gets_no_new_copies_writes_that_cannot_be_placed_fail_cleanly_and_deletes_work(
        cluster_factory):
    """3 nodes plus node-4 with a 24 MiB disk (storage.disk_bytes_max). Puts fill node-4 until it
    reports full; further replicas=3 puts still succeed and place nothing more on node-4; a
    replicas=4 put fails with RESOURCE_EXHAUSTED naming node-4; deletes succeed, and after the GC
    grace their copies are gone everywhere; every stored object still reads back identical."""
    cluster = cluster_factory(nodes=3, settings={"repair.gc_grace_s": "3", "repair.gc_interval_s": "0.5"})
    cluster.add_node(node_id="node-4", settings={"storage.disk_bytes_max": str(24 * MIB),
                                                 "storage.disk_free_bytes_min": str(2 * MIB)})
    client = Client(address=cluster.any_address(exclude=["node-4"]), timeout_s=60.0)
    client.create_bucket("mix")
    stored: dict[str, bytes] = {}
    for i in range(40):
        data = payload(2 * MIB, seed=600 + i)
        client.put("mix", f"fill-{i}", data, replicas=3)
        stored[f"fill-{i}"] = data
        if client.node_status("node-4").member.disk_full:
            break
    else:
        pytest.fail("node-4 never reported its disk full after 40 puts of 2 MiB")
    cluster.wait_until(lambda: all(cluster.member_views(o)["node-4"].disk_full for o in ("node-1", "node-2", "node-3")),
                       timeout_s=10, interval_s=0.2, what="every node to see node-4 full")
    full_bytes = metric(cluster, "node-4", "ringstore_stored_bytes")
    assert full_bytes <= 24 * MIB
    assert metric(cluster, "node-4", "ringstore_disk_full") == 1
    assert metric(cluster, "node-4", "ringstore_disk_size_bytes") == 24 * MIB

    for i in range(4):
        data = payload(2 * MIB, seed=700 + i)
        client.put("mix", f"more-{i}", data, replicas=3)
        stored[f"more-{i}"] = data
    assert metric(cluster, "node-4", "ringstore_stored_bytes") == full_bytes

    with pytest.raises(ResourceExhausted) as refused:
        client.put("mix", "wide", payload(2 * MIB, seed=800), replicas=4)
    assert "node-4" in refused.value.message and "\n" not in refused.value.message

    for key in [k for k in stored if k.startswith("fill-")][:6]:
        client.delete("mix", key)
        del stored[key]
    check_all(client, stored)
    # Deleted objects' copies go after the grace everywhere, node-4 included. Its room is then taken
    # by the copies that stood in for it while it was full (it is still their home), so node-4 may
    # fill up again: it must stay within its disk and every chunk must stay at full redundancy.
    wait_copies(cluster, 3 * len(stored), "the deleted objects' copies to be reclaimed")
    assert metric(cluster, "node-4", "ringstore_stored_bytes") <= 24 * MIB
    wait_full(cluster, "fsck to see every chunk at full redundancy", misplaced_ok=True)
    check_all(client, stored)
