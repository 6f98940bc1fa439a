"""How long a replaced disk takes to refill: seconds from its node's restart to a clean fsck.

    python -m bench.disk_replace [--nodes 5] [--objects 20] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`)
stores `--objects` objects of 6 MiB (two chunks each), alternately replicas=3 and ec=2+1. node-4 is
then killed -9, its data dir removed and the node started again under the same id, as when a disk is
replaced under the same host, after the placement records have aged past `ring_settle_s` (as they
would have long before a real replacement). The figure is the time from the restart until one fsck
finds every chunk full and at home, polled every 0.5 s for at most `--timeout-s`; a run that times
out reports how many chunks were still degraded (that is what happened before stores had an
identity: the chunks node-4 was first in ring order for were never refilled).
"""

from __future__ import annotations

import argparse
import pathlib
import random
import shutil
import tempfile
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster

MIB = 1024 * 1024
OBJECT_BYTES = 6 * MIB
REPLACED_NODE = "node-4"
# Longer than the local profile's ring_settle_s (2 s): the records are past the age a scan skips.
RECORDS_AGE_S = 3.0
POLL_S = 0.5


def run(nodes: int, objects: int, timeout_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-disk-replace-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes,
                                  settings={"gossip.repair_after_down_s": "600"})
        try:
            client = cluster.client(cluster.any_address(exclude=[REPLACED_NODE]), timeout_s=60.0)
            client.create_bucket("mix")
            rng = random.Random(1)
            for i in range(objects):
                policy = {"ec": (2, 1)} if i % 2 else {"replicas": 3}
                client.put("mix", f"obj-{i}", rng.randbytes(OBJECT_BYTES + i), **policy)
            time.sleep(RECORDS_AGE_S)
            cluster.kill(REPLACED_NODE)
            data_dir = pathlib.Path(cluster.nodes[REPLACED_NODE].data_dir)
            shutil.rmtree(data_dir)
            data_dir.mkdir()
            started = time.monotonic()
            cluster.restart(REPLACED_NODE)
            while True:
                report = client.fsck()
                summary = report.summary
                took_s = time.monotonic() - started
                if summary.chunks_full == summary.chunks_checked and summary.chunks_misplaced == 0:
                    return {"nodes": nodes, "objects": objects, "chunks": summary.chunks_checked,
                            "refilled": True, "seconds": took_s, "degraded": 0}
                if took_s > timeout_s:
                    return {"nodes": nodes, "objects": objects, "chunks": summary.chunks_checked,
                            "refilled": False, "seconds": took_s,
                            "degraded": summary.chunks_degraded + summary.chunks_unreadable}
                time.sleep(POLL_S)
        finally:
            cluster.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5, help="nodes of the cluster (>= 4)")
    parser.add_argument("--objects", type=int, default=20, help="objects of 6 MiB stored")
    parser.add_argument("--timeout-s", type=float, default=180.0, help="give up after this long")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()
    results = run(args.nodes, args.objects, args.timeout_s)
    if results["refilled"]:
        print(f"disk replace: {REPLACED_NODE} refilled, fsck clean over {results['chunks']} chunks "
              f"{results['seconds']:.1f} s after its restart")
    else:
        print(f"disk replace: NOT refilled after {results['seconds']:.0f} s: {results['degraded']} of "
              f"{results['chunks']} chunks below full redundancy")
    write_results(results, "disk_replace", args.json)


if __name__ == "__main__":
    main()
