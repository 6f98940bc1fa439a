"""Repair after a node is lost, copies moved when one joins, and a drain, against the ring plan.

Repair throughput is printed next to the disk ceiling; the join and the drain next to what `ring
plan` predicted before anything moved.

    python -m bench.repair [--nodes 6] [--size-mib 3000] [--mix-mib 256] [--json PATH]

Two clusters, one after the other, both real noded processes on loopback started by cluster-sim
with repair unthrottled (`repair.repair_bandwidth_bytes_per_s=0`), both stopped in `finally`.

Repair. `--nodes` nodes; 64 MiB objects under replicas=3 are put until the last node holds
`size-mib / nodes` MiB of copies (its `ringstore_stored_bytes`), so the whole cluster stores about
`size-mib`. Once every copy is stored, that node is killed with -9. The clock for repair starts
when the first survivor sees it OUT (repair may begin there, so starting later would flatter the
rate); the run also records when every survivor sees it OUT. It stops when an fsck reports every
chunk at full redundancy, polled with a deadline. MB/s is what repair wrote (the survivors'
`bytes_repaired_total`, from GetRepairStatus) over that time, printed next to the machine's disk
ceiling (`dd conv=fsync`, as bench.put_get and bench.erasure measure it), and the CPU seconds are
the survivors' utime+stime over the same window, from /proc. The fsck polls themselves are part of
that window and that CPU; the time one fsck takes is printed as the resolution of the figure.

Rebalancing. A fresh 6-node cluster stores `mix-mib` of 16 MiB objects, alternately replicas=3 and
ec=4+2. Once every copy is stored a 7th node joins; the run waits until fsck finds every chunk
full and none misplaced, node-7 holds copies, and the copies stored across nodes are back to the
original count (moved copies dropped from their old holders, which waits out `ring_settle_s`).
Copies moved are the `copies_repaired_total` the nodes added, as a fraction of all copies, next to
the 1/7 a consistent-hash ring moves at best, with node-7's final share of the copies and what
`ring plan add` predicted before the join.

Drain. The same 7 nodes then drain node-2 (`ring plan drain` first): the run times drain start to
node-2 LEFT (its store empty), and prints the copies and MB/s moved against the plan.

Rejected: timing repair from `nodectl repair status` reaching zero debt. The debt is the work a
node's scans have queued and not finished, so it reads zero until the scans triggered by OUT have
queued anything; fsck checks every chunk on every live node and cannot be early. Rejected too:
counting moved copies from the new node's holdings alone. That is right only when nothing else
moves; with EC shares matched to homes a join could also move shares between old nodes, and then
copies moved exceed node-7's copies, which this run prints side by side.
"""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import tempfile
import time

from bench.erasure import metric_sum
from bench.put_get import disk_ceiling_mb_s, process_cpu_s
from bench.report import write_results
from cluster_sim import ClusterError, LocalCluster
from nodectl.client import Client, FsckSummary

MIB = 1024 * 1024
REPLICAS = 3
OBJECT_MIB = 64
MIX_OBJECT_MIB = 16
MIX_POLICIES = [("replicas=3", {"replicas": 3}, 3), ("ec=4+2", {"ec": "4+2"}, 6)]
REBALANCE_NODES = 6  # ec=4+2 needs six distinct nodes
DISK_CEILING_MIB = 256
SETTINGS = {"repair.repair_bandwidth_bytes_per_s": "0"}
CLIENT_TIMEOUT_S = 600.0
UP_TIMEOUT_S = 120.0
# Puts stop once the victim node holds its target; this many times its fair share of objects
# without getting there means placement is badly skewed, and the run says so instead of filling
# the disk.
FAIR_SHARE_OBJECTS_FACTOR = 4
SETTLE_DEADLINE_S = 120.0  # every copy of what was put is stored
OUT_DEADLINE_S = 120.0  # local profile: DOWN in seconds, OUT 10 s after
REPAIR_DEADLINE_S = 900.0
REBALANCE_DEADLINE_S = 900.0
FSCK_POLL_INTERVAL_S = 0.2
METRICS_POLL_INTERVAL_S = 0.5


def copies_stored(cluster: LocalCluster) -> dict[str, int]:
    return {n: int(metric_sum(cluster, n, "ringstore_chunks_stored")) for n in cluster.running()}


def wait_copies(cluster: LocalCluster, expected: int, what: str) -> float:
    """Poll until the copies stored across running nodes add up to `expected`; seconds taken."""
    seen: dict[str, int] = {}

    def settled() -> bool:
        seen.clear()
        seen.update(copies_stored(cluster))
        return sum(seen.values()) == expected

    return cluster.wait_until(settled, timeout_s=SETTLE_DEADLINE_S, interval_s=METRICS_POLL_INTERVAL_S,
                              what=what, detail=lambda: f"copies per node {seen} (sum "
                                                        f"{sum(seen.values())}, want {expected})")


