"""How fast `nodectl fsck` audits: chunks per second over many small objects on a local cluster.

    python -m bench.fsck [--nodes 5] [--objects 1000] [--runs 2] [--deep] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`)
stores `--objects` objects of 8 KiB (above the inline limit, so one chunk each), alternately
replicas=3 and ec=2+1, then runs fsck `--runs` times through one node and prints the time and the
chunks per second of each run. Small objects make the audit's per-chunk cost (one placement lookup
and the HasChunk probes) the whole cost, which is what grows with the size of a cluster's index.
With `--deep`, each run is `fsck --deep` (holders read every copy back through their scrub
throttle), which shows what reading and hashing in place costs per chunk.
"""

from __future__ import annotations

import argparse
import pathlib
import random
import tempfile
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster

OBJECT_BYTES = 8192


def run(nodes: int, objects: int, runs: int, deep: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-fsck-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        try:
            client = cluster.client(cluster.any_address(), timeout_s=60.0)
            client.create_bucket("audit")
            rng = random.Random(1)
            started = time.monotonic()
            for i in range(objects):
                policy = {"ec": (2, 1)} if i % 2 else {"replicas": 3}
                client.put("audit", f"k{i:07d}", rng.randbytes(OBJECT_BYTES), **policy)
            put_s = time.monotonic() - started
            audits = []
            for _ in range(runs):
                started = time.monotonic()
                report = client.fsck(deep=deep)
                took_s = time.monotonic() - started
                audits.append({"seconds": took_s, "chunks": report.summary.chunks_checked,
                               "chunks_per_s": report.summary.chunks_checked / took_s,
                               "chunks_full": report.summary.chunks_full, "findings": len(report.findings)})
        finally:
            cluster.down()
    return {"nodes": nodes, "objects": objects, "deep": deep, "put_s": put_s, "audits": audits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5, help="nodes of the cluster (>= 3)")
    parser.add_argument("--objects", type=int, default=1000, help="objects stored, one chunk each")
    parser.add_argument("--runs", type=int, default=2, help="fsck runs timed")
    parser.add_argument("--deep", action="store_true", help="time fsck --deep instead")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()
    results = run(args.nodes, args.objects, args.runs, args.deep)
    print(f"fsck{' --deep' if args.deep else ''}: {args.nodes} nodes, {args.objects} objects of {OBJECT_BYTES} B (half replicas=3, "
          f"half ec=2+1), stored in {results['put_s']:.1f} s")
    for audit in results["audits"]:
        print(f"  {audit['chunks']} chunks in {audit['seconds']:.2f} s = {audit['chunks_per_s']:.0f} chunks/s "
              f"({audit['chunks_full']} full, {audit['findings']} findings)")
    write_results(results, "fsck", args.json)


if __name__ == "__main__":
    main()
