"""What the bucket register costs: latency of mb, a refused mb, ls and rb, and contended creates.

    python -m bench.buckets [--nodes 5] [--buckets 100] [--rounds 20] [--json PATH]

One cluster of real noded processes on loopback (started by cluster-sim, stopped in `finally`).
Through one node, one after another: `--buckets` creates, the same creates again (each refused
with ALREADY_EXISTS), as many `ls`, then as many removals; median and p90 of each. Then `--rounds`
rounds of one name created at once through every node (a barrier, one thread per node, each with
another policy), printing how long a round takes to answer everyone and how many were told
created (exactly one, or the register is broken). Bucket operations are rare and the numbers are
milliseconds, so this is about what a create and a removal cost next to before (one synced write
on the directory replicas; now a read, a promise and an accept), not about throughput.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import pathlib
import statistics
import tempfile
import threading
import time

from bench.report import write_results
from cluster_sim.cluster import LocalCluster
from nodectl.client import BucketInfo, Client
from nodectl.errors import AlreadyExists

POLICIES = ({"replicas": 1}, {"replicas": 2}, {"replicas": 3}, {"ec": "2+1"}, {"ec": "3+2"})


def _summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"n": len(ordered), "median_ms": statistics.median(ordered) * 1e3,
            "p90_ms": ordered[int(len(ordered) * 0.9)] * 1e3}


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _refused(client: Client, name: str) -> None:
    try:
        client.create_bucket(name)
    except AlreadyExists:
        return
    raise AssertionError(f"a second create of {name} was not refused")


def run(nodes: int, buckets: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-buckets-") as directory:
        cluster = LocalCluster.up(pathlib.Path(directory) / "cluster", nodes=nodes)
        clients = [cluster.client(a, timeout_s=60.0) for a in cluster.addresses()]
        try:
            one = clients[0]
            names = [f"bench-{i}" for i in range(buckets)]
            sequential = {
                "create": _summary([_timed(lambda n=n: one.create_bucket(n)) for n in names]),
                "refused create": _summary([_timed(lambda n=n: _refused(one, n)) for n in names]),
                "ls": _summary([_timed(one.list_buckets) for _ in names]),
                "remove": _summary([_timed(lambda n=n: one.delete_bucket(n)) for n in names]),
            }
            contended = []
            with cf.ThreadPoolExecutor(max_workers=len(clients)) as pool:
                for round_no in range(rounds):
                    barrier = threading.Barrier(len(clients))

                    def create(i: int, name: str = f"race-{round_no}") -> bool:
                        barrier.wait()
                        try:
                            return isinstance(clients[i].create_bucket(name, **POLICIES[i % len(POLICIES)]),
                                              BucketInfo)
                        except AlreadyExists:
                            return False

                    started = time.perf_counter()
                    told_created = sum(pool.map(create, range(len(clients))))
                    contended.append({"seconds": time.perf_counter() - started, "told_created": told_created})
        finally:
            for client in clients:
                client.close()
            cluster.down()
    return {"nodes": nodes, "buckets": buckets, "sequential": sequential,
            "contended": {**_summary([r["seconds"] for r in contended]),
                          "told_created": [r["told_created"] for r in contended]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5, help="nodes of the cluster (>= 3)")
    parser.add_argument("--buckets", type=int, default=100, help="buckets created, refused, listed and removed")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of one create per node at once")
    parser.add_argument("--json", default="", help="where to write results (default bench/results/...)")
    args = parser.parse_args()
    results = run(args.nodes, args.buckets, args.rounds)
    print(f"buckets: {args.nodes} nodes, {args.buckets} buckets, through one node")
    for what, row in results["sequential"].items():
        print(f"  {what:15s} median {row['median_ms']:6.1f} ms  p90 {row['p90_ms']:6.1f} ms")
    contended = results["contended"]
    print(f"  {args.nodes} creators of one name at once, {args.rounds} rounds: median "
          f"{contended['median_ms']:.1f} ms  p90 {contended['p90_ms']:.1f} ms to answer all; told created "
          f"per round: {sorted(set(contended['told_created']))}")
    write_results(results, "buckets", args.json)


if __name__ == "__main__":
    main()