def repaired_totals(client: Client) -> dict[str, tuple[int, int]]:
    """node id -> (bytes_repaired_total, copies_repaired_total) of every node that answered."""
    status = client.repair_status()
    if status.unreachable:
        raise RuntimeError(f"repair status missing {len(status.unreachable)} nodes "
                           f"({'; '.join(status.unreachable)}); the totals would undercount, rerun")
    return {n.node_id: (n.bytes_repaired_total, n.copies_repaired_total) for n in status.nodes}


def added(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> tuple[int, int]:
    """(bytes, copies) the nodes in `after` wrote since `before` (a node new in `after` from 0)."""
    zero = (0, 0)
    return (sum(v[0] - before.get(n, zero)[0] for n, v in after.items()),
            sum(v[1] - before.get(n, zero)[1] for n, v in after.items()))


def fill_until(cluster: LocalCluster, client: Client, victim: str, target_bytes: int,
               objects_max: int) -> tuple[int, int]:
    """Put OBJECT_MIB objects under replicas=3 until `victim` stores target_bytes; returns
    (objects put, copies they make)."""
    copies = 0
    for index in range(objects_max):
        key = f"fill-{index}"
        client.put("repair", key, os.urandom(OBJECT_MIB * MIB), replicas=REPLICAS)
        copies += REPLICAS * len(client.stat("repair", key).chunks)
        if metric_sum(cluster, victim, "ringstore_stored_bytes") >= target_bytes:
            return index + 1, copies
    held = metric_sum(cluster, victim, "ringstore_stored_bytes")
    raise RuntimeError(f"{victim} holds {held / MIB:.0f} MiB after {objects_max} x {OBJECT_MIB} MiB "
                       f"objects, short of {target_bytes / MIB:.0f} MiB; placement is skewed, "
                       f"check `nodectl ring` or lower --size-mib")


def wait_fsck(cluster: LocalCluster, client: Client, what: str, *, timeout_s: float,
              misplaced_ok: bool, extra=lambda: True) -> tuple[FsckSummary, float]:
    """Poll fsck until every chunk is full (and none misplaced unless misplaced_ok) and `extra()`
    holds; returns the last summary and how long that fsck took."""
    last: list = []

    def clean() -> bool:
        t0 = time.monotonic()
        report = client.fsck()
        last[:] = [report.summary, time.monotonic() - t0, report.findings[:3]]
        summary = report.summary
        return (summary.chunks_full == summary.chunks_checked
                and (misplaced_ok or summary.chunks_misplaced == 0) and extra())

    cluster.wait_until(clean, timeout_s=timeout_s, interval_s=FSCK_POLL_INTERVAL_S, what=what,
                       detail=lambda: f"last fsck: {last[0] if last else None}; first findings: "
                                      f"{last[2] if last else []}")
    return last[0], last[1]


def bench_repair(root: pathlib.Path, nodes: int, size_mib: int, ceiling_mb_s: float) -> dict:
    target_bytes = size_mib * MIB // nodes
    objects_max = FAIR_SHARE_OBJECTS_FACTOR * math.ceil(size_mib / (REPLICAS * OBJECT_MIB)) + 1
    cluster = LocalCluster.up(root / "repair", nodes=nodes, settings=SETTINGS, timeout_s=UP_TIMEOUT_S)
    try:
        ids = sorted(cluster.nodes, key=lambda n: int(n.rsplit("-", 1)[1]))
        victim, survivors = ids[-1], ids[:-1]
        with cluster.client(cluster.nodes[ids[0]].address, timeout_s=CLIENT_TIMEOUT_S) as client:
            client.create_bucket("repair", replicas=REPLICAS)
            t0 = time.monotonic()
            objects, copies = fill_until(cluster, client, victim, target_bytes, objects_max)
            load_s = time.monotonic() - t0
            wait_copies(cluster, copies, f"all {copies} copies of {objects} objects to be stored")
            lost_bytes = int(metric_sum(cluster, victim, "ringstore_stored_bytes"))
            lost_copies = int(metric_sum(cluster, victim, "ringstore_chunks_stored"))
            before = repaired_totals(client)
            pids = [cluster.nodes[n].pid for n in survivors]

            killed_s = time.monotonic()
            cluster.kill(victim, "KILL")
            first_out: list[float] = []  # [monotonic s, survivors' CPU s] when a survivor first saw OUT

            def state_seen_by(observer: str) -> str:
                try:
                    return cluster.view(observer).get(victim, "absent")
                except ClusterError:  # a survivor busy past the status deadline: ask again next poll
                    return "no answer"

            def all_out() -> bool:
                states = [state_seen_by(n) for n in survivors]
                if not first_out and "OUT" in states:
                    first_out[:] = [time.monotonic(), sum(process_cpu_s(p) for p in pids)]
                return all(state == "OUT" for state in states)

            cluster.wait_until(all_out, timeout_s=OUT_DEADLINE_S, interval_s=0.1,
                               what=f"{', '.join(survivors)} to see {victim} OUT", detail=cluster.describe)
            all_out_s = time.monotonic()
            summary, fsck_s = wait_fsck(cluster, client, f"repair to restore full redundancy after {victim} "
                                        f"turned OUT", timeout_s=REPAIR_DEADLINE_S, misplaced_ok=True)
            full_s = time.monotonic()
            cpu_s = sum(process_cpu_s(p) for p in pids) - first_out[1]
            repaired_bytes, repaired_copies = added(before, repaired_totals(client))
    finally:
        cluster.down()
    repair_s = full_s - first_out[0]
    mb_s = repaired_bytes / repair_s / 1e6
    return {"victim": victim, "objects": objects, "object_mib": OBJECT_MIB, "load_s": load_s,
            "lost_bytes": lost_bytes, "lost_copies": lost_copies,
            "kill_to_first_out_s": first_out[0] - killed_s, "kill_to_all_out_s": all_out_s - killed_s,
            "repair_s": repair_s, "fsck_s": fsck_s, "chunks_checked": summary.chunks_checked,
            "chunks_misplaced_after": summary.chunks_misplaced,
            "bytes_repaired": repaired_bytes, "copies_repaired": repaired_copies,
            "repair_mb_s": mb_s, "repair_x_disk_ceiling": mb_s / ceiling_mb_s,
            "node_cpu_s": cpu_s, "node_cpu_s_per_mb": cpu_s / (repaired_bytes / 1e6) if repaired_bytes else None}


def bench_rebalance(root: pathlib.Path, mix_mib: int) -> dict:
    cluster = LocalCluster.up(root / "rebalance", nodes=REBALANCE_NODES, settings=SETTINGS,
                              timeout_s=UP_TIMEOUT_S)
    try:
        with cluster.client(cluster.nodes["node-1"].address, timeout_s=CLIENT_TIMEOUT_S) as client:
            client.create_bucket("mix")
            copies = 0
            objects = max(mix_mib // MIX_OBJECT_MIB, len(MIX_POLICIES))
            for index in range(objects):
                _, policy, per_chunk = MIX_POLICIES[index % len(MIX_POLICIES)]
                key = f"mix-{index}"
                client.put("mix", key, os.urandom(MIX_OBJECT_MIB * MIB), **policy)
                copies += per_chunk * len(client.stat("mix", key).chunks)
            wait_copies(cluster, copies, f"all {copies} copies of {objects} objects to be stored")
            before = repaired_totals(client)
            new = f"node-{REBALANCE_NODES + 1}"
            planned_add = client.plan_ring("add", new)

            t0 = time.monotonic()
            cluster.add_node(node_id=new)
            joined_s = time.monotonic() - t0
            spread: dict[str, int] = {}

            def settled() -> bool:
                spread.clear()
                spread.update(copies_stored(cluster))
                return spread.get(new, 0) > 0 and sum(spread.values()) == copies

            wait_fsck(cluster, client, f"rebalancing onto {new} to finish and surplus copies to be dropped",
                      timeout_s=REBALANCE_DEADLINE_S, misplaced_ok=False, extra=settled)
            seconds = time.monotonic() - t0
            moved_bytes, moved_copies = added(before, repaired_totals(client))
            drain = bench_drain(cluster, client, "node-2", copies)
    finally:
        cluster.down()
    return {"nodes_before": REBALANCE_NODES, "new_node": new, "mix_mib": objects * MIX_OBJECT_MIB,
            "objects": objects, "copies": copies, "copies_moved": moved_copies, "bytes_moved": moved_bytes,
            "planned_copies_moved": planned_add.copies_moved, "planned_bytes_moved": planned_add.bytes_moved,
            "moved_fraction": moved_copies / copies, "ideal_fraction": 1 / (REBALANCE_NODES + 1),
            "new_node_copies": spread[new], "new_node_fraction": spread[new] / copies,
            "copies_per_node": spread, "join_s": joined_s, "seconds": seconds, "drain": drain}


def bench_drain(cluster: LocalCluster, client: Client, victim: str, copies: int) -> dict:
    """Drain `victim`: plan, start, poll its own status until LEFT; moved copies against the plan."""
    planned = client.plan_ring("drain", victim)
    held = client.node_status(victim)
    before = repaired_totals(client)
    t0 = time.monotonic()
    client.drain_node(victim)
    cluster.wait_until(lambda: client.node_status(victim).member.state == "LEFT", timeout_s=REBALANCE_DEADLINE_S,
                       interval_s=METRICS_POLL_INTERVAL_S, what=f"{victim} to finish draining and turn LEFT")
    seconds = time.monotonic() - t0
    moved_bytes, moved_copies = added(before, repaired_totals(client))
    return {"node": victim, "held_copies": held.shares_stored, "held_bytes": held.bytes_stored,
            "planned_copies_moved": planned.copies_moved, "planned_bytes_moved": planned.bytes_moved,
            "copies_moved": moved_copies, "bytes_moved": moved_bytes, "copies": copies, "seconds": seconds,
            "mb_s": moved_bytes / 1e6 / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=6, help="nodes of the repair cluster (>= 4)")
    parser.add_argument("--size-mib", type=int, default=3000,
                        help="MiB of copies the repair cluster stores; the lost node holds 1/nodes")
    parser.add_argument("--mix-mib", type=int, default=256, help="MiB of objects put before a node joins")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()
    if args.nodes < REPLICAS + 1:
        parser.error(f"--nodes must be >= {REPLICAS + 1} so replicas={REPLICAS} can be restored after a "
                     f"loss, got {args.nodes}")
    if args.size_mib < args.nodes:
        parser.error(f"--size-mib must be >= --nodes ({args.nodes}), got {args.size_mib}")

    results: dict = {"nodes": args.nodes, "size_mib": args.size_mib}
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-") as tmp:
        results["disk_ceiling_mb_s"] = disk_ceiling_mb_s(tmp, DISK_CEILING_MIB)
        results["repair"] = bench_repair(pathlib.Path(tmp), args.nodes, args.size_mib,
                                         results["disk_ceiling_mb_s"])
        results["rebalance"] = bench_rebalance(pathlib.Path(tmp), args.mix_mib)

    r = results["repair"]
    print(f"disk ceiling (dd conv=fsync): {results['disk_ceiling_mb_s']:.0f} MB/s")
    print(f"repair: {args.nodes} nodes, replicas={REPLICAS}, {r['objects']} x {OBJECT_MIB} MiB objects; "
          f"{r['victim']} held {r['lost_bytes'] / MIB:.0f} MiB in {r['lost_copies']} copies, killed -9")
    print(f"  kill -> first survivor sees OUT {r['kill_to_first_out_s']:.1f} s, all see OUT "
          f"{r['kill_to_all_out_s']:.1f} s")
    print(f"  OUT -> fsck full: {r['repair_s']:.1f} s (one fsck takes {r['fsck_s']:.2f} s); repair wrote "
          f"{r['bytes_repaired'] / MIB:.0f} MiB in {r['copies_repaired']} copies")
    print(f"  {r['repair_mb_s']:.1f} MB/s = {r['repair_x_disk_ceiling']:.2f} x disk ceiling; survivors' CPU "
          f"{r['node_cpu_s']:.1f} s ({r['node_cpu_s_per_mb'] or 0:.4f} s/MB)")
    b = results["rebalance"]
    print(f"rebalance: {b['nodes_before']} nodes + {b['new_node']}, {b['objects']} x {MIX_OBJECT_MIB} MiB "
          f"(half replicas=3, half ec=4+2), {b['copies']} copies")
    print(f"  moved {b['copies_moved']} copies ({b['bytes_moved'] / MIB:.0f} MiB) = {b['moved_fraction']:.3f} "
          f"of all, ideal {b['ideal_fraction']:.3f}; {b['new_node']} ends with {b['new_node_copies']} "
          f"= {b['new_node_fraction']:.3f}")
    print(f"  ring plan add predicted {b['planned_copies_moved']} copies ({b['planned_bytes_moved'] / MIB:.0f} MiB)")
    print(f"  join {b['join_s']:.1f} s; join -> clean, nothing misplaced, surplus dropped {b['seconds']:.1f} s")
    d = b["drain"]
    print(f"drain {d['node']}: held {d['held_copies']} copies ({d['held_bytes'] / MIB:.0f} MiB); plan "
          f"{d['planned_copies_moved']} copies ({d['planned_bytes_moved'] / MIB:.0f} MiB); moved "
          f"{d['copies_moved']} copies ({d['bytes_moved'] / MIB:.0f} MiB) in {d['seconds']:.1f} s to LEFT "
          f"= {d['mb_s']:.1f} MB/s")
    write_results(results, "repair", args.json)


if __name__ == "__main__":
    main()
