"""Replication against erasure coding on one 6-node cluster: throughput, CPU, degraded reads, space.

    python -m bench.erasure [--nodes 6] [--big-mib 256] [--json PATH]

In one run: the machine's ceilings (dd with fsync, blake3, zfec 4+2 encode and decode on one and two
threads), then a `big-mib` object put and got under `replicas=3` and under `ec=4+2` (MB/s and CPU
seconds per MB, summed over this client and every node process), the physical bytes each policy
stores per logical byte (from `nodectl stat`), and the EC get again with two nodes killed (-9):
the holders of data shares 0 and 1 of the object's first chunk, so at least that chunk is rebuilt
from parity (the others lose whichever shares those two nodes hold for them). Prints a table,
writes JSON, and stops every process it started.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import pathlib
import tempfile
import time

import blake3

from bench.put_get import CpuMeter, disk_ceiling_mb_s, timed
from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from node.erasure import Geometry, decode, encode

MIB = 1024 * 1024
POLICIES = [("replicas=3", {"replicas": 3}), ("ec=4+2", {"ec": "4+2"})]
CEILING_WINDOW_S = 1.0


def cpu_ceilings() -> dict:
    """blake3 and zfec 4+2 throughput on 4 MiB chunks, one thread and two (both release the GIL).

    Decode rebuilds the chunk from shares 2..5, so two data shares come from parity: the most
    work a 4+2 read can need (a read that finds every data share decodes nothing).
    """
    chunk = os.urandom(4 * MIB)
    geometry = Geometry(4, 2)
    shares = encode(chunk, geometry)
    from_parity = {index: shares[index] for index in range(2, 6)}
    out = {}
    for name, fn in [("blake3", lambda: blake3.blake3(chunk).digest()),
                     ("zfec_4_2_encode", lambda: encode(chunk, geometry)),
                     ("zfec_4_2_decode", lambda: decode(from_parity, geometry, len(chunk)))]:
        for threads in (1, 2):
            out[f"{name}_{threads}t_mb_s"] = rate_mb_s(fn, len(chunk), threads)
    return out


def rate_mb_s(fn, size_bytes: int, threads: int) -> float:
    """MB/s of `threads` threads each calling fn() (which handles size_bytes) for CEILING_WINDOW_S.

    A fixed window rather than a fixed count: blake3 on 24 chunks took 0.02 s, short enough for one
    scheduler hiccup on a shared machine to move the figure by half.
    """
    deadline_s = time.perf_counter() + CEILING_WINDOW_S

    def worker(_: int) -> int:
        calls = 0
        while time.perf_counter() < deadline_s:
            fn()
            calls += 1
        return calls

    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(threads) as pool:
        calls = sum(pool.map(worker, range(threads)))
    return calls * size_bytes / (time.perf_counter() - t0) / 1e6


def metric_sum(cluster: LocalCluster, node_id: str, name: str) -> float:
    text = cluster.metrics_text(node_id)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=6)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()

    results: dict = {"nodes": args.nodes, "big_mib": args.big_mib}
    big = os.urandom(args.big_mib * MIB)
    logical_mb = len(big) / 1e6
    with tempfile.TemporaryDirectory(prefix="ringstore-bench-") as tmp:
        results["disk_ceiling_mb_s"] = disk_ceiling_mb_s(tmp, args.big_mib)
        results.update(cpu_ceilings())
        with LocalCluster.up(pathlib.Path(tmp, "cluster"), nodes=args.nodes) as cluster:
            meter = CpuMeter([n.pid for n in cluster.nodes.values()])
            ids = sorted(cluster.nodes)
            with cluster.client(cluster.nodes[ids[0]].address, timeout_s=600.0) as client:
                client.create_bucket("bench")
                for label, policy in POLICIES:
                    key = f"big-{label}"
                    wall, cpu = timed(meter, lambda: client.put("bench", key, big, **policy))
                    entry = {"put_mb_s": logical_mb / wall, "put_cpu_s_per_mb": cpu / logical_mb}
                    box: list[bytes] = []
                    wall, cpu = timed(meter, lambda: box.append(client.get_bytes("bench", key)))
                    assert box.pop() == big, f"{label}: object read back different"
                    entry.update(get_mb_s=logical_mb / wall, get_cpu_s_per_mb=cpu / logical_mb)
                    entry["physical_per_logical"] = client.stat("bench", key).physical_bytes / len(big)
                    results[label] = entry
                first = client.stat("bench", "big-ec=4+2").chunks[0]
            victims = [h.node_id for h in first.holders if h.share_index in (0, 1)]
            coordinator = next(n for n in ids if n not in victims)
            survivors = [n for n in ids if n not in victims]
            for node_id in victims:
                cluster.kill(node_id, "KILL")
            for node_id in victims:
                cluster.wait_state(node_id, "DOWN", observers=survivors, timeout_s=30)
            meter = CpuMeter([cluster.nodes[n].pid for n in survivors])
            decoded0 = metric_sum(cluster, coordinator, "ringstore_erasure_decode_bytes_total")
            with cluster.client(cluster.nodes[coordinator].address, timeout_s=600.0) as client:
                box = []
                wall, cpu = timed(meter, lambda: box.append(client.get_bytes("bench", "big-ec=4+2")))
                assert box.pop() == big, "degraded EC read back different"
            decoded = metric_sum(cluster, coordinator, "ringstore_erasure_decode_bytes_total") - decoded0
            results["ec=4+2 degraded"] = {"get_mb_s": logical_mb / wall, "get_cpu_s_per_mb": cpu / logical_mb,
                                          "nodes_down": victims, "decoded_fraction": decoded / len(big)}

    print(f"{args.nodes} nodes, one {args.big_mib} MiB object per policy; CPU summed over client and nodes")
    print(f"ceilings: dd conv=fsync {results['disk_ceiling_mb_s']:.0f} MB/s; blake3 "
          f"{results['blake3_1t_mb_s']:.0f} MB/s (1 thread) {results['blake3_2t_mb_s']:.0f} (2); zfec 4+2 encode "
          f"{results['zfec_4_2_encode_1t_mb_s']:.0f} MB/s (1 thread) {results['zfec_4_2_encode_2t_mb_s']:.0f} (2), "
          f"decode from parity {results['zfec_4_2_decode_1t_mb_s']:.0f} (1) "
          f"{results['zfec_4_2_decode_2t_mb_s']:.0f} (2)")
    print(f"{'policy':<20}{'put MB/s':>10}{'CPU s/MB':>10}{'get MB/s':>10}{'CPU s/MB':>10}{'phys/logical':>14}")
    for label, _ in POLICIES:
        r = results[label]
        print(f"{label:<20}{r['put_mb_s']:>10.1f}{r['put_cpu_s_per_mb']:>10.4f}{r['get_mb_s']:>10.1f}"
              f"{r['get_cpu_s_per_mb']:>10.4f}{r['physical_per_logical']:>14.2f}")
    r = results["ec=4+2 degraded"]
    print(f"{'ec=4+2, 2 down':<20}{'':>10}{'':>10}{r['get_mb_s']:>10.1f}{r['get_cpu_s_per_mb']:>10.4f}"
          f"{'':>14}  ({r['decoded_fraction']:.0%} of bytes decoded from parity; down: {', '.join(r['nodes_down'])})")
    write_results(results, "erasure", args.json)


if __name__ == "__main__":
    main()
